"""Correctness checks on the device. Each check has two halves:

* ``run(ctx) -> metrics`` runs in the check process, next to the student's parts, and only measures;
* ``judge(metrics, settings) -> [Outcome]`` runs in the parent and decides, from the measurements
  and the tolerances of ``thresholds.toml``, what passed.

================================  ===============================================================
``greedy_paged``                  the engine built from the student's block manager, KV sizing and
                                  scheduler generates greedily what transformers would (continuous
                                  batching, chunked prefill, preemption), and frees every block
``greedy_prefix_cache``           the same with the student's prefix cache on; it must also hit
``sampling_filters``              temperature / top-k / top-p on device tensors, and in the engine
``speculative_distribution``      ``verify_draft`` keeps the target's distribution (chi-square test
                                  per position); ``verify_greedy`` keeps the right prefix
``speculative_engine``            the engine with a draft model: greedy output still transformers',
                                  drafts accepted, no leaked blocks
``quantization_bounds``           Lab 2.2's ``group_int4``: ``dequantize_int4_groupwise(quantize_int4_
                                  groupwise(w))`` within half an INT4 step of every weight; lossless
                                  ``pack_int4`` / ``unpack_int4`` on the device
================================  ===============================================================
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable

import torch

from .workload import (greedy_margins, load_draft, load_target, logprob_errors, mixed_requests, run_requests,
                       run_to_completion, torch_dtype)


@dataclass
class Outcome:
    """One line of the report."""
    name: str
    kind: str                      # "submission", "correctness" or "performance"
    status: str                    # "passed", "failed", "blocked" or "skipped"
    message: str = ""
    measured: float | None = None
    threshold: float | None = None
    better: str = ""               # "higher" or "lower": which side of the threshold passes
    points: float = 0.0
    max_points: float = 0.0
    seconds: float = 0.0
    details: dict = field(default_factory=dict)
    output_tail: str = ""


@dataclass(frozen=True)
class CheckSpec:
    name: str
    kind: str
    uses: tuple[str, ...]          # the exercises whose student version the check loads
    run: Callable                  # (Context) -> metrics, in the check process
    judge: Callable                # (metrics, settings) -> list[Outcome], in the parent
    entries: tuple[str, ...] = ()  # report lines it produces (default: its name)
    summary: str = ""

    @property
    def entry_names(self) -> tuple[str, ...]:
        return self.entries or (self.name,)


class Context:
    """What a check sees in the check process: settings, device, the parts, the models (lazily)."""

    def __init__(self, settings: dict, parts, extras: dict):
        self.settings = settings
        self.device = torch.device(settings["device"])
        self.dtype = torch_dtype(settings["dtype"])
        self.seed = settings.get("seed", 0)
        self.parts = parts          # EngineParts: the student's where submitted, else the reference
        self.extras = extras        # student names that are not engine parts (quantization)
        self._target = None

    def target(self):
        if self._target is None:
            self._target = load_target(self.settings)
        return self._target

    @staticmethod
    def reference_parts():
        from labkit.engine import reference_parts
        return reference_parts()

    def engine(self, parts=None, **kwargs):
        from labkit.engine import LLMEngine
        return LLMEngine(self.target(), parts=parts or self.parts, device=str(self.device), dtype=self.dtype,
                         max_model_len=self.settings.get("max_model_len"), seed=self.seed, **kwargs)

    def greedy_requests(self, n: int | None = None):
        s = self.settings["greedy"]
        return mixed_requests(n or s["num_requests"], self.target().config.vocab_size, s["max_prompt"],
                              s["max_output"], s["shared_prefixes"], seed=self.seed)


def _outcome(spec_name: str, problems: list[str], ok_message: str, **kw) -> Outcome:
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        return Outcome(spec_name, "correctness", "failed", problems[0] + more, **kw)
    return Outcome(spec_name, "correctness", "passed", ok_message, **kw)


def _engine_problems(label: str, m: dict, requests_lengths: list[int], max_margin: float) -> list[str]:
    """Problems of one engine run: wrong lengths, leaked blocks, tokens that are not transformers' argmax."""
    problems = []
    for i, got in m["wrong_lengths"]:
        problems.append(f"[{label}] request {i} produced {got} tokens; it asked for {requests_lengths[i]}")
    if m["leaked_blocks"]:
        problems.append(f"[{label}] {m['leaked_blocks']} KV blocks were still allocated after every request "
                        "had finished (blocks leak)")
    if m["max_margin"] > max_margin:
        w = m["worst"]
        problems.append(
            f"[{label}] request {w['request']} ({w['prompt_tokens']}-token prompt), output token {w['position']}: "
            f"the engine produced {w['engine_token']} where transformers' argmax on the same prefix is "
            f"{w['transformers_token']} ({w['margin']:.3g} logit standard deviations below it; tolerance "
            f"{max_margin:g})")
    return problems


def _engine_metrics(engine, target, requests, outputs) -> dict:
    stats = engine.stats()
    return {**greedy_margins(target, requests, outputs),
            "wrong_lengths": [(i, len(o)) for i, (o, (_, n)) in enumerate(zip(outputs, requests)) if len(o) != n],
            "leaked_blocks": stats["num_blocks"] - stats["num_free_blocks"],
            "preemptions": stats["num_preemptions"], "steps": stats["num_steps"],
            "prefix_cache_hit_rate": stats["prefix_cache_hit_rate"],
            "spec_acceptance_rate": stats.get("spec_acceptance_rate"),
            "spec_proposed": stats.get("spec_proposed")}


# ==================================================================================== greedy (paged engine)
def _run_greedy(ctx: Context, prefix_caching: bool) -> dict:
    from labkit.engine import SamplingParams
    s = ctx.settings["greedy"]
    requests = ctx.greedy_requests()
    configs = {}
    for name, kwargs in s["configs"].items():
        engine = ctx.engine(enable_prefix_caching=prefix_caching, **kwargs)
        outputs = run_requests(engine, requests)
        configs[name] = {"engine": kwargs, **_engine_metrics(engine, ctx.target(), requests, outputs)}
    # Parallel sampling (n > 1): the prompt's blocks are forked and copied on write. Sampled tokens
    # have no "right" value, but their log-probabilities must be transformers' on the same prefix.
    n = s["parallel_samples"]
    params = [SamplingParams(n=n, temperature=1.0, seed=i, max_tokens=m, ignore_eos=True, logprobs=0)
              for i, (_, m) in enumerate(requests)]
    engine = ctx.engine(enable_prefix_caching=prefix_caching, **s["configs"]["continuous"])
    outputs = run_to_completion(engine, requests, params)
    stats = engine.stats()
    parallel = {**logprob_errors(ctx.target(), requests, outputs), "n": n,
                "leaked_blocks": stats["num_blocks"] - stats["num_free_blocks"],
                "copies_on_write": stats["num_copy_on_write"],
                "wrong_lengths": [(i, [len(c.token_ids) for c in o.outputs]) for i, (o, (_, m))
                                  in enumerate(zip(outputs, requests)) if any(len(c.token_ids) != m for c in o.outputs)]}
    return {"configs": configs, "parallel_sampling": parallel, "requested_lengths": [m for _, m in requests]}


def _parallel_problems(m: dict, tol: float) -> list[str]:
    label = f"parallel sampling, n={m['n']}"
    problems = [f"[{label}] request {i} produced {got} tokens per sample" for i, got in m["wrong_lengths"]]
    if m["leaked_blocks"]:
        problems.append(f"[{label}] {m['leaked_blocks']} KV blocks were still allocated after every request had "
                        "finished (blocks leak)")
    if m["max_logprob_error"] > tol:
        w = m["worst"]
        problems.append(f"[{label}] request {w['request']}, sample {w['sample']}, output token {w['position']}: the "
                        f"engine gives token {w['token']} log-probability {w['engine_logprob']:.4f}, transformers "
                        f"{w['transformers_logprob']:.4f} on the same prefix (tolerance {tol:g}): the samples share "
                        "their prompt's KV blocks, and each must write only to blocks of its own (copy-on-write)")
    return problems


def _judge_greedy(name: str, metrics: dict, settings: dict, prefix_caching: bool) -> list[Outcome]:
    s = settings["greedy"]
    problems = []
    for label, m in metrics["configs"].items():
        problems += _engine_problems(label, m, metrics["requested_lengths"], s["max_margin"])
        if prefix_caching and m["prefix_cache_hit_rate"] < s["min_prefix_hit_rate"]:
            problems.append(f"[{label}] prefix-cache hit rate {m['prefix_cache_hit_rate']:.1%} on requests that "
                            f"share prefixes; expected at least {s['min_prefix_hit_rate']:.0%}")
    problems += _parallel_problems(metrics["parallel_sampling"], s["max_logprob_error"])
    configs = metrics["configs"].values()
    checked = sum(m["tokens_checked"] for m in configs)
    exact = sum(m["tokens_equal_to_argmax"] for m in configs)
    worst = max((m["max_margin"] for m in configs), default=0.0)
    ok = (f"{checked} greedy tokens in {len(metrics['configs'])} engine configurations "
          f"({', '.join(metrics['configs'])}) are transformers' argmax ({exact} exactly, max margin {worst:.2g}); "
          f"no blocks leaked; {metrics['parallel_sampling']['sequences']} parallel samples have transformers' "
          f"log-probabilities (max error {metrics['parallel_sampling']['max_logprob_error']:.2g})"
          + (f"; prefix-cache hit rate {min(m['prefix_cache_hit_rate'] for m in configs):.0%} or more"
             if prefix_caching else ""))
    return [_outcome(name, problems, ok, measured=worst, threshold=s["max_margin"], better="lower",
                     details=metrics)]


# ==================================================================================== sampling filters
def _run_sampling(ctx: Context) -> dict:
    from labkit.engine import SamplingParams
    s, dev = ctx.settings["sampling"], ctx.device
    ref, mine = ctx.reference_parts(), ctx.parts
    vocab = ctx.target().config.vocab_size
    gen = torch.Generator(device=dev).manual_seed(ctx.seed)
    bad = {"apply_temperature": 0, "top_k_filter": 0, "top_p_filter": 0}
    rows, first, problems = 0, {}, []
    for r in range(s["rounds"]):
        b = s["batch"]
        logits = torch.randn(b, vocab, generator=gen, device=dev) * (1.0 + 3.0 * r / s["rounds"])
        temp = torch.rand(b, generator=gen, device=dev) * 1.5 + 0.25
        k = torch.randint(0, 64, (b,), generator=gen, device=dev)
        k[::7] = 0                                               # filter off
        p = torch.rand(b, generator=gen, device=dev) * 0.95 + 0.04
        p[::5] = 1.0                                             # filter off
        rows += b
        for fn, arg in (("apply_temperature", temp), ("top_k_filter", k), ("top_p_filter", p)):
            x = logits.clone()
            out = getattr(mine, fn)(x, arg.clone())
            if not torch.equal(x, logits):
                problems.append(f"{fn} changed its input logits in place")
            if not isinstance(out, torch.Tensor) or out.shape != logits.shape or out.device != logits.device:
                got = f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))} on {getattr(out, 'device', '?')}"
                problems.append(f"{fn}(logits [{b}, {vocab}] on {dev}) returned {got}; expected a tensor of the "
                                "same shape on the same device")
                continue
            expected = getattr(ref, fn)(logits.clone(), arg.clone())
            if fn == "apply_temperature":
                wrong = ~torch.isclose(out.float(), expected, rtol=1e-5, atol=1e-6).all(dim=-1)
            else:
                kept, kept_ref = torch.isfinite(out), torch.isfinite(expected)
                wrong = (kept != kept_ref).sum(dim=-1) > 1                     # one token of rounding slack
                wrong |= ~torch.where(kept, out == logits, True).all(dim=-1)   # kept logits must be unchanged
            bad[fn] += int(wrong.sum())
            if wrong.any() and fn not in first:
                i = int(wrong.nonzero()[0, 0])
                if fn == "apply_temperature":
                    first[fn] = f"row {i}, t={float(temp[i]):.3f}"
                else:
                    setting = f"k={int(k[i])}" if fn == "top_k_filter" else f"p={float(p[i]):.3f}"
                    first[fn] = (f"row {i}, {setting}: yours keeps {int(torch.isfinite(out[i]).sum())} tokens, "
                                 f"expected {int(torch.isfinite(expected[i]).sum())}")
    # End to end: the engine samples with these filters on the device.
    requests = ctx.greedy_requests(8)
    params = [SamplingParams(max_tokens=n, temperature=0.9, top_k=40, top_p=0.9, seed=i, ignore_eos=True)
              for i, (_, n) in enumerate(requests)]
    outputs = run_requests(ctx.engine(max_num_seqs=8), requests, params)
    wrong_lengths = sum(len(o) != n for o, (_, n) in zip(outputs, requests))
    return {"rows": rows, "wrong_rows": bad, "first_wrong": first, "problems": problems[:5],
            "engine_requests": len(requests), "engine_wrong_lengths": wrong_lengths}


def _judge_sampling(metrics: dict, settings: dict) -> list[Outcome]:
    problems = list(metrics["problems"])
    for fn, n in metrics["wrong_rows"].items():
        if n:
            problems.append(f"{fn}: {n} of {metrics['rows']} rows differ from the expected filter "
                            f"(first: {metrics['first_wrong'].get(fn, '?')})")
    if metrics["engine_wrong_lengths"]:
        problems.append(f"sampling in the engine: {metrics['engine_wrong_lengths']} requests ended early")
    wrong = sum(metrics["wrong_rows"].values())
    ok = (f"temperature, top-k and top-p agree on {metrics['rows']} rows of device logits; the engine sampled "
          f"{metrics['engine_requests']} requests with them")
    return [_outcome("sampling_filters", problems, ok, measured=float(wrong), threshold=0.0, better="lower",
                     details=metrics)]


# ==================================================================================== speculative decoding
# A draft of gamma = 2 tokens over a 6-token vocabulary: acceptance ~0.7 and ~0.8 per position, and
# residuals max(0, p - q) far from p, so the usual mistakes shift the output distribution a lot.
SPEC_Q = [[0.10, 0.30, 0.25, 0.05, 0.20, 0.10],
          [0.30, 0.10, 0.10, 0.25, 0.05, 0.20]]
SPEC_P = [[0.30, 0.20, 0.15, 0.15, 0.10, 0.10],
          [0.20, 0.20, 0.05, 0.25, 0.15, 0.15],
          [0.05, 0.10, 0.40, 0.15, 0.20, 0.10]]
GREEDY_CASES = [([1, 2, 3], [1, 2, 3, 4]), ([1, 2, 3], [1, 5, 3, 4]), ([7, 8], [3, 8, 9]), ([], [5]),
                ([4, 4, 4, 4], [4, 4, 4, 6, 2])]


def chi2_critical(df: int, p_value: float) -> float:
    """Upper quantile of the chi-square distribution (Wilson-Hilferty; no scipy on a GPU host)."""
    z = statistics.NormalDist().inv_cdf(1.0 - p_value)
    return df * (1 - 2 / (9 * df) + z * (2 / (9 * df)) ** 0.5) ** 3


def _run_spec_distribution(ctx: Context) -> dict:
    s, dev = ctx.settings["speculative"], ctx.device
    q = torch.tensor(SPEC_Q, device=dev)
    p = torch.tensor(SPEC_P, device=dev)
    gamma, vocab = q.shape
    gen = torch.Generator(device=dev).manual_seed(ctx.seed + 7)
    counts = [[0] * vocab for _ in range(gamma + 1)]   # counts[i]: token i of the output, given i accepted
    malformed = []
    for _ in range(s["trials"]):
        drafts = [int(torch.multinomial(q[i], 1, generator=gen)) for i in range(gamma)]
        out = [int(t) for t in ctx.parts.verify_draft(drafts, q, p, generator=gen)]
        if not 1 <= len(out) <= gamma + 1 or out[:-1] != drafts[:len(out) - 1] \
                or not all(0 <= t < vocab for t in out):
            if len(malformed) < 3:
                malformed.append(f"drafts {drafts} gave {out}")
            continue
        for i, t in enumerate(out):
            counts[i][t] += 1
    greedy_wrong = []
    for drafts, argmax in GREEDY_CASES:
        n = next((i for i, (d, a) in enumerate(zip(drafts, argmax)) if d != a), len(drafts))
        want = drafts[:n] + [argmax[n]]
        got = [int(t) for t in ctx.parts.verify_greedy(list(drafts), list(argmax))]
        if got != want:
            greedy_wrong.append(f"verify_greedy({drafts}, target argmax {argmax}) returned {got}; expected {want}")
    return {"trials": s["trials"], "counts": counts, "target_probs": SPEC_P, "draft_probs": SPEC_Q,
            "malformed": malformed, "greedy_wrong": greedy_wrong}


def _judge_spec_distribution(metrics: dict, settings: dict) -> list[Outcome]:
    s = settings["speculative"]
    critical = chi2_critical(len(metrics["target_probs"][0]) - 1, s["p_value"])
    problems = [f"verify_draft returned a malformed result: {m}" for m in metrics["malformed"]]
    problems += metrics["greedy_wrong"]
    worst, stats = 0.0, []
    for i, (count, probs) in enumerate(zip(metrics["counts"], metrics["target_probs"])):
        n = sum(count)
        if n < 50:
            problems.append(f"only {n} outputs reached position {i + 1}: drafts that the target likes are rejected")
            continue
        chi2 = sum((c - n * pr) ** 2 / (n * pr) for c, pr in zip(count, probs))
        stats.append(round(chi2, 2))
        worst = max(worst, chi2 / critical)
        if chi2 > critical:
            freq = ", ".join(f"{c / n:.3f}" for c in count)
            want = ", ".join(f"{pr:.3f}" for pr in probs)
            problems.append(f"output token {i + 1}: frequencies [{freq}] over {n} runs, but the target's distribution "
                            f"is [{want}] (chi-square {chi2:.1f} > {critical:.1f}): the accept/resample rule does not "
                            "preserve the target distribution")
    ok = (f"over {metrics['trials']} verify_draft runs every output position follows the target distribution "
          f"(chi-square {stats} < {critical:.1f}); verify_greedy correct on {len(GREEDY_CASES)} cases")
    return [_outcome("speculative_distribution", problems, ok, measured=worst, threshold=1.0, better="lower",
                     details={**metrics, "chi2": stats, "critical": critical})]


def _run_spec_engine(ctx: Context) -> dict:
    from labkit.engine import SamplingParams
    s = ctx.settings["speculative"]
    requests = ctx.greedy_requests(min(16, ctx.settings["greedy"]["num_requests"]))
    base = dict(ctx.settings["greedy"]["configs"]["continuous"])
    drafts = {}
    for kind in s["drafts"]:
        draft = load_draft(ctx.settings, kind, ctx.target())
        engine = ctx.engine(draft_model=draft, num_speculative_tokens=s["num_speculative_tokens"], **base)
        outputs = run_requests(engine, requests)
        m = _engine_metrics(engine, ctx.target(), requests, outputs)
        sampled = [SamplingParams(max_tokens=n, temperature=1.0, seed=i, ignore_eos=True)
                   for i, (_, n) in enumerate(requests[:8])]
        m["sampled_wrong_lengths"] = sum(len(o) != n for o, (_, n) in
                                         zip(run_requests(engine, requests[:8], sampled), requests[:8]))
        m["leaked_blocks"] = engine.stats()["num_blocks"] - engine.stats()["num_free_blocks"]
        drafts[kind] = m
    return {"drafts": drafts, "requested_lengths": [n for _, n in requests]}


def _judge_spec_engine(metrics: dict, settings: dict) -> list[Outcome]:
    s, tol = settings["speculative"], settings["greedy"]["max_margin"]
    problems = []
    for kind, m in metrics["drafts"].items():
        problems += _engine_problems(f"draft {kind}", m, metrics["requested_lengths"], tol)
        if m["sampled_wrong_lengths"]:
            problems.append(f"[draft {kind}] {m['sampled_wrong_lengths']} sampled requests ended early")
    best = max((m["spec_acceptance_rate"] or 0.0 for m in metrics["drafts"].values()), default=0.0)
    if best < s["min_acceptance_rate"]:
        problems.append(f"draft acceptance rate {best:.1%} (best draft); expected at least "
                        f"{s['min_acceptance_rate']:.0%}: verification rejects drafts the target agrees with")
    ok = (f"speculative decoding (drafts: {', '.join(metrics['drafts'])}) generates transformers' greedy tokens; "
          f"best acceptance rate {best:.0%}")
    return [_outcome("speculative_engine", problems, ok, measured=best, threshold=s["min_acceptance_rate"],
                     better="higher", details=metrics)]


# ==================================================================================== quantization
def _quantization_inputs(ctx: Context) -> list[tuple[str, torch.Tensor]]:
    """The weight matrices of the model's first layer (and LM head unless huge), plus outliers and zeros."""
    tensors = [(n, w.detach()) for n, w in ctx.target().named_parameters()
               if w.dim() == 2 and (".layers.0." in n or n.startswith("lm_head")) and w.numel() <= 1 << 27]
    gen = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
    bs = ctx.settings["quantization"]["group_size"]
    outliers = torch.randn(256, bs, generator=gen, device=ctx.device)
    outliers[::5, 3] *= 100.0                       # one huge weight in every fifth block
    outliers[7] = 0.0                               # an all-zero block (absmax 0)
    return tensors + [("synthetic: outliers and a zero block", outliers.view(-1, 4 * bs))]


def _run_quantization(ctx: Context) -> dict:
    """Lab 2.2/03's group-wise INT4 (``group_int4``) on device tensors: every weight restored within half a
    quantization step of its group (absmax / 7 / 2), and pack_int4 / unpack_int4 lossless on the device."""
    quantize, dequantize = ctx.extras["quantize_int4_groupwise"], ctx.extras["dequantize_int4_groupwise"]
    pack, unpack = ctx.extras["pack_int4"], ctx.extras["unpack_int4"]
    gs = ctx.settings["quantization"]["group_size"]
    rows = []
    for name, w in _quantization_inputs(ctx):
        w = w.float()
        if w.shape[-1] % gs:
            continue                                # the contract needs whole groups along the last dimension
        q, scales = quantize(w, gs)
        row = {"tensor": name, "shape": list(w.shape), "problem": ""}
        n_groups = w.numel() // gs
        if not isinstance(q, torch.Tensor) or q.dtype != torch.int8 or tuple(q.shape) != tuple(w.shape) \
                or q.device != w.device:
            row["problem"] = (f"q must be an int8 tensor of shape {tuple(w.shape)} on {w.device}; got "
                              f"{getattr(q, 'dtype', type(q).__name__)} {tuple(getattr(q, 'shape', ()))} "
                              f"on {getattr(q, 'device', '?')}")
        elif int(q.abs().max()) > 7:
            row["problem"] = f"q holds {int(q.abs().max())}: INT4 codes must stay in [-7, 7]"
        elif not isinstance(scales, torch.Tensor) or scales.numel() != n_groups:
            row["problem"] = f"expected one scale per group of {gs} weights ({n_groups})"
        else:
            restored = dequantize(q, scales, gs).float().reshape(-1)
            flat = w.reshape(-1)
            step = (flat.view(-1, gs).abs().amax(dim=-1) / 14.0).repeat_interleave(gs)   # half a step
            err = (flat - restored).abs()
            ratio = torch.where(step > 0, err / step.clamp_min(1e-30), torch.where(err > 0, float("inf"), 0.0))
            i = int(ratio.argmax())
            row.update(max_error_ratio=float(ratio[i]), worst_index=i, worst_value=float(flat[i]),
                       worst_restored=float(restored[i]),
                       relative_error=float(err.norm() / flat.norm().clamp_min(1e-30)))
            packed = pack(q)
            if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8 \
                    or packed.numel() * 2 != q.numel():
                row["problem"] = (f"pack_int4 must return uint8 with half as many elements ({q.numel() // 2}); got "
                                  f"{getattr(packed, 'dtype', type(packed).__name__)} "
                                  f"{tuple(getattr(packed, 'shape', ()))}")
            elif not torch.equal(unpack(packed).to(q.device), q):
                row["problem"] = "unpack_int4(pack_int4(q)) differs from q"
        rows.append(row)
    return {"group_size": gs, "tensors": rows}


def _judge_quantization(metrics: dict, settings: dict) -> list[Outcome]:
    limit = settings["quantization"]["max_error_ratio"]
    problems, worst = [], 0.0
    for row in metrics["tensors"]:
        if row["problem"]:
            problems.append(f"{row['tensor']}: {row['problem']}")
            continue
        worst = max(worst, row["max_error_ratio"])
        if row["max_error_ratio"] > limit:
            problems.append(f"{row['tensor']}: element {row['worst_index']} is {row['worst_value']:.6g}, restored as "
                            f"{row['worst_restored']:.6g}: {row['max_error_ratio']:.3g} x half a quantization step "
                            f"of its group (allowed {limit:g})")
    ok = (f"{len(metrics['tensors'])} tensors round-trip within {worst:.3f} x half a quantization step "
          f"(INT4, group size {metrics['group_size']}); packing is lossless")
    return [_outcome("quantization_bounds", problems, ok, measured=worst, threshold=limit, better="lower",
                     details=metrics)]


CORRECTNESS_CHECKS = [
    CheckSpec("greedy_paged", "correctness", ("block_manager", "kv_cache_size", "scheduler_step"),
              lambda ctx: _run_greedy(ctx, prefix_caching=False),
              lambda m, s: _judge_greedy("greedy_paged", m, s, prefix_caching=False),
              summary="paged engine greedy output = transformers (continuous batching, chunked prefill, preemption)"),
    CheckSpec("greedy_prefix_cache", "correctness", ("prefix_cache",),
              lambda ctx: _run_greedy(ctx, prefix_caching=True),
              lambda m, s: _judge_greedy("greedy_prefix_cache", m, s, prefix_caching=True),
              summary="the same with the prefix cache on, which must hit"),
    CheckSpec("sampling_filters", "correctness", ("sampling_filters",), _run_sampling, _judge_sampling,
              summary="temperature / top-k / top-p on device tensors and in the engine"),
    CheckSpec("speculative_distribution", "correctness", ("speculative_verify",), _run_spec_distribution,
              _judge_spec_distribution, summary="verify_draft preserves the target distribution (chi-square)"),
    CheckSpec("speculative_engine", "correctness", ("speculative_verify",), _run_spec_engine, _judge_spec_engine,
              summary="engine with a draft model: greedy output = transformers, drafts accepted"),
    CheckSpec("quantization_bounds", "correctness", ("group_int4",), _run_quantization, _judge_quantization,
              summary="group-wise INT4 round trip within half a quantization step, lossless packing"),
]
