"""Models, request workloads and the ways of running them that the checks share.

* ``load_target`` / ``load_draft``: the GPU-sized random-weight model of a preset (GPU mode) or the
  tiny trained models (CPU mode), on the device, in the mode's dtype;
* ``mixed_requests`` / ``long_tail_requests``: seeded (prompt token ids, output length) lists;
* ``run_requests``: drive an ``LLMEngine`` to completion, failing fast if it stops making progress;
* ``hf_static_batches``: the transformers baseline (``generate`` in static, left-padded batches);
* ``greedy_margins``: how far each generated token is from transformers' argmax on the same prefix.
"""
from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import torch


def torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# ---- models -----------------------------------------------------------------------------------------
def tiny_model_path(which: str) -> Path:
    """The tiny ``target`` or ``draft``: prebuilt ones under ``$LABKIT_ENGINE_TEST_MODELS`` (as for the
    engine tests), else ``labkit.models.tiny_models()`` (built once, then cached)."""
    override = os.environ.get("LABKIT_ENGINE_TEST_MODELS")
    if override:
        return Path(override) / which
    from labkit.models import tiny_models
    return getattr(tiny_models(verbose=False), which)


def _load_tiny(which: str, dtype, device):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(str(tiny_model_path(which)), dtype=dtype).to(device).eval()


def load_target(settings: dict):
    dtype, device = torch_dtype(settings["dtype"]), settings["device"]
    if settings["model"] == "tiny":
        return _load_tiny("target", dtype, device)
    from labkit.models import random_model
    return random_model(settings["model"], dtype=dtype, device=device, num_layers=settings["num_layers"],
                        seed=settings.get("seed", 0))


def load_draft(settings: dict, kind: str, target):
    """``"self"``: the target drafts for itself; ``"model"``: the tiny draft, or a random small model."""
    if kind == "self":
        return target
    dtype, device = torch_dtype(settings["dtype"]), settings["device"]
    if settings["model"] == "tiny":
        return _load_tiny("draft", dtype, device)
    from labkit.models import random_model
    return random_model(settings["model"], dtype=dtype, device=device, num_layers=settings["draft_layers"],
                        seed=settings.get("seed", 0) + 1)


# ---- workloads ---------------------------------------------------------------------------------------
def mixed_requests(n: int, vocab: int, max_prompt: int, max_output: int, shared_prefixes=(),
                   seed: int = 0) -> list[tuple[list[int], int]]:
    """Prompts of 1..max_prompt tokens (many behind shared prefixes), outputs of 1..max_output."""
    rng = random.Random(seed)
    prefixes = [[]] + [[rng.randrange(4, vocab) for _ in range(k)] for k in shared_prefixes]
    out = []
    for _ in range(n):
        length = rng.randint(1, max_prompt)
        prefix = rng.choice([p for p in prefixes if len(p) < length])
        out.append((prefix + [rng.randrange(4, vocab) for _ in range(length - len(prefix))],
                    rng.randint(1, max_output)))
    return out


def long_tail_requests(cfg: dict, vocab: int, seed: int = 0) -> list[tuple[list[int], int]]:
    """Throughput workload: mostly short outputs, every ``long_every``-th request a long one."""
    rng = random.Random(seed)
    out = []
    for i in range(cfg["num_requests"]):
        prompt = [rng.randrange(4, vocab) for _ in range(rng.randint(*cfg["prompt_tokens"]))]
        n = cfg["long_output"] if i % cfg["long_every"] == 0 else rng.randint(*cfg["output_tokens"])
        out.append((prompt, n))
    return out


# ---- running -----------------------------------------------------------------------------------------
_runs = itertools.count()


class EngineStalled(RuntimeError):
    """The engine has unfinished requests but schedules nothing (or loops far too long)."""


def run_to_completion(engine, requests, params=None) -> list:
    """Add all requests, step until done; their final ``RequestOutput`` objects, in request order.

    ``params``: one ``SamplingParams`` per request (default: greedy, EOS ignored, the request's length).
    """
    from labkit.engine import SamplingParams
    if params is None:
        params = [SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True) for _, n in requests]
    base = f"run{next(_runs)}-"
    for i, ((prompt, _), p) in enumerate(zip(requests, params)):
        engine.add_request(f"{base}{i}", prompt, p)
    budget = 4 * sum(len(p) + n * max(1, sp.n) for (p, n), sp in zip(requests, params)) + 100
    done: dict[str, object] = {}
    idle = steps = 0
    while len(done) < len(requests):
        before = engine.num_steps
        for out in engine.step():
            if out.finished:
                done[out.request_id] = out
        steps += 1
        idle = idle + 1 if engine.num_steps == before else 0
        if idle > 50 or steps > budget:
            stats = engine.stats()
            raise EngineStalled(
                f"the engine stopped making progress after {steps} steps with {len(requests) - len(done)} "
                f"requests unfinished (waiting {stats['num_waiting']}, running {stats['num_running']}, "
                f"free blocks {stats['num_free_blocks']}/{stats['num_blocks']}): does the scheduler "
                f"schedule nothing, or never finish a request?")
    return [done[f"{base}{i}"] for i in range(len(requests))]


def run_requests(engine, requests, params=None) -> list[list[int]]:
    """Like ``run_to_completion``; the (first) output's token ids of each request."""
    return [list(out.token_ids) for out in run_to_completion(engine, requests, params)]


@torch.inference_mode()
def hf_static_batches(model, requests, batch_size: int) -> None:
    """transformers ``generate`` in static batches: left padding, each batch runs to its longest output."""
    device = model.device
    for i in range(0, len(requests), batch_size):
        batch = requests[i:i + batch_size]
        width = max(len(p) for p, _ in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, (p, _) in enumerate(batch):
            ids[row, width - len(p):] = torch.tensor(p)
            mask[row, width - len(p):] = 1
        new = max(n for _, n in batch)
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                             max_new_tokens=new, eos_token_id=None, pad_token_id=0)
        if out.shape[1] != width + new:
            raise RuntimeError(f"generate returned {out.shape[1] - width} new tokens, expected {new}")
    synchronize(device)


def _teacher_forced_logits(model, prompt, out) -> torch.Tensor:
    """transformers' float32 logits for each token of ``out`` given ``prompt`` and the tokens before it."""
    ids = torch.tensor([list(prompt) + list(out)], device=model.device)
    hidden = model.model(input_ids=ids).last_hidden_state[0, len(prompt) - 1:len(prompt) - 1 + len(out)]
    return model.lm_head(hidden).float()


@torch.inference_mode()
def greedy_margins(model, requests, outputs) -> dict:
    """Check greedy outputs against transformers, token by token, on the engine's own prefixes.

    For output token ``t`` after prefix ``x``: ``margin = (max(logits(x)) - logits(x)[t]) / std(logits(x))``
    under transformers (teacher forcing, one forward pass per request). 0 means ``t`` is
    transformers' argmax; a small value is a near-tie that another kernel may break differently.
    """
    worst = {"margin": 0.0}
    checked = exact = 0
    margins = []
    for r, ((prompt, _), out) in enumerate(zip(requests, outputs)):
        if not out:
            continue
        logits = _teacher_forced_logits(model, prompt, out)
        chosen = torch.tensor(out, device=logits.device)
        best = logits.max(dim=-1)
        margin = (best.values - logits.gather(-1, chosen[:, None])[:, 0]) / logits.std(dim=-1)
        margins.append(margin.cpu())
        checked += len(out)
        exact += int((best.indices == chosen).sum())
        j = int(margin.argmax())
        if float(margin[j]) > worst["margin"]:
            worst = {"margin": float(margin[j]), "request": r, "position": j, "prompt_tokens": len(prompt),
                     "engine_token": int(out[j]), "transformers_token": int(best.indices[j])}
    all_margins = torch.cat(margins) if margins else torch.zeros(0)
    return {"tokens_checked": checked, "tokens_equal_to_argmax": exact,
            "max_margin": float(all_margins.max()) if checked else 0.0,
            "margins_over": {str(t): int((all_margins > t).sum()) for t in (1e-3, 0.05, 0.2, 1.0)},
            "worst": worst}


@torch.inference_mode()
def logprob_errors(model, requests, outputs) -> dict:
    """Sampled outputs (``RequestOutput`` with ``logprobs``): the engine's log-probability of each sampled
    token against transformers' on the same prefix. Catches KV corruption that sampling hides."""
    worst = {"error": 0.0}
    tokens = sequences = diverged = 0
    for r, ((prompt, _), out) in enumerate(zip(requests, outputs)):
        diverged += len({tuple(c.token_ids) for c in out.outputs}) > 1
        for c in out.outputs:
            if not c.token_ids:
                continue
            logp = _teacher_forced_logits(model, prompt, c.token_ids).log_softmax(dim=-1)
            theirs = logp.gather(-1, torch.tensor(c.token_ids, device=logp.device)[:, None])[:, 0].cpu()
            mine = torch.tensor([float(lp[t]) for lp, t in zip(c.logprobs, c.token_ids)])
            err = (mine - theirs).abs()
            j = int(err.argmax())
            sequences, tokens = sequences + 1, tokens + len(c.token_ids)
            if float(err[j]) > worst["error"]:
                worst = {"error": float(err[j]), "request": r, "sample": c.index, "position": j,
                         "token": int(c.token_ids[j]), "engine_logprob": float(mine[j]),
                         "transformers_logprob": float(theirs[j])}
    return {"sequences": sequences, "tokens": tokens, "requests_with_diverging_samples": diverged,
            "max_logprob_error": worst["error"], "worst": worst}
