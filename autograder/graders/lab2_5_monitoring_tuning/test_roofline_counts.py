"""Hidden grader: FLOPs and bytes of one decoder layer in one engine step (Lab 2.5, notebook 02).

Expectations are computed here from the counting rules stated in the exercise (integers only):
    W      = h*(nq*d) + 2*h*(nkv*d) + (nq*d)*h + 3*h*I          weights of q, k, v, o and gate/up/down
    flops  = 2*W*(num_seqs*new_tokens) + 4*(nq*d)*keys*num_seqs  keys = n*past + n*(n+1)/2 (causal)
    weight_bytes = W*dtype_bytes;  kv_bytes = num_seqs*2*(nkv*d)*context_len*dtype_bytes
"""
from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points

EXERCISES = ["roofline_counts"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30


def shape(name, h, nq, nkv, d, inter):
    return SimpleNamespace(name=name, hidden_size=h, num_attention_heads=nq, num_key_value_heads=nkv, head_dim=d,
                           intermediate_size=inter)


LLAMA2_7B = shape("llama-2-7b", 4096, 32, 32, 128, 11008)
LLAMA3_8B = shape("llama-3-8b", 4096, 32, 8, 128, 14336)
QWEN_05B = shape("qwen2.5-0.5b", 896, 14, 2, 64, 4864)   # head_dim * heads != hidden_size
TINY = shape("tiny-target", 256, 4, 2, 64, 512)
KEYS = ("flops", "weight_bytes", "kv_bytes", "bytes")


def expected(p, num_seqs, new_tokens, context_len, dtype_bytes=2):
    h, d = p.hidden_size, p.head_dim
    q, kv = p.num_attention_heads * d, p.num_key_value_heads * d
    w = h * q + 2 * h * kv + q * h + 3 * h * p.intermediate_size
    past = context_len - new_tokens
    keys = new_tokens * past + new_tokens * (new_tokens + 1) // 2
    flops = 2 * w * num_seqs * new_tokens + 4 * q * keys * num_seqs
    kvb = num_seqs * 2 * kv * context_len * dtype_bytes
    return {"flops": flops, "weight_bytes": w * dtype_bytes, "kv_bytes": kvb, "bytes": w * dtype_bytes + kvb}


def got(student, p, num_seqs, new_tokens, context_len, dtype_bytes=2):
    call = f"layer_flops_bytes({p.name}, {num_seqs}, {new_tokens}, {context_len}, dtype_bytes={dtype_bytes})"
    res = student.layer_flops_bytes(p, num_seqs, new_tokens, context_len, dtype_bytes=dtype_bytes)
    if not isinstance(res, dict) or not all(k in res for k in KEYS):
        fail_with(f"{call} should return a dict with keys {list(KEYS)}, got {type(res).__name__}: {str(res)[:80]}")
    return call, {k: as_int(res[k], f"{call}[{k!r}]") for k in KEYS}


def check(student, p, *args, **kw):
    call, res = got(student, p, *args, **kw)
    want = expected(p, *args, **kw)
    for k in KEYS:
        if res[k] != want[k]:
            fail_with(f"{call}[{k!r}] returned {res[k]}; expected {want[k]} (the counting rules: weights read once "
                      f"per step, 2 FLOPs per multiply-add, causal attention keys, K and V of every context token)")


@points(2)
def test_decode_llama2_reference(student):
    """a decode step of Llama-2-7B: 2 FLOPs per weight per token, weights and KV read once"""
    call, res = got(student, LLAMA2_7B, 1, 1, 1024)
    w = 4 * 4096 * 4096 + 3 * 4096 * 11008
    if res["weight_bytes"] != 2 * w:
        fail_with(f"{call}['weight_bytes'] returned {res['weight_bytes']}; expected {2 * w} (q, k, v, o: 4 x 4096 x "
                  f"4096 and gate, up, down: 3 x 4096 x 11008 weights, 2 bytes each)")
    if res["kv_bytes"] != 2 * 4096 * 1024 * 2:
        fail_with(f"{call}['kv_bytes'] returned {res['kv_bytes']}; expected {2 * 4096 * 1024 * 2} (K and V: 32 KV heads "
                  "x 128 dims x 1024 context tokens x 2 bytes)")
    if res["flops"] != 2 * w + 4 * 4096 * 1024:
        fail_with(f"{call}['flops'] returned {res['flops']}; expected {2 * w + 4 * 4096 * 1024} (2 x weights for one "
                  "token, plus QK^T and PV: 2 x 2 FLOPs x 32 heads x 128 dims x 1024 keys)")
    if res["bytes"] != res["weight_bytes"] + res["kv_bytes"]:
        fail_with(f"{call}['bytes'] is {res['bytes']}, not weight_bytes + kv_bytes")


@points(2)
def test_gqa_uses_kv_heads(student):
    """K/V projections and the KV cache are sized by the KV heads (GQA), queries by the query heads"""
    check(student, LLAMA3_8B, 1, 1, 4096)
    check(student, QWEN_05B, 3, 1, 100)
    check(student, TINY, 2, 5, 9, dtype_bytes=4)


@points(2)
def test_prefill_is_causal(student):
    """prefill counts causal attention: the i-th new token attends to past + i + 1 keys"""
    for p, n, ctx in [(TINY, 8, 8), (LLAMA3_8B, 512, 512), (TINY, 4, 10)]:
        check(student, p, 1, n, ctx)


@points(2)
@settings(max_examples=150, deadline=None)
@given(p=st.sampled_from([LLAMA2_7B, LLAMA3_8B, QWEN_05B, TINY]), num_seqs=st.integers(1, 256),
       new_tokens=st.integers(1, 600), extra=st.integers(0, 3000), dtype_bytes=st.sampled_from([1, 2, 4]))
def test_matches_counting_rules(student, p, num_seqs, new_tokens, extra, dtype_bytes):
    """every field follows the counting rules for any batch, chunk and context"""
    check(student, p, num_seqs, new_tokens, new_tokens + extra, dtype_bytes=dtype_bytes)


@points(1)
def test_batching_shares_weights(student):
    """decode intensity grows with the batch: the weights are read once for all sequences"""
    _, one = got(student, LLAMA3_8B, 1, 1, 512)
    _, many = got(student, LLAMA3_8B, 64, 1, 512)
    if many["weight_bytes"] != one["weight_bytes"]:
        fail_with(f"weight_bytes is {one['weight_bytes']} for 1 sequence but {many['weight_bytes']} for 64: one step "
                  "reads every weight once, whatever the batch")
    if many["flops"] != 64 * one["flops"]:
        fail_with(f"flops for 64 decode sequences ({many['flops']}) should be 64 x flops for one ({one['flops']})")


@points(1)
def test_rejects_impossible_steps(student):
    """impossible steps raise ValueError (no sequence, no new token, context shorter than the new tokens)"""
    for args in [(0, 1, 10), (1, 0, 10), (1, 20, 10), (-1, 1, 10)]:
        try:
            student.layer_flops_bytes(TINY, *args)
        except ValueError:
            continue
        except Exception as e:
            fail_with(f"layer_flops_bytes(tiny, {', '.join(map(str, args))}) raised {type(e).__name__}; expected "
                      "ValueError")
        fail_with(f"layer_flops_bytes(tiny, {', '.join(map(str, args))}) returned a result; expected ValueError")
