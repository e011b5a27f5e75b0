"""Greedy output of labkit.engine is token-identical to transformers ``generate``.

64 mixed-length requests (many sharing prompt prefixes) against ``generate``, through the engine plain,
with chunked prefill, with prefix caching, with preemption forced by a tiny block pool, and both.
Also: stopping at EOS / stop tokens like ``generate``, parallel sampling (``n > 1``, fork +
copy-on-write), logprobs, text prompts and timestamps, bad requests, priorities, parts plug-in.

The models are the tiny ones of ``labkit.models`` (``LABKIT_ENGINE_TEST_MODELS=<dir with target/
and draft/>`` points the engine tests at prebuilt ones instead).
"""
from __future__ import annotations

import os
import random
import types
from pathlib import Path

import pytest
import torch

from labkit.engine import LLMEngine, SamplingParams, parts_from_modules, parts_from_namespace, reference_parts


def tiny_model_paths() -> tuple[Path, Path]:
    override = os.environ.get("LABKIT_ENGINE_TEST_MODELS")
    if override:
        return Path(override) / "target", Path(override) / "draft"
    from labkit.models import tiny_models
    tm = tiny_models(verbose=False)
    return tm.target, tm.draft


def load_hf(path):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()


def hf_greedy(model, prompt: list[int], max_tokens: int, ignore_eos: bool = True, eos=None) -> list[int]:
    """transformers generate, greedy, one request (no padding)."""
    kwargs = {"eos_token_id": None} if ignore_eos else ({"eos_token_id": eos} if eos is not None else {})
    with torch.inference_mode():
        out = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                             do_sample=False, max_new_tokens=max_tokens, pad_token_id=0, **kwargs)
    return out[0, len(prompt):].tolist()


def mixed_requests(vocab: int, groups: int = 16, per_group: int = 4, seed: int = 0):
    """(prompt, max_tokens): prompts of 1-100 tokens, many behind one of two shared prefixes, and
    1-40 output tokens. Prompts come in groups of equal length so that the reference can run
    ``generate`` on a group at once without padding."""
    rng = random.Random(seed)
    prefixes = [[], [rng.randrange(4, vocab) for _ in range(16)], [rng.randrange(4, vocab) for _ in range(37)]]
    out = []
    for length in rng.sample(range(1, 101), groups):
        for _ in range(per_group):
            prefix = rng.choice([p for p in prefixes if len(p) < length])
            prompt = prefix + [rng.randrange(4, vocab) for _ in range(length - len(prefix))]
            out.append((prompt, rng.randint(1, 40)))
    return out


def hf_greedy_batch(model, prompts: list[list[int]], max_tokens: list[int]) -> list[list[int]]:
    """generate on equal-length prompts at once (no padding needed), EOS ignored."""
    with torch.inference_mode():
        out = model.generate(torch.tensor(prompts), attention_mask=torch.ones(len(prompts), len(prompts[0]),
                             dtype=torch.long), do_sample=False, max_new_tokens=max(max_tokens),
                             pad_token_id=0, eos_token_id=None)
    return [row[len(prompts[0]):len(prompts[0]) + m].tolist() for row, m in zip(out, max_tokens)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny batches run fastest on one thread; two threads stall whenever the machine is busy."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def paths():
    return tiny_model_paths()


@pytest.fixture(scope="module")
def hf_target(paths):
    return load_hf(paths[0])


@pytest.fixture(scope="module")
def workload(hf_target):
    reqs = mixed_requests(hf_target.config.vocab_size)
    refs = []
    for i in range(0, len(reqs), 4):
        group = reqs[i:i + 4]
        refs += hf_greedy_batch(hf_target, [p for p, _ in group], [m for _, m in group])
    return reqs, refs


def run_engine(engine, reqs):
    params = [SamplingParams(max_tokens=m, temperature=0.0, ignore_eos=True) for _, m in reqs]
    return engine.generate([p for p, _ in reqs], params)


def assert_same(outs, refs, reqs):
    bad = [i for i, (o, r) in enumerate(zip(outs, refs)) if o.token_ids != r]
    assert not bad, (f"{len(bad)} of {len(refs)} differ from generate; first: request {bad[0]} "
                     f"(prompt {len(reqs[bad[0]][0])} tokens): engine {outs[bad[0]].token_ids} vs {refs[bad[0]]}")


CONFIGS = {
    "plain": dict(),
    "chunked-prefill": dict(max_num_batched_tokens=48, max_num_seqs=16),
    "prefix-caching": dict(enable_prefix_caching=True, max_num_batched_tokens=256),
    "preemption": dict(num_blocks=30, max_num_batched_tokens=128),
    "prefix-caching+preemption": dict(num_blocks=30, enable_prefix_caching=True, max_num_batched_tokens=96),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_greedy_matches_generate(paths, hf_target, workload, name):
    reqs, refs = workload
    engine = LLMEngine(hf_target, **CONFIGS[name])
    outs = run_engine(engine, reqs)
    assert_same(outs, refs, reqs)
    stats = engine.stats()
    assert stats["num_free_blocks"] == stats["num_blocks"], "blocks leaked"
    assert all(o.finish_reason == "length" and len(o.token_ids) == m for o, (_, m) in zip(outs, reqs))
    if "preemption" in name:
        assert stats["num_preemptions"] > 0, "the small block pool should have forced preemptions"
    if "prefix-caching" in name:
        assert stats["prefix_cache_hit_rate"] > 0.05, stats


def test_eos_stops_like_generate(hf_target):
    """Requests that stop at a stop token: EOS of the model, and extra stop_token_ids."""
    rng = random.Random(1)
    prompts = [[rng.randrange(4, hf_target.config.vocab_size) for _ in range(rng.randint(2, 30))] for _ in range(6)]
    engine = LLMEngine(hf_target)
    for prompt in prompts:
        free_run = hf_greedy(hf_target, prompt, 12)
        stop = free_run[len(free_run) // 2]             # a token the greedy run does produce
        out = engine.generate([prompt], SamplingParams(max_tokens=12, temperature=0, stop_token_ids=[stop],
                                                       ignore_eos=True))[0]
        assert out.token_ids == free_run[:free_run.index(stop) + 1] and out.finish_reason == "stop"
        assert out.token_ids == hf_greedy(hf_target, prompt, 12, ignore_eos=False, eos=stop)
        own_eos = engine.generate([prompt], SamplingParams(max_tokens=12, temperature=0))[0]
        assert own_eos.token_ids == hf_greedy(hf_target, prompt, 12, ignore_eos=False)


def test_parallel_sampling_shares_the_prompt_and_copies_on_write(hf_target, workload):
    """n = 3 greedy samples: all equal to generate (so the forked KV blocks were copied correctly)."""
    reqs, refs = workload
    engine = LLMEngine(hf_target, num_blocks=64)
    params = [SamplingParams(n=3, max_tokens=m, temperature=0.0, ignore_eos=True) for _, m in reqs[:12]]
    outs = engine.generate([p for p, _ in reqs[:12]], params)
    for i, out in enumerate(outs):
        assert len(out.outputs) == 3
        expected = refs[i]
        for comp in out.outputs:
            assert comp.token_ids == expected, f"request {i} output {comp.index}"
    assert engine.kv.num_copies > 0, "no copy-on-write happened"
    assert engine.stats()["num_free_blocks"] == engine.num_blocks


def test_logprobs_match_the_model(hf_target):
    prompt = list(range(10, 30))
    engine = LLMEngine(hf_target)
    out = engine.generate([prompt], SamplingParams(max_tokens=6, temperature=0, logprobs=3, ignore_eos=True))[0]
    with torch.inference_mode():
        logits = hf_target(torch.tensor([prompt + out.token_ids])).logits[0].float()
    logp = logits.log_softmax(-1)
    for i, (token, entry) in enumerate(zip(out.token_ids, out.logprobs)):
        row = logp[len(prompt) - 1 + i]
        assert abs(entry[token] - row[token].item()) < 1e-4
        top = row.topk(3).indices.tolist()
        assert set(top) <= set(entry) and len(entry) <= 4
    assert abs(out.outputs[0].cumulative_logprob - sum(e[t] for t, e in zip(out.token_ids, out.logprobs))) < 1e-6


def test_text_prompts_and_timestamps(paths):
    engine = LLMEngine(paths[0])
    assert engine.tokenizer is not None
    out = engine.generate("Hello there", SamplingParams(max_tokens=5, temperature=0))[0]
    assert out.prompt == "Hello there" and out.prompt_token_ids
    assert isinstance(out.text, str)
    assert out.arrival_time <= out.first_token_time == out.token_times[0]
    assert out.token_times == sorted(out.token_times) and len(out.token_times) == len(out.token_ids)


def test_bad_requests_are_rejected(hf_target):
    engine = LLMEngine(hf_target, num_blocks=4, block_size=4)
    with pytest.raises(ValueError):
        SamplingParams(temperature=-1)
    with pytest.raises(ValueError):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="empty"):
        engine.add_request("a", [], SamplingParams())
    with pytest.raises(ValueError, match="blocks"):
        engine.add_request("b", [5] * 10, SamplingParams(max_tokens=10))
    engine.add_request("c", [5, 6], SamplingParams(max_tokens=2))
    with pytest.raises(ValueError, match="in use"):
        engine.add_request("c", [5, 6], SamplingParams(max_tokens=2))
    with pytest.raises(ValueError, match="priority"):
        engine.add_request("d", [5, 6], SamplingParams(max_tokens=2), priority=1)


def test_priority_scheduling_runs_urgent_requests_first(hf_target):
    engine = LLMEngine(hf_target, max_num_seqs=1, scheduling_policy="priority")
    for i, prio in enumerate([5, 0, 3]):
        engine.add_request(f"r{i}", [7, 8, 9], SamplingParams(max_tokens=2, temperature=0), priority=prio)
    order = []
    while engine.has_unfinished():
        order += [o.request_id for o in engine.step() if o.finished]
    assert order == ["r1", "r2", "r0"]


# ---- the parts plug-in ----------------------------------------------------------------------------------
def test_student_parts_plug_in_and_missing_ones_fall_back(hf_target, tmp_path, caplog, workload):
    """A student's module (here: a scheduler that admits at most one new request per step) drives the engine."""
    src = Path(reference_parts().origin["schedule_step"].replace(".", "/") + ".py")
    code = (Path(__file__).resolve().parent.parent / src).read_text()
    code = code.replace("    while not plan.preempted and waiting", "    while not plan.admitted and not plan.preempted and waiting")
    student = tmp_path / "scheduler_step.py"
    student.write_text(code)
    with caplog.at_level("WARNING", logger="labkit.engine"):
        parts = parts_from_modules(student)
    assert parts.origin["schedule_step"] == str(student)
    assert "BlockManager: not provided" in caplog.text
    assert parts.BlockManager is reference_parts().BlockManager
    reqs, refs = workload
    engine = LLMEngine(hf_target, parts=parts)
    outs = run_engine(engine, reqs[:8])
    assert_same(outs, refs[:8], reqs[:8])
    assert engine.num_steps >= 8  # one admission per step

    ns = parts_from_namespace({"top_k_filter": reference_parts().top_k_filter})
    assert ns.origin["top_k_filter"] == "namespace"
    assert isinstance(parts_from_namespace(types.SimpleNamespace()).schedule_step, types.FunctionType)
