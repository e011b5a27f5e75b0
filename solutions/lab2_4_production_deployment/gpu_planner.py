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

# --- cell: gpu_planner ---
"""Plan the GPUs for serving a model: tensor-parallel degree, replicas, concurrency per replica.

`plan_deployment(preset, *, gpu_memory_gib, weight_dtype, context_len, concurrency, kv_dtype_bytes=2,
block_size=16, max_tensor_parallel=8)` returns a dict of plain ints, computed by these rules:

1. Candidate tensor-parallel degrees `tp`: 1, 2, 4, 8, ... (powers of two) up to max_tensor_parallel that
   divide BOTH preset.num_attention_heads and preset.num_key_value_heads (each GPU gets whole heads).
2. For a candidate `tp`, ONE GPU holds:
   * weights_per_gpu = ceil(weight_bytes(preset, weight_dtype) / tp)
   * activation_per_gpu = activation_bytes(preset, tp)
   * per sequence of `context_len` tokens, kv_per_seq_per_gpu = kv_cache_bytes(preset.num_layers,
     preset.num_key_value_heads // tp, preset.head_dim, ceil(context_len / block_size) * block_size,
     dtype_bytes=kv_dtype_bytes) (whole blocks; the KV heads are split across the ranks)
   * max_seqs_per_replica = (usable_bytes(gpu_memory_gib) - weights_per_gpu - activation_per_gpu)
     // kv_per_seq_per_gpu, or 0 when that free memory is negative.
3. The plan uses the SMALLEST candidate `tp` with max_seqs_per_replica >= 1 (a replica is `tp` GPUs).
   `ValueError` when no candidate fits (or for concurrency < 1 / context_len < 1).
4. replicas = ceil(concurrency / max_seqs_per_replica); gpus = replicas * tp.

Keys of the result: "tensor_parallel", "replicas", "gpus", "max_seqs_per_replica", "weights_per_gpu",
"activation_per_gpu", "kv_per_seq_per_gpu", "usable_per_gpu".
"""


def valid_tensor_parallel(preset, max_tensor_parallel=8):
    """The candidate tp degrees of rule 1, ascending."""
    out, tp = [], 1
    while tp <= max_tensor_parallel:
        if preset.num_attention_heads % tp == 0 and preset.num_key_value_heads % tp == 0:
            out.append(tp)
        tp *= 2
    return out


def plan_deployment(preset, *, gpu_memory_gib, weight_dtype, context_len, concurrency, kv_dtype_bytes=2,
                    block_size=16, max_tensor_parallel=8):
    if concurrency < 1 or context_len < 1:
        raise ValueError(f"concurrency and context_len must be >= 1, got {concurrency}, {context_len}")
    usable = usable_bytes(gpu_memory_gib)
    tokens = -(-context_len // block_size) * block_size
    for tp in valid_tensor_parallel(preset, max_tensor_parallel):
        weights = -(-weight_bytes(preset, weight_dtype) // tp)
        act = activation_bytes(preset, tp)
        kv = kv_cache_bytes(preset.num_layers, preset.num_key_value_heads // tp, preset.head_dim, tokens,
                            dtype_bytes=kv_dtype_bytes)
        free = usable - weights - act
        seqs = free // kv if free > 0 else 0
        if seqs >= 1:
            replicas = -(-concurrency // seqs)
            return {"tensor_parallel": tp, "replicas": replicas, "gpus": replicas * tp,
                    "max_seqs_per_replica": int(seqs), "weights_per_gpu": int(weights), "activation_per_gpu": int(act),
                    "kv_per_seq_per_gpu": int(kv), "usable_per_gpu": int(usable)}
    raise ValueError(f"{preset.name} ({weight_dtype}, context {context_len}) does not fit on "
                     f"{max_tensor_parallel} GPUs of {gpu_memory_gib} GiB")
