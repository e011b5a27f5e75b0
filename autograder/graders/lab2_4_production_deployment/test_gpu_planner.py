"""Hidden grader: the GPU resource planner (Lab 2.4, notebook 01).

Expected plans are computed here from the rules of the exercise's docstring, written out from the
preset's shape (parameter count from first principles, KV bytes from 2 x layers x heads x head_dim),
for every preset of labkit.models.PRESETS and a grid of GPUs, precisions, contexts and concurrencies.
"""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points
from labkit.models import PRESETS

EXERCISES = ["gpu_planner"]
TIMEOUT_S = 90

GIB = 2**30
BPP = {"fp16": 2, "bf16": 2, "fp8": 1, "int8": 1, "int4": 0.5}
KEYS = ("tensor_parallel", "replicas", "gpus", "max_seqs_per_replica", "weights_per_gpu", "activation_per_gpu",
        "kv_per_seq_per_gpu", "usable_per_gpu")


def n_params(p):
    h, d = p.hidden_size, p.head_dim
    q, kv = p.num_attention_heads * d, p.num_key_value_heads * d
    attn = 2 * h * q + 2 * h * kv + ((q + 2 * kv) if p.family == "qwen2" else 0)
    layer = attn + 3 * h * p.intermediate_size + 2 * h
    return p.vocab_size * h * (1 if p.tie_word_embeddings else 2) + p.num_layers * layer + h


def expected(p, gib, dtype, ctx, conc, kvb=2, bs=16, max_tp=8):
    usable = int(gib * GIB) * 9 // 10
    tokens = math.ceil(ctx / bs) * bs
    tp = 1
    while tp <= max_tp:
        if p.num_attention_heads % tp == 0 and p.num_key_value_heads % tp == 0:
            w = math.ceil(math.ceil(n_params(p) * BPP[dtype]) / tp)
            act = 8192 * (2 * p.hidden_size + 2 * p.intermediate_size // tp + p.vocab_size // tp) * 2
            kv = 2 * p.num_layers * (p.num_key_value_heads // tp) * p.head_dim * tokens * kvb
            free = usable - w - act
            seqs = free // kv if free > 0 else 0
            if seqs >= 1:
                rep = math.ceil(conc / seqs)
                return dict(tensor_parallel=tp, replicas=rep, gpus=rep * tp, max_seqs_per_replica=seqs,
                            weights_per_gpu=w, activation_per_gpu=act, kv_per_seq_per_gpu=kv, usable_per_gpu=usable)
        tp *= 2
    return None


def call(student, name, gib, dtype, ctx, conc, **kw):
    args = f"PRESETS[{name!r}], gpu_memory_gib={gib}, weight_dtype={dtype!r}, context_len={ctx}, concurrency={conc}"
    if kw:
        args += ", " + ", ".join(f"{k}={v}" for k, v in kw.items())
    return f"plan_deployment({args})", student.plan_deployment(PRESETS[name], gpu_memory_gib=gib, weight_dtype=dtype,
                                                                context_len=ctx, concurrency=conc, **kw)


def check_plan(student, name, gib, dtype, ctx, conc, keys=KEYS, **kw):
    want = expected(PRESETS[name], gib, dtype, ctx, conc, **{k: v for k, v in
                                                            (("kvb", kw.get("kv_dtype_bytes", 2)),
                                                             ("bs", kw.get("block_size", 16)),
                                                             ("max_tp", kw.get("max_tensor_parallel", 8)))})
    assert want is not None
    text, got = call(student, name, gib, dtype, ctx, conc, **kw)
    if not isinstance(got, dict):
        fail_with(f"{text} returned {type(got).__name__}; expected a dict")
    for k in keys:
        if k not in got:
            fail_with(f"{text} has no key {k!r}")
        v = as_int(got[k], f"{text}[{k!r}]")
        if v != want[k]:
            fail_with(f"{text}[{k!r}] is {v}; expected {want[k]} (the full expected plan: {want})")


GRID = [(name, gib, dtype, ctx, conc)
        for name in ("llama-2-7b", "llama-3-8b", "mistral-7b", "qwen2.5-7b", "qwen2.5-0.5b")
        for gib, dtype in ((24, "fp16"), (80, "fp16"), (16, "int4"), (40, "fp8"))
        for ctx, conc in ((4096, 64), (1000, 7), (8192, 1))]


@points(3)
def test_memory_terms_per_gpu(student):
    """weights, activation, KV per sequence and usable bytes per GPU follow the rules (single-GPU plans)"""
    for name, gib, dtype, ctx, conc in GRID:
        want = expected(PRESETS[name], gib, dtype, ctx, conc)
        if want and want["tensor_parallel"] == 1:
            check_plan(student, name, gib, dtype, ctx, conc,
                       keys=("usable_per_gpu", "weights_per_gpu", "activation_per_gpu", "kv_per_seq_per_gpu"))


@points(3)
def test_concurrency_replicas_and_gpus(student):
    """max_seqs_per_replica, replicas and gpus for 7-8B models on 16-80 GiB GPUs"""
    for name, gib, dtype, ctx, conc in GRID:
        if expected(PRESETS[name], gib, dtype, ctx, conc):
            check_plan(student, name, gib, dtype, ctx, conc)


@points(3)
def test_tensor_parallel_for_large_models(student):
    """70B-class models get the smallest power-of-two tp that divides the heads and leaves room for a sequence"""
    cases = [("llama-3-70b", 80, "fp16", 4096, 64), ("llama-3-70b", 40, "fp16", 4096, 64),
             ("llama-3-70b", 24, "fp16", 2048, 16), ("llama-2-70b", 80, "fp8", 8192, 100),
             ("qwen2.5-72b", 80, "fp16", 32768, 8), ("qwen2.5-72b", 48, "int4", 4096, 200),
             ("llama-2-13b", 24, "fp16", 4096, 32), ("llama-2-13b", 16, "fp16", 2048, 8)]
    for case in cases:
        check_plan(student, *case)


@points(2)
def test_head_divisibility(student):
    """tp must divide both the attention heads and the KV heads (qwen2.5-7b: 28 and 4 heads, at most tp=4)"""
    tps = student.valid_tensor_parallel(PRESETS["qwen2.5-7b"])
    if [as_int(t, "tp") for t in tps] != [1, 2, 4]:
        fail_with(f"valid_tensor_parallel(PRESETS['qwen2.5-7b']) is {tps}; 28 query heads and 4 KV heads allow "
                  f"[1, 2, 4]")
    for name, want in (("llama-2-13b", [1, 2, 4, 8]), ("qwen2.5-0.5b", [1, 2]), ("llama-3-70b", [1, 2, 4, 8]),
                       ("tiny-draft", [1])):
        got = [as_int(t, "tp") for t in student.valid_tensor_parallel(PRESETS[name])]
        if got != want:
            fail_with(f"valid_tensor_parallel(PRESETS[{name!r}]) is {got}; expected {want}")
    got = [as_int(t, "tp") for t in student.valid_tensor_parallel(PRESETS["llama-3-70b"], 16)]
    if got != [1, 2, 4, 8]:
        fail_with(f"valid_tensor_parallel(PRESETS['llama-3-70b'], 16) is {got}; 8 KV heads allow at most tp=8")
    check_plan(student, "qwen2.5-7b", 8, "fp16", 4096, 4)          # needs tp > 1 on 8 GiB GPUs


@points(1)
def test_does_not_fit(student):
    """ValueError when no allowed tp leaves room for one sequence, and for concurrency/context < 1"""
    for name, gib, dtype, ctx, conc, kw in (("llama-3-70b", 16, "fp16", 4096, 1, {}),
                                             ("qwen2.5-7b", 4, "fp16", 4096, 1, {}),
                                             ("llama-3-70b", 80, "fp16", 4096, 1, {"max_tensor_parallel": 1}),
                                             ("llama-3-8b", 80, "fp16", 4096, 0, {}),
                                             ("llama-3-8b", 80, "fp16", 0, 4, {})):
        try:
            text, got = call(student, name, gib, dtype, ctx, conc, **kw)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"plan_deployment({name}, {gib} GiB, {dtype}, context {ctx}, concurrency {conc}, {kw}) raised "
                      f"{type(exc).__name__}; expected ValueError")
        fail_with(f"{text} returned {got}; expected ValueError")


@points(2)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(name=st.sampled_from(sorted(k for k in PRESETS if not k.startswith("tiny"))),
       gib=st.sampled_from([16, 24, 40, 48, 80, 141]), dtype=st.sampled_from(sorted(BPP)),
       ctx=st.integers(1, 40000), conc=st.integers(1, 500), kvb=st.sampled_from([1, 2]),
       bs=st.sampled_from([8, 16, 32]))
def test_any_configuration(student, name, gib, dtype, ctx, conc, kvb, bs):
    """any preset, GPU, precision, context, concurrency, KV dtype and block size"""
    want = expected(PRESETS[name], gib, dtype, ctx, conc, kvb=kvb, bs=bs)
    kw = {"kv_dtype_bytes": kvb, "block_size": bs}
    if want is None:
        try:
            text, got = call(student, name, gib, dtype, ctx, conc, **kw)
        except ValueError:
            return
        fail_with(f"{text} returned {got}; nothing fits: expected ValueError")
    check_plan(student, name, gib, dtype, ctx, conc, **kw)
