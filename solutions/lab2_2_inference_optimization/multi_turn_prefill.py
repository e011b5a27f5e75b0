# Generated from source/lab2_2_inference_optimization/01-KV_Cache_Optimization.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb01 ---
# Shared by the exercises of this notebook: the standard library and trusted course code only.
import math
from collections import OrderedDict

# Lab 2.1 parts: the paged block manager that prefix caching extends (01) and the KV cache size formula
# (02-Basic_Inference): the course's reference once Lab 2.1 is published (and always when graded), your own
# Lab 2.1 solutions (notebooks/lab2_1_vllm_deployment/) before that.
from labkit.earlier_labs import earlier_part

BlockManager, OutOfBlocksError = earlier_part("lab2_1_vllm_deployment", "block_manager",
                                              "BlockManager", "OutOfBlocksError")
kv_cache_bytes = earlier_part("lab2_1_vllm_deployment", "kv_cache_size", "kv_cache_bytes")

# --- cell: multi_turn_prefill ---
def multi_turn_prefill(turns, block_size, prefix_caching=True) -> list[int]:
    """Prompt tokens the engine has to COMPUTE (prefill) in each turn of a chat.

    `turns` is a list of (user_tokens, reply_tokens): turn t sends the whole conversation so far
    (every earlier user message and reply) followed by its own user_tokens new tokens as the prompt,
    then generates reply_tokens tokens. Without prefix caching every prompt is computed from scratch.
    With it, the KV that turn t-1 computed -- its prompt and its reply except the reply's last token,
    which was sampled but never fed back to the model -- sits in the cache in FULL blocks of
    `block_size` tokens, and turn t reuses those blocks (assume nothing is evicted).
    Raises ValueError if block_size < 1, or any user_tokens or reply_tokens < 1.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    computed, history, kv_computed = [], 0, 0
    for user_tokens, reply_tokens in turns:
        if user_tokens < 1 or reply_tokens < 1:
            raise ValueError(f"every turn needs >= 1 user and >= 1 reply token, got {(user_tokens, reply_tokens)}")
        prompt = history + user_tokens
        cached = (kv_computed // block_size) * block_size if prefix_caching else 0
        computed.append(prompt - cached)
        history = prompt + reply_tokens
        kv_computed = history - 1          # the last reply token was never fed to the model
    return computed
