# Generated from source/lab2_4_production_deployment/01-Architecture_Design.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab24_nb01 ---
# Shared by the exercises of this notebook: plain Python (no torch, no model). The memory helpers below
# ARE the planner's arithmetic: use them, so that "fits" means exactly the same thing everywhere.
import math

from labkit.earlier_labs import earlier_part

# the Lab 2.1 formula: the course's reference once Lab 2.1 is published (and when graded), else your own
kv_cache_bytes = earlier_part("lab2_1_vllm_deployment", "kv_cache_size", "kv_cache_bytes")

GIB = 2**30
BYTES_PER_PARAM = {"fp16": 2, "bf16": 2, "fp8": 1, "int8": 1, "int4": 0.5}
MAX_NUM_BATCHED_TOKENS = 8192   # tokens one forward pass may process (a prefill chunk): sizes activations
ACT_DTYPE_BYTES = 2             # activations are kept in fp16/bf16


def usable_bytes(gpu_memory_gib):
    """Bytes the engine may use on ONE GPU: 90 % of it (vLLM's default gpu_memory_utilization), an integer."""
    return int(gpu_memory_gib * GIB) * 9 // 10


def weight_bytes(preset, weight_dtype):
    """Bytes of ALL the weights of `preset` (a labkit ModelPreset) stored as `weight_dtype`."""
    return math.ceil(preset.params() * BYTES_PER_PARAM[weight_dtype])


def activation_bytes(preset, tensor_parallel):
    """Peak activation memory of ONE GPU for one forward pass of MAX_NUM_BATCHED_TOKENS tokens.

    The course's simplified estimate: per token, the residual stream and its normalised copy
    (2 x hidden_size), the MLP's gate and up outputs (2 x intermediate_size, split across the
    tensor-parallel ranks) and the logits (vocab_size, split across the ranks), in ACT_DTYPE_BYTES.
    """
    per_token = (2 * preset.hidden_size + 2 * preset.intermediate_size // tensor_parallel
                 + preset.vocab_size // tensor_parallel)
    return MAX_NUM_BATCHED_TOKENS * per_token * ACT_DTYPE_BYTES


class RequestInfo:
    """What a router knows about a request when it arrives: its id and the KV blocks it will need."""

    def __init__(self, rid, kv_blocks):
        self.rid, self.kv_blocks = rid, kv_blocks

    def __repr__(self):
        return f"RequestInfo({self.rid!r}, kv_blocks={self.kv_blocks})"

# --- cell: load_balancer ---
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
