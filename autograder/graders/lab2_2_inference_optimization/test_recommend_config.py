"""Hidden grader: the serving-config recommender (Lab 2.2, notebook 04).

The notebook states five rules (plus validation) and gives the memory helpers of its setup cell
(`usable_bytes`, `weight_bytes`, `kv_cache_bytes`). Each test below grades one rule group on a table
of named scenarios whose expected settings are written out here; `RULES` is an independent
re-implementation of the stated rules, used for the random scenarios and to explain expectations.
A test compares only the fields its rule determines, so one wrong rule costs only its own points.
"""
from __future__ import annotations

import math

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points

EXERCISES = ["recommend_config"]
TIMEOUT_S = 60
TEST_TIMEOUT_S = 30
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
             deadline=None)

GIB = 2**30
BYTES = {"fp16": 2, "fp8": 1, "int8": 1, "int4-awq": 0.5}
FIELDS = ("weight_dtype", "tensor_parallel_size", "kv_cache_dtype", "max_num_seqs", "enable_prefix_caching",
          "speculative", "num_speculative_tokens")


# ---- the stated rules, written again here ----------------------------------------------------------

def usable(gib, tp):
    return tp * (int(gib * GIB) * 9 // 10)


def weights(params_b, dtype):
    return math.ceil(round(params_b * 1e9) * BYTES[dtype])


def kv_seq(s, dtype_bytes):
    return 2 * s["num_layers"] * s["num_kv_heads"] * s["head_dim"] * s["context_len"] * dtype_bytes


def rules(s):
    """Expected output for a valid scenario, or None when nothing fits (a ValueError is expected)."""
    q8 = "fp8" if s["fp8_supported"] else "int8"
    dtypes = {"strict": ["fp16"], "moderate": ["fp16", q8], "relaxed": ["fp16", q8, "int4-awq"]}[
        s["quality_tolerance"]]
    kv1 = kv_seq(s, 2)
    for dtype in dtypes:
        for tp in (1, 2, 4, 8):
            if tp <= s["num_gpus"] and weights(s["model_params_b"], dtype) + kv1 <= usable(s["gpu_memory_gib"], tp):
                free = usable(s["gpu_memory_gib"], tp) - weights(s["model_params_b"], dtype)
                fp8_kv = s["quality_tolerance"] != "strict" and s["concurrency"] * kv1 > free
                spec = s["has_draft_model"] and s["priority"] == "latency" and s["concurrency"] <= 4
                return {"weight_dtype": dtype, "tensor_parallel_size": tp,
                        "kv_cache_dtype": "fp8" if fp8_kv else "auto",
                        "max_num_seqs": min(256, free // kv_seq(s, 1 if fp8_kv else 2)),
                        "enable_prefix_caching": s["shared_prefix_fraction"] >= 0.2,
                        "speculative": spec, "num_speculative_tokens": (5 if s["concurrency"] == 1 else 3) if spec else 0}
    return None


# ---- the scenario table -------------------------------------------------------------------------------

LLAMA3_8B = dict(model_params_b=8.03, num_layers=32, num_kv_heads=8, head_dim=128)
LLAMA2_13B = dict(model_params_b=13.0, num_layers=40, num_kv_heads=40, head_dim=128)
LLAMA3_70B = dict(model_params_b=70.6, num_layers=80, num_kv_heads=8, head_dim=128)
MISTRAL_7B = dict(model_params_b=7.24, num_layers=32, num_kv_heads=8, head_dim=128)
QWEN_05B = dict(model_params_b=0.49, num_layers=24, num_kv_heads=2, head_dim=64)
WORKLOAD = dict(context_len=4096, concurrency=16, shared_prefix_fraction=0.0, priority="throughput",
                quality_tolerance="moderate", fp8_supported=True, has_draft_model=False)


def sc(name, model, gib, gpus, expect, **workload):
    return name, dict(gpu_memory_gib=gib, num_gpus=gpus, **model, **dict(WORKLOAD, **workload)), expect


# 2**32 parameters = 2**33 bytes in fp16; with 10 GiB GPUs usable_bytes(10, 1) = 9 * 2**30
EXACT = dict(model_params_b=4.294967296, num_layers=32, num_kv_heads=8, head_dim=128)   # kv of 1024 tokens: 2**27
EDGE = dict(model_params_b=4.563402752, num_layers=32, num_kv_heads=8, head_dim=128)    # 2 * 4563402752 + 2**29 = 9 * 2**30

TABLE = [
    sc("8B chat on one 80 GiB GPU, strict quality", LLAMA3_8B, 80, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=57,
            enable_prefix_caching=True, speculative=False, num_speculative_tokens=0),
       context_len=8192, concurrency=64, shared_prefix_fraction=0.6, quality_tolerance="strict", has_draft_model=True),
    sc("13B on one 24 GiB GPU without fp8, moderate quality", LLAMA2_13B, 24, 1,
       dict(weight_dtype="int8", tensor_parallel_size=1, kv_cache_dtype="fp8", max_num_seqs=6,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       concurrency=8, fp8_supported=False),
    sc("70B on four 80 GiB GPUs, strict, low-latency agent", LLAMA3_70B, 80, 4,
       dict(weight_dtype="fp16", tensor_parallel_size=2, kv_cache_dtype="auto", max_num_seqs=4,
            enable_prefix_caching=False, speculative=True, num_speculative_tokens=3),
       context_len=8192, concurrency=2, priority="latency", quality_tolerance="strict", has_draft_model=True),
    sc("70B on one 80 GiB GPU with fp8, relaxed", LLAMA3_70B, 80, 1,
       dict(weight_dtype="fp8", tensor_parallel_size=1, kv_cache_dtype="fp8", max_num_seqs=4,
            enable_prefix_caching=True, speculative=False, num_speculative_tokens=0),
       context_len=8192, shared_prefix_fraction=0.5, quality_tolerance="relaxed"),
    sc("70B on one 48 GiB GPU without fp8, relaxed", LLAMA3_70B, 48, 1,
       dict(weight_dtype="int4-awq", tensor_parallel_size=1, kv_cache_dtype="fp8", max_num_seqs=8,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       context_len=8192, quality_tolerance="relaxed", fp8_supported=False),
    sc("70B on two 48 GiB GPUs without fp8, moderate", LLAMA3_70B, 48, 2,
       dict(weight_dtype="int8", tensor_parallel_size=2, kv_cache_dtype="fp8", max_num_seqs=16,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       context_len=8192, fp8_supported=False),
    sc("70B on eight 24 GiB GPUs, strict: fp16 on 8 GPUs beats quantizing", LLAMA3_70B, 24, 8,
       dict(weight_dtype="fp16", tensor_parallel_size=8, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       context_len=8192, quality_tolerance="strict"),
    sc("70B on six 24 GiB GPUs, relaxed: tensor parallelism is a power of two", LLAMA3_70B, 24, 6,
       dict(weight_dtype="fp8", tensor_parallel_size=4, kv_cache_dtype="auto", max_num_seqs=8,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       context_len=8192, concurrency=4, quality_tolerance="relaxed"),
    sc("7B single-user assistant on one 24 GiB GPU", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=True, num_speculative_tokens=5),
       concurrency=1, shared_prefix_fraction=0.1, priority="latency", has_draft_model=True),
    sc("0.5B with thousands of sequences of room: capped at 256", QWEN_05B, 80, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=256,
            enable_prefix_caching=True, speculative=False, num_speculative_tokens=0),
       concurrency=512, shared_prefix_fraction=0.9),
    sc("8B chat, long system prompt, latency, batch of 8 (too many for speculation)", LLAMA3_8B, 40, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=42,
            enable_prefix_caching=True, speculative=False, num_speculative_tokens=0),
       context_len=4096, concurrency=8, shared_prefix_fraction=0.35, priority="latency", has_draft_model=True),
    # exact boundaries (all integers): weights + one sequence's KV == usable memory
    sc("rule 1 boundary: weights + one sequence of KV exactly equal usable_bytes(10, 1) (<= fits)", EDGE, 10, 2,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=1,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       concurrency=1, quality_tolerance="strict"),
    sc("rule 1 boundary: one parameter more no longer fits one GPU", dict(EDGE, model_params_b=4.563402753), 10, 2,
       dict(weight_dtype="fp16", tensor_parallel_size=2, kv_cache_dtype="auto", max_num_seqs=18,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       concurrency=1, quality_tolerance="strict"),
    sc("rule 2 boundary: 8 sequences of KV exactly fill the free memory", EXACT, 10, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=8,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       context_len=1024, concurrency=8),
    sc("rule 2 boundary: 9 sequences do not fit, fp8 KV", EXACT, 10, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="fp8", max_num_seqs=16,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       context_len=1024, concurrency=9),
    sc("rule 2: strict quality keeps the fp16 KV cache even when short", EXACT, 10, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=8,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       context_len=1024, concurrency=9, quality_tolerance="strict"),
    sc("rule 4 boundary: a shared-prefix fraction of exactly 0.2", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=True, speculative=False, num_speculative_tokens=0),
       concurrency=4, shared_prefix_fraction=0.2),
    sc("rule 4: a fraction of 0.19 is below the threshold", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       concurrency=4, shared_prefix_fraction=0.19),
    sc("rule 5 boundary: latency with a draft model at concurrency 4", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=True, num_speculative_tokens=3),
       concurrency=4, priority="latency", has_draft_model=True),
    sc("rule 5 boundary: concurrency 5 is too many for speculation", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       concurrency=5, priority="latency", has_draft_model=True),
    sc("rule 5: concurrency 2 uses gamma 3", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=True, num_speculative_tokens=3),
       concurrency=2, priority="latency", has_draft_model=True),
    sc("rule 5: no draft model, no speculation", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       concurrency=1, priority="latency", has_draft_model=False),
    sc("rule 5: throughput priority at batch 1, no speculation", MISTRAL_7B, 24, 1,
       dict(weight_dtype="fp16", tensor_parallel_size=1, kv_cache_dtype="auto", max_num_seqs=16,
            enable_prefix_caching=False, speculative=False, num_speculative_tokens=0),
       concurrency=1, priority="throughput", has_draft_model=True),
]
NO_FIT = [
    sc("70B on one 80 GiB GPU, strict: fp16 does not fit and quantization is not allowed", LLAMA3_70B, 80, 1,
       None, context_len=8192, quality_tolerance="strict"),
    sc("70B on one 24 GiB GPU even in int4", LLAMA3_70B, 24, 1, None, quality_tolerance="relaxed"),
]

GROUPS = {
    "rule 1 (weight precision and tensor parallelism)": ("weight_dtype", "tensor_parallel_size"),
    "rule 2 (KV cache dtype)": ("kv_cache_dtype",),
    "rule 3 (max_num_seqs)": ("max_num_seqs",),
    "rule 4 (prefix caching)": ("enable_prefix_caching",),
    "rule 5 (speculative decoding)": ("speculative", "num_speculative_tokens"),
}


def plain(field, value):
    """The student's value as a plain Python value of the field's type (None when it has the wrong type)."""
    if field in ("tensor_parallel_size", "max_num_seqs", "num_speculative_tokens"):
        if isinstance(value, bool):
            return None
        try:
            if int(value) == value:
                return int(value)
        except Exception:  # noqa: BLE001
            return None
        return None
    if field in ("enable_prefix_caching", "speculative"):
        return bool(value) if type(value).__name__ in ("bool", "bool_") else None
    return str(value) if isinstance(value, str) else None


def explain(s, field):
    q8 = "fp8" if s["fp8_supported"] else "int8"
    kv1 = kv_seq(s, 2)
    if field in ("weight_dtype", "tensor_parallel_size"):
        tries = []
        for dtype in {"strict": ["fp16"], "moderate": ["fp16", q8], "relaxed": ["fp16", q8, "int4-awq"]}[
                s["quality_tolerance"]]:
            for tp in (1, 2, 4, 8):
                if tp <= s["num_gpus"]:
                    w = weights(s["model_params_b"], dtype)
                    tries.append(f"{dtype}/tp{tp}: {w} + {kv1} {'<=' if w + kv1 <= usable(s['gpu_memory_gib'], tp) else '>'} "
                                 f"{usable(s['gpu_memory_gib'], tp)}")
        return "rule 1 tries precisions from best quality down, each on 1, 2, 4, 8 GPUs: " + "; ".join(tries[:6])
    exp = rules(s)
    free = usable(s["gpu_memory_gib"], exp["tensor_parallel_size"]) - weights(s["model_params_b"], exp["weight_dtype"])
    if field == "kv_cache_dtype":
        return (f"rule 2: concurrency * KV of one sequence = {s['concurrency']} * {kv1} = {s['concurrency'] * kv1}, "
                f"free memory after weights = {free}, quality_tolerance={s['quality_tolerance']!r}")
    if field == "max_num_seqs":
        per = kv_seq(s, 1 if exp["kv_cache_dtype"] == "fp8" else 2)
        return f"rule 3: min(256, free // KV per sequence) = min(256, {free} // {per})"
    if field == "enable_prefix_caching":
        return f"rule 4: shared_prefix_fraction={s['shared_prefix_fraction']} compared with 0.2 (>= enables)"
    return (f"rule 5: has_draft_model={s['has_draft_model']}, priority={s['priority']!r}, "
            f"concurrency={s['concurrency']} (speculation needs concurrency <= 4; gamma 5 at 1, else 3)")


def call(student, name, s):
    try:
        out = student.recommend_config(dict(s))
    except Exception as exc:  # noqa: BLE001
        fail_with(f"scenario '{name}': recommend_config raised {type(exc).__name__}: {exc} "
                  f"(expected a config; scenario {s})")
    if not isinstance(out, dict):
        fail_with(f"scenario '{name}': recommend_config returned {type(out).__name__}, expected a dict")
    return out


def check_group(student, group, table=TABLE):
    fields = GROUPS[group]
    for name, s, expect in table:
        assert rules(s) == expect, f"grader table inconsistent for {name}: {rules(s)}"
        out = call(student, name, s)
        for field in fields:
            if field not in out:
                fail_with(f"scenario '{name}': the result has no key {field!r} (keys: {sorted(out)})")
            got = plain(field, out[field])
            if got is None or got != expect[field]:
                fail_with(f"scenario '{name}': {field} = {out[field]!r}, expected {expect[field]!r}. "
                          f"{explain(s, field)}")


@points(1)
def test_output_schema(student):
    """the result is a dict with the seven fields, with the right types"""
    name, s, _ = TABLE[0]
    out = call(student, name, s)
    missing = [f for f in FIELDS if f not in out]
    if missing:
        fail_with(f"scenario '{name}': the result lacks {missing}; expected keys {list(FIELDS)}")
    for f in FIELDS:
        if plain(f, out[f]) is None:
            fail_with(f"scenario '{name}': {f} = {out[f]!r} ({type(out[f]).__name__}) has the wrong type")


@points(4)
def test_rule1_precision_and_tensor_parallelism(student):
    """rule 1: the highest allowed precision that fits (weights + one sequence's KV <= usable), on the fewest GPUs"""
    check_group(student, "rule 1 (weight precision and tensor parallelism)",
                [t for t in TABLE if "boundary" not in t[0]])


@points(2)
def test_rule1_boundaries_and_no_fit(student):
    """rule 1: 'fits' includes equality, and a model that fits nowhere raises ValueError"""
    check_group(student, "rule 1 (weight precision and tensor parallelism)",
                [t for t in TABLE if t[0].startswith("rule 1")])
    for name, s, _ in NO_FIT:
        assert rules(s) is None
        try:
            out = student.recommend_config(dict(s))
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"scenario '{name}': raised {type(exc).__name__}, expected ValueError (nothing fits)")
        fail_with(f"scenario '{name}': returned {out!r}, expected ValueError: {explain(s, 'weight_dtype')}")


@points(2)
def test_rule2_kv_cache_dtype(student):
    """rule 2: fp8 KV cache when concurrency * KV per sequence exceeds the free memory, unless quality is strict"""
    check_group(student, "rule 2 (KV cache dtype)")


@points(3)
def test_rule3_max_num_seqs(student):
    """rule 3: max_num_seqs = min(256, free memory // KV of one full-length sequence in the chosen KV dtype)"""
    check_group(student, "rule 3 (max_num_seqs)")


@points(2)
def test_rule4_prefix_caching(student):
    """rule 4: prefix caching on when shared_prefix_fraction >= 0.2"""
    check_group(student, "rule 4 (prefix caching)")


@points(3)
def test_rule5_speculative(student):
    """rule 5: speculative decoding with a draft, latency priority and concurrency <= 4; gamma 5 at 1, else 3"""
    check_group(student, "rule 5 (speculative decoding)")


presets = st.sampled_from([LLAMA3_8B, LLAMA2_13B, LLAMA3_70B, MISTRAL_7B, QWEN_05B,
                           dict(model_params_b=32.5, num_layers=64, num_kv_heads=8, head_dim=128)])
scenarios = st.builds(
    lambda model, gib, gpus, ctx, conc, frac, prio, qual, fp8, draft: dict(
        gpu_memory_gib=gib, num_gpus=gpus, **model, context_len=ctx, concurrency=conc,
        shared_prefix_fraction=frac, priority=prio, quality_tolerance=qual, fp8_supported=fp8, has_draft_model=draft),
    presets, st.sampled_from([16, 24, 40, 48, 80, 96, 141]), st.integers(1, 8),
    st.sampled_from([512, 2048, 4096, 8192, 32768, 131072]), st.integers(1, 600),
    st.sampled_from([0.0, 0.05, 0.19, 0.2, 0.21, 0.5, 1.0]), st.sampled_from(["latency", "throughput"]),
    st.sampled_from(["strict", "moderate", "relaxed"]), st.booleans(), st.booleans())


@points(2)
@settings(max_examples=150, **QUICK)
@given(scenarios)
def test_random_scenarios_follow_all_rules(student, s):
    """random scenarios: every field follows rules 1-5 (or ValueError when nothing fits)"""
    exp = rules(s)
    if exp is None:
        try:
            out = student.recommend_config(dict(s))
        except ValueError:
            return
        except Exception as exc:  # noqa: BLE001
            fail_with(f"scenario {s}: raised {type(exc).__name__}, expected ValueError (nothing fits)")
        fail_with(f"scenario {s}: returned {out!r}, expected ValueError: {explain(s, 'weight_dtype')}")
    out = call(student, "random", s)
    for field in FIELDS:
        got = plain(field, out.get(field))
        if got is None or got != exp[field]:
            fail_with(f"scenario {s}: {field} = {out.get(field)!r}, expected {exp[field]!r}. {explain(s, field)}")


VALID = TABLE[0][1]


@points(2)
def test_invalid_scenarios_raise_value_error(student):
    """a missing key, a wrong type or an out-of-range value raises ValueError"""
    bad = [("not a dict", [("gpu_memory_gib", 80)])]
    for key in VALID:
        bad.append((f"without {key!r}", {k: v for k, v in VALID.items() if k != key}))
    for key, value in [("gpu_memory_gib", 0), ("gpu_memory_gib", -80), ("gpu_memory_gib", "80"),
                       ("gpu_memory_gib", float("nan")), ("num_gpus", 0), ("num_gpus", 1.5),
                       ("model_params_b", 0), ("model_params_b", -7), ("num_layers", 0), ("num_kv_heads", 0),
                       ("head_dim", 0), ("context_len", 0), ("context_len", -4096), ("concurrency", 0),
                       ("concurrency", 2.5), ("shared_prefix_fraction", 1.5), ("shared_prefix_fraction", -0.1),
                       ("priority", "fast"), ("priority", None), ("quality_tolerance", "medium"),
                       ("quality_tolerance", "STRICT"), ("fp8_supported", "yes"), ("has_draft_model", 1),
                       ("num_gpus", True)]:
        bad.append((f"{key}={value!r}", dict(VALID, **{key: value})))
    for what, s in bad:
        try:
            out = student.recommend_config(s)
        except ValueError as exc:
            if not str(exc).strip():
                fail_with(f"recommend_config with {what} raised ValueError without a message; say what is wrong")
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"recommend_config with {what} raised {type(exc).__name__}: {exc}; expected ValueError")
        fail_with(f"recommend_config with {what} returned {out!r}; expected ValueError")
