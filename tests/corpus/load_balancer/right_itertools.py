# per-replica sets of request ids; itertools.cycle for round robin; sorted() for the choices
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


import itertools


class Router:
    POLICIES = ("round_robin", "least_outstanding", "kv_aware")

    def __init__(self, num_replicas, policy, kv_blocks_per_replica=None):
        if num_replicas < 1:
            raise ValueError("num_replicas must be >= 1")
        if policy not in self.POLICIES:
            raise ValueError(f"unknown policy {policy!r}")
        if policy == "kv_aware" and kv_blocks_per_replica is None:
            raise ValueError("kv_aware needs kv_blocks_per_replica")
        self.policy, self.cap = policy, kv_blocks_per_replica
        self.replicas = [dict() for _ in range(num_replicas)]       # rid -> kv blocks
        self.cycle = itertools.cycle(range(num_replicas))

    def _least(self):
        return sorted(range(len(self.replicas)), key=lambda i: (len(self.replicas[i]), i))[0]

    def route(self, request):
        if self.policy == "round_robin":
            r = next(self.cycle)
        elif self.policy == "least_outstanding":
            r = self._least()
        else:
            free = self.free_blocks()
            ranked = sorted((i for i in range(len(free)) if free[i] >= request.kv_blocks),
                            key=lambda i: (-free[i], len(self.replicas[i]), i))
            r = ranked[0] if ranked else self._least()
        self.replicas[r][request.rid] = request.kv_blocks
        return r

    def done(self, rid):
        for reqs in self.replicas:
            if rid in reqs:
                del reqs[rid]
                return
        raise KeyError(rid)

    def outstanding(self):
        return [len(r) for r in self.replicas]

    def free_blocks(self):
        return [self.cap - sum(r.values()) for r in self.replicas]
