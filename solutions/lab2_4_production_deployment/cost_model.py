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

# --- cell: cost_model ---
"""Cost per million output tokens, and the cheapest way to serve a demand.

`cost_per_million_tokens(tokens_per_s, gpus, usd_per_gpu_hour, utilization=1.0)`: a replica of `gpus`
GPUs that produces `tokens_per_s` tokens per second while busy, and is busy a fraction `utilization`
(0 < utilization <= 1) of the time it is paid for, costs
    usd_per_gpu_hour * gpus / (tokens_per_s * utilization * 3600) * 1_000_000   dollars per 1M tokens.
ValueError when tokens_per_s <= 0, gpus < 1, usd_per_gpu_hour < 0 or utilization outside (0, 1].

`cheapest_option(options, demand_tokens_per_s, utilization=1.0)`: `options` is a list of dicts with keys
"name", "tokens_per_s" (of one replica), "gpus" (per replica) and "usd_per_gpu_hour". For each option,
replicas = ceil(demand_tokens_per_s / (tokens_per_s * utilization)) (at least 1), and
usd_per_hour = replicas * gpus * usd_per_gpu_hour. Returns a dict {"name", "replicas", "usd_per_hour"}
of the option with the lowest usd_per_hour; ties go to the option listed first. ValueError for an empty
list or demand_tokens_per_s <= 0.
"""


def cost_per_million_tokens(tokens_per_s, gpus, usd_per_gpu_hour, utilization=1.0):
    if tokens_per_s <= 0 or gpus < 1 or usd_per_gpu_hour < 0 or not 0 < utilization <= 1:
        raise ValueError("need tokens_per_s > 0, gpus >= 1, usd_per_gpu_hour >= 0, 0 < utilization <= 1")
    return usd_per_gpu_hour * gpus / (tokens_per_s * utilization * 3600) * 1_000_000


def cheapest_option(options, demand_tokens_per_s, utilization=1.0):
    if not options or demand_tokens_per_s <= 0:
        raise ValueError("need at least one option and a positive demand")
    best = None
    for opt in options:
        replicas = max(1, math.ceil(demand_tokens_per_s / (opt["tokens_per_s"] * utilization)))
        usd = replicas * opt["gpus"] * opt["usd_per_gpu_hour"]
        if best is None or usd < best["usd_per_hour"]:
            best = {"name": opt["name"], "replicas": replicas, "usd_per_hour": usd}
    return best
