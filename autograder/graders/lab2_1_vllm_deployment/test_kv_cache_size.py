"""Hidden grader: the KV cache size formula and the paged concurrency bound (Lab 2.1, notebook 02).

Expectations are computed here from the definitions in the exercise (integers only):
    kv_cache_bytes      = 2 * layers * kv_heads * head_dim * tokens * batch * dtype_bytes
    kv_bytes_per_token  = kv_cache_bytes(layers, num_key_value_heads, head_dim, 1, dtype_bytes=...)
    max_concurrent_seqs = memory // (ceil(tokens / block_size) * kv_cache_bytes(..., block_size, ...))
"""
from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points

EXERCISES = ["kv_cache_size"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30

MiB, GiB = 2 ** 20, 2 ** 30

# Real shapes (from each model's Hugging Face config.json); several have fewer KV heads than query heads.
PRESETS = {
    "llama-2-7b": SimpleNamespace(name="llama-2-7b", num_layers=32, hidden_size=4096, num_attention_heads=32,
                                  num_key_value_heads=32, head_dim=128),
    "llama-3-8b": SimpleNamespace(name="llama-3-8b", num_layers=32, hidden_size=4096, num_attention_heads=32,
                                  num_key_value_heads=8, head_dim=128),
    "mistral-7b": SimpleNamespace(name="mistral-7b", num_layers=32, hidden_size=4096, num_attention_heads=32,
                                  num_key_value_heads=8, head_dim=128),
    "qwen2.5-7b": SimpleNamespace(name="qwen2.5-7b", num_layers=28, hidden_size=3584, num_attention_heads=28,
                                  num_key_value_heads=4, head_dim=128),
    "llama-2-70b": SimpleNamespace(name="llama-2-70b", num_layers=80, hidden_size=8192, num_attention_heads=64,
                                   num_key_value_heads=8, head_dim=128),
    "falcon-7b-like MQA": SimpleNamespace(name="falcon-7b-like MQA", num_layers=32, hidden_size=4544,
                                          num_attention_heads=71, num_key_value_heads=1, head_dim=64),
}


def expected_bytes(layers, kv_heads, head_dim, tokens, batch=1, dtype_bytes=2):
    return 2 * layers * kv_heads * head_dim * tokens * batch * dtype_bytes


def expected_seqs(memory, layers, kv_heads, head_dim, tokens, dtype_bytes=2, block_size=16):
    blocks = -(-tokens // block_size)
    return memory // (blocks * expected_bytes(layers, kv_heads, head_dim, block_size, 1, dtype_bytes))


def call(name, *args, **kwargs):
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def kv_bytes(student, *args, **kwargs) -> int:
    return as_int(student.kv_cache_bytes(*args, **kwargs), call("kv_cache_bytes", *args, **kwargs))


def seqs(student, *args, **kwargs) -> int:
    return as_int(student.max_concurrent_seqs(*args, **kwargs), call("max_concurrent_seqs", *args, **kwargs))


@points(1)
def test_llama2_reference_values(student):
    """kv_cache_bytes gives the textbook Llama-2-7B numbers"""
    got = kv_bytes(student, 32, 32, 128, 1)
    if got != 512 * 1024:
        fail_with(f"kv_cache_bytes(32, 32, 128, 1) (one Llama-2-7B token, fp16) returned {got}; expected "
                  f"524288 bytes = 0.5 MiB (2 for K and V x 32 layers x 32 KV heads x 128 x 2 bytes)")
    got = kv_bytes(student, 32, 32, 128, 4096)
    if got != 2 * GiB:
        fail_with(f"kv_cache_bytes(32, 32, 128, 4096) returned {got}; expected {2 * GiB} (2 GiB for a 4096-token "
                  "Llama-2-7B sequence)")
    got = kv_bytes(student, 32, 32, 128, 4096, batch_size=8, dtype_bytes=1)
    if got != 8 * GiB:
        fail_with(f"kv_cache_bytes(32, 32, 128, 4096, batch_size=8, dtype_bytes=1) returned {got}; expected "
                  f"{8 * GiB} (8 sequences with an 8-bit KV cache)")


@points(1)
@settings(max_examples=200, deadline=None)
@given(layers=st.integers(1, 128), kv_heads=st.integers(1, 128), head_dim=st.integers(1, 512),
       tokens=st.integers(0, 1 << 20), batch=st.integers(1, 256), dtype_bytes=st.sampled_from([1, 2, 4]))
def test_kv_cache_bytes_formula(student, layers, kv_heads, head_dim, tokens, batch, dtype_bytes):
    """kv_cache_bytes = 2 x layers x kv_heads x head_dim x tokens x batch x dtype_bytes, as an int"""
    got = kv_bytes(student, layers, kv_heads, head_dim, tokens, batch_size=batch, dtype_bytes=dtype_bytes)
    want = expected_bytes(layers, kv_heads, head_dim, tokens, batch, dtype_bytes)
    if got != want:
        fail_with(f"{call('kv_cache_bytes', layers, kv_heads, head_dim, tokens, batch_size=batch, dtype_bytes=dtype_bytes)}"
                  f" returned {got}; expected {want}")
    default = kv_bytes(student, layers, kv_heads, head_dim, tokens)
    if default != expected_bytes(layers, kv_heads, head_dim, tokens):
        fail_with(f"{call('kv_cache_bytes', layers, kv_heads, head_dim, tokens)} returned {default}; expected "
                  f"{expected_bytes(layers, kv_heads, head_dim, tokens)} (defaults: batch_size=1, dtype_bytes=2)")


@points(2)
def test_per_token_uses_kv_heads(student):
    """kv_bytes_per_token caches only the KV heads (GQA / MQA), not the query heads"""
    for p in PRESETS.values():
        for dtype_bytes in (2, 1):
            got = as_int(student.kv_bytes_per_token(p, dtype_bytes=dtype_bytes),
                         f"kv_bytes_per_token(<{p.name}>, dtype_bytes={dtype_bytes})")
            want = expected_bytes(p.num_layers, p.num_key_value_heads, p.head_dim, 1, 1, dtype_bytes)
            if got == expected_bytes(p.num_layers, p.num_attention_heads, p.head_dim, 1, 1, dtype_bytes) != want:
                fail_with(f"kv_bytes_per_token(<{p.name}: {p.num_attention_heads} query heads, "
                          f"{p.num_key_value_heads} KV heads>, dtype_bytes={dtype_bytes}) returned {got}: that counts "
                          f"the query heads. Only the {p.num_key_value_heads} KV heads are cached; expected {want}")
            if got != want:
                fail_with(f"kv_bytes_per_token(<{p.name}: {p.num_layers} layers, {p.num_key_value_heads} KV heads, "
                          f"head_dim {p.head_dim}>, dtype_bytes={dtype_bytes}) returned {got}; expected {want}")


@points(2)
@settings(max_examples=200, deadline=None)
@given(memory=st.integers(0, 1 << 40), layers=st.integers(1, 96), kv_heads=st.integers(1, 64),
       head_dim=st.sampled_from([32, 64, 80, 96, 128, 256]), tokens=st.integers(1, 40000),
       dtype_bytes=st.sampled_from([1, 2, 4]), block_size=st.sampled_from([1, 8, 16, 32, 128]))
def test_max_concurrent_seqs_whole_blocks(student, memory, layers, kv_heads, head_dim, tokens, dtype_bytes,
                                          block_size):
    """max_concurrent_seqs counts whole blocks per sequence and rounds the number of sequences down"""
    got = seqs(student, memory, layers, kv_heads, head_dim, tokens, dtype_bytes=dtype_bytes, block_size=block_size)
    want = expected_seqs(memory, layers, kv_heads, head_dim, tokens, dtype_bytes, block_size)
    if got != want:
        blocks = -(-tokens // block_size)
        per_block = expected_bytes(layers, kv_heads, head_dim, block_size, 1, dtype_bytes)
        fail_with(f"{call('max_concurrent_seqs', memory, layers, kv_heads, head_dim, tokens, dtype_bytes=dtype_bytes, block_size=block_size)}"
                  f" returned {got}; expected {want}: each sequence holds ceil({tokens}/{block_size}) = {blocks} "
                  f"block(s) of {per_block} bytes, and {memory} // {blocks * per_block} = {want}")


@points(1)
def test_max_concurrent_seqs_boundaries(student):
    """block rounding and budget boundaries: exactly full, one byte short, one token into a new block"""
    per_block = expected_bytes(32, 8, 128, 16)                    # Llama-3-8B, fp16, 16-token blocks
    cases = [
        ((10 * 2 * per_block, 32, 8, 128, 32), {}, 10, "10 sequences of exactly 2 blocks fit exactly"),
        ((10 * 2 * per_block - 1, 32, 8, 128, 32), {}, 9, "one byte short of 10 sequences"),
        ((10 * 2 * per_block, 32, 8, 128, 33), {}, 6, "33 tokens need 3 blocks of 16"),
        ((10 * 2 * per_block, 32, 8, 128, 1), {}, 20, "a 1-token sequence still owns a whole block"),
        ((per_block - 1, 32, 8, 128, 1), {}, 0, "less than one block fits no sequence"),
        ((0, 32, 8, 128, 16), {}, 0, "an empty budget fits no sequence"),
        ((GiB, 4, 2, 64, 512), {"block_size": 128}, 1024, "the tiny model: 1 GiB, 512 tokens, 128-token blocks"),
        ((GiB, 4, 2, 64, 513), {"block_size": 128}, 819, "513 tokens need 5 blocks of 128"),
    ]
    for args, kwargs, want, why in cases:
        got = seqs(student, *args, **kwargs)
        if got != want:
            fail_with(f"{call('max_concurrent_seqs', *args, **kwargs)} returned {got}; expected {want} ({why})")


BAD_KV = [
    ((0, 8, 128, 16), {}, "num_layers=0"), ((32, 0, 128, 16), {}, "num_kv_heads=0"),
    ((32, 8, 0, 16), {}, "head_dim=0"), ((32, 8, 128, -1), {}, "num_tokens=-1"),
    ((32, 8, 128, 16), {"batch_size": 0}, "batch_size=0"), ((32, 8, 128, 16), {"dtype_bytes": 0}, "dtype_bytes=0"),
    ((-32, 8, 128, 16), {}, "num_layers=-32"), ((32, -8, 128, 16), {}, "num_kv_heads=-8"),
]
BAD_SEQS = [
    ((-1, 32, 8, 128, 16), {}, "memory_bytes=-1"), ((GiB, 0, 8, 128, 16), {}, "num_layers=0"),
    ((GiB, 32, 0, 128, 16), {}, "num_kv_heads=0"), ((GiB, 32, 8, 0, 16), {}, "head_dim=0"),
    ((GiB, 32, 8, 128, 0), {}, "tokens_per_seq=0"), ((GiB, 32, 8, 128, 16), {"block_size": 0}, "block_size=0"),
    ((GiB, 32, 8, 128, 16), {"dtype_bytes": 0}, "dtype_bytes=0"), ((GiB, 32, 8, 128, -5), {}, "tokens_per_seq=-5"),
]


@points(1)
def test_rejects_invalid_arguments(student):
    """non-positive sizes raise ValueError (kv_cache_bytes and max_concurrent_seqs)"""
    for fn, cases in (("kv_cache_bytes", BAD_KV), ("max_concurrent_seqs", BAD_SEQS)):
        for args, kwargs, what in cases:
            text = call(fn, *args, **kwargs)
            try:
                result = getattr(student, fn)(*args, **kwargs)
            except ValueError:
                continue
            except Exception as exc:  # noqa: BLE001
                fail_with(f"{text} raised {type(exc).__name__}; expected ValueError ({what} is invalid)")
            fail_with(f"{text} returned {result!r}; expected ValueError ({what} is invalid)")
