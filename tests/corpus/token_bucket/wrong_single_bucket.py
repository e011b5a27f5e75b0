# one global bucket shared by every key
"""Token-bucket rate limiting, one bucket per API key.

Every key has its own bucket of at most `capacity` tokens (the burst). A key seen for the first time
starts with a full bucket. Tokens flow back continuously at `refill_per_s` per second of `clock()`
time (never above `capacity`). `allow(key, cost)` takes `cost` tokens and returns True when the bucket
holds at least `cost` tokens; otherwise it returns False and takes nothing. `available(key)` is the
current number of tokens; `retry_after(key, cost)` the seconds until `allow(key, cost)` would succeed
(0.0 when it would succeed now). `ValueError` for capacity <= 0, refill_per_s <= 0, and for a cost that
is <= 0 or larger than `capacity` (it could never be granted). All methods are safe to call from many
threads at once: no interleaving may grant more than capacity + refill_per_s * elapsed tokens per key.
`clock` is any monotonic function returning seconds (tests inject a fake one).
"""


class TokenBucketLimiter:
    def __init__(self, capacity: float, refill_per_s: float, clock=time.monotonic):
        if capacity <= 0 or refill_per_s <= 0:
            raise ValueError(f"capacity and refill_per_s must be positive, got {capacity}, {refill_per_s}")
        self.capacity, self.refill_per_s, self.clock = capacity, refill_per_s, clock
        self._buckets = {}            # key -> [tokens, last refill time]
        self._lock = threading.Lock()

    def _refill(self, key):
        """Helper (use it or not): the key's bucket [tokens, last time] brought up to date; call with the lock held."""
        now = self.clock()
        key = "all"
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [float(self.capacity), now]
        else:
            elapsed = max(0.0, now - bucket[1])
            bucket[0] = min(float(self.capacity), bucket[0] + elapsed * self.refill_per_s)
            bucket[1] = now
        return bucket

    def _check_cost(self, cost):
        """Helper (use it or not): ValueError unless 0 < cost <= capacity."""
        if not 0 < cost <= self.capacity:
            raise ValueError(f"cost must be in (0, capacity={self.capacity}], got {cost}")

    def allow(self, key, cost: float = 1.0) -> bool:
        self._check_cost(cost)
        with self._lock:
            bucket = self._refill(key)
            if bucket[0] >= cost:
                bucket[0] -= cost
                return True
            return False

    def available(self, key) -> float:
        with self._lock:
            return self._refill(key)[0]

    def retry_after(self, key, cost: float = 1.0) -> float:
        self._check_cost(cost)
        with self._lock:
            missing = cost - self._refill(key)[0]
        return max(0.0, missing / self.refill_per_s)
