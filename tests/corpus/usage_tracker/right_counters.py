# one collections.Counter per key behind a lock
import collections


class UsageTracker:
    ### BEGIN SOLUTION
    FIELDS = ("requests", "prompt_tokens", "completion_tokens", "total_tokens")

    def __init__(self):
        self._lock = threading.Lock()
        self._by_key = collections.defaultdict(collections.Counter)

    def record(self, api_key, prompt_tokens, completion_tokens):
        p, c = int(prompt_tokens), int(completion_tokens)
        if p < 0 or c < 0:
            raise ValueError("token counts must not be negative")
        usage = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        with self._lock:
            self._by_key[api_key].update(requests=1, **usage)
        return usage

    def totals(self, api_key):
        with self._lock:
            c = self._by_key.get(api_key, collections.Counter())
            return {f: int(c[f]) for f in self.FIELDS}

    def snapshot(self):
        with self._lock:
            keys = list(self._by_key)
        return {k: self.totals(k) for k in keys}
    ### END SOLUTION
