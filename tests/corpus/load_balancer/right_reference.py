# the reference implementation
"""Load-balancing policies for N engine replicas.

`Router(num_replicas, policy, kv_blocks_per_replica=None)` with policy one of:

* "round_robin": replicas 0, 1, 2, ..., N-1, 0, 1, ... in turn, whatever their load.
* "least_outstanding": the replica with the fewest outstanding requests (routed, not yet done);
  ties go to the lowest index.
* "kv_aware": among replicas whose FREE KV blocks (kv_blocks_per_replica minus the kv_blocks of its
  outstanding requests) are >= request.kv_blocks, the one with the most free blocks (ties: fewest
  outstanding, then lowest index); when no replica has room, fall back to "least_outstanding".
  Needs kv_blocks_per_replica.

`route(request)` (a RequestInfo) returns the chosen replica index and records the request as
outstanding there; `done(rid)` marks it finished (KeyError for an unknown or finished rid);
`outstanding()` returns the list of outstanding counts per replica; `free_blocks()` the list of free KV
blocks per replica (only for "kv_aware", may be negative after a fallback). ValueError for
num_replicas < 1, an unknown policy, or "kv_aware" without kv_blocks_per_replica.
"""


class Router:
    POLICIES = ("round_robin", "least_outstanding", "kv_aware")

    def __init__(self, num_replicas, policy, kv_blocks_per_replica=None):
        if num_replicas < 1 or policy not in self.POLICIES:
            raise ValueError(f"need num_replicas >= 1 and a policy in {self.POLICIES}")
        if policy == "kv_aware" and kv_blocks_per_replica is None:
            raise ValueError("kv_aware needs kv_blocks_per_replica")
        self.n, self.policy, self.capacity = num_replicas, policy, kv_blocks_per_replica
        self._next = 0
        self._count = [0] * num_replicas
        self._used = [0] * num_replicas
        self._where = {}            # rid -> (replica, kv_blocks)

    def route(self, request) -> int:
        if self.policy == "round_robin":
            r = self._next
            self._next = (self._next + 1) % self.n
        else:
            r = min(range(self.n), key=lambda i: (self._count[i], i))
            if self.policy == "kv_aware":
                free = self.free_blocks()
                fits = [i for i in range(self.n) if free[i] >= request.kv_blocks]
                if fits:
                    r = min(fits, key=lambda i: (-free[i], self._count[i], i))
        self._count[r] += 1
        self._used[r] += request.kv_blocks
        self._where[request.rid] = (r, request.kv_blocks)
        return r

    def done(self, rid) -> None:
        r, blocks = self._where.pop(rid)
        self._count[r] -= 1
        self._used[r] -= blocks

    def outstanding(self) -> list:
        return list(self._count)

    def free_blocks(self) -> list:
        return [self.capacity - u for u in self._used]
