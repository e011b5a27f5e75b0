"""Sampling is exact: the engine samples the model's (filtered) distribution, and speculative
decoding keeps the target's distribution (chi-square tests, fixed seeds), and is identical to the
target under greedy decoding. Also the sampling-filter and speculative-verify parts on their own.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from labkit.engine import LLMEngine, SamplingParams, reference_parts

from .test_engine_correctness import hf_greedy_batch, load_hf, mixed_requests, one_thread, tiny_model_paths  # noqa: F401

PARTS = reference_parts()
P_MIN = 1e-3  # fixed seeds make every test deterministic; a correct sampler passes at this level


def chi_square_p(samples, expected_probs) -> float:
    """p-value of samples (token ids) under expected_probs; cells with < 5 expected are pooled."""
    expected_probs = np.asarray(expected_probs, dtype=np.float64)
    n = len(samples)
    counts = np.bincount(np.asarray(samples), minlength=len(expected_probs)).astype(np.float64)
    assert counts[expected_probs == 0].sum() == 0, "sampled a token of probability 0"
    exp = expected_probs * n
    big = exp >= 5
    obs_cells = list(counts[big]) + [counts[~big].sum()]
    exp_cells = list(exp[big]) + [exp[~big].sum()]
    if exp_cells[-1] == 0:
        obs_cells, exp_cells = obs_cells[:-1], exp_cells[:-1]
    exp_cells = np.asarray(exp_cells) * (sum(obs_cells) / sum(exp_cells))
    return float(chisquare(obs_cells, exp_cells).pvalue)


@pytest.fixture(scope="module")
def hf_target():
    return load_hf(tiny_model_paths()[0])


def _first_token_samples(engine, prompt, params) -> list[int]:
    out = engine.generate([prompt], params)[0]
    return [c.token_ids[0] for c in out.outputs]


@pytest.mark.parametrize("temperature,top_k,top_p", [(0.8, 0, 1.0), (1.5, 12, 1.0), (1.0, 0, 0.7), (1.2, 50, 0.9)])
def test_samples_follow_the_model_distribution(hf_target, temperature, top_k, top_p):
    prompt = [5, 17, 99, 3, 250, 251, 8]
    with torch.inference_mode():
        logits = hf_target(torch.tensor([prompt])).logits[0, -1].double() / temperature
    order = torch.argsort(logits, descending=True)
    keep = torch.ones_like(logits, dtype=torch.bool)
    if top_k:
        keep[order[top_k:]] = False
    probs = torch.where(keep, logits, torch.tensor(-torch.inf, dtype=torch.float64)).softmax(-1)
    if top_p < 1.0:
        sorted_p = probs[order]
        before = sorted_p.cumsum(0) - sorted_p
        keep_sorted = before < top_p
        nucleus = torch.zeros_like(keep)
        nucleus[order[keep_sorted]] = True
        probs = torch.where(nucleus, probs, torch.zeros_like(probs))
        probs = probs / probs.sum()
    engine = LLMEngine(hf_target, num_blocks=3000)
    samples = _first_token_samples(engine, prompt, SamplingParams(n=3000, max_tokens=1, temperature=temperature,
                                                                  top_k=top_k, top_p=top_p, seed=11))
    p = chi_square_p(samples, probs.numpy())
    assert p > P_MIN, f"samples do not follow the distribution (T={temperature}, k={top_k}, p={top_p}): p-value {p:.2e}"
    assert engine.stats()["num_free_blocks"] == engine.num_blocks


def test_seeded_requests_do_not_depend_on_the_batch(hf_target):
    params = SamplingParams(max_tokens=20, temperature=1.0, seed=7, ignore_eos=True)
    alone = LLMEngine(hf_target).generate([[9, 10, 11]], params)[0].token_ids
    engine = LLMEngine(hf_target)
    others = [[i, i + 1] for i in range(20, 30)]
    outs = engine.generate(others[:5] + [[9, 10, 11]] + others[5:],
                           [SamplingParams(max_tokens=15, temperature=1.0)] * 5 + [params] +
                           [SamplingParams(max_tokens=15, temperature=1.0)] * 5)
    assert outs[5].token_ids == alone
    different = LLMEngine(hf_target).generate([[9, 10, 11]], SamplingParams(max_tokens=20, temperature=1.0, seed=8,
                                                                             ignore_eos=True))[0].token_ids
    assert different != alone


# ---- the sampling filters part ----------------------------------------------------------------------
def test_filters_per_row_and_disabled():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    assert torch.equal(PARTS.top_k_filter(logits, 0), logits)
    top = PARTS.top_k_filter(logits, torch.tensor([1, 3]))
    assert torch.isinf(top).tolist() == [[True, False, True, True], [True, False, False, False]]
    assert torch.equal(PARTS.top_p_filter(logits, 1.0), logits)
    # probabilities: row 0 [.087, .644, .237, .032], row 1 [.032, .087, .237, .644]
    nucleus = PARTS.top_p_filter(logits, torch.tensor([0.7, 0.95]))
    assert torch.isfinite(nucleus[0]).tolist() == [False, True, True, False]  # .644 < .7 <= .644 + .237
    assert torch.isfinite(nucleus[1]).tolist() == [False, True, True, True]   # .968 >= .95
    assert torch.isfinite(PARTS.top_p_filter(logits, 0.5)[0]).tolist() == [False, True, False, False]
    t = PARTS.apply_temperature(logits, torch.tensor([2.0, 0.5]))
    assert torch.allclose(t, torch.stack([logits[0] / 2, logits[1] * 2]))


# ---- the speculative verify part ----------------------------------------------------------------------
def test_verify_draft_preserves_the_target_distribution():
    g = torch.Generator().manual_seed(0)
    vocab, gamma, n = 6, 3, 20000
    p = torch.rand(gamma + 1, vocab, generator=g) ** 3
    p /= p.sum(-1, keepdim=True)
    q = torch.rand(gamma, vocab, generator=g) ** 3
    q /= q.sum(-1, keepdim=True)
    first, lengths = [], []
    for _ in range(n):
        drafts = [int(torch.multinomial(q[i], 1, generator=g)) for i in range(gamma)]
        out = PARTS.verify_draft(drafts, q, p, generator=g)
        assert 1 <= len(out) <= gamma + 1 and out[:-1] == drafts[:len(out) - 1]
        first.append(out[0])
        lengths.append(len(out))
    assert chi_square_p(first, p[0].numpy()) > P_MIN
    alpha_0 = torch.minimum(p[0], q[0]).sum().item()   # P(first draft accepted) = sum min(p, q)
    accepted_first = np.mean([length > 1 for length in lengths])
    assert abs(accepted_first - alpha_0) < 4 * np.sqrt(alpha_0 * (1 - alpha_0) / n)


def test_verify_greedy_and_expectations():
    assert PARTS.verify_greedy([4, 5, 6], [4, 5, 7, 9]) == [4, 5, 7]
    assert PARTS.verify_greedy([4, 5, 6], [4, 5, 6, 9]) == [4, 5, 6, 9]
    assert PARTS.verify_greedy([], [3]) == [3]
    assert PARTS.expected_tokens_per_step(1.0, 4) == 5
    assert abs(PARTS.expected_tokens_per_step(0.5, 2) - 1.75) < 1e-12
    assert abs(PARTS.expected_speedup(0.5, 2, 0.25) - 1.75 / 1.5) < 1e-12


# ---- speculative decoding in the engine ----------------------------------------------------------------
def _small_pair(vocab=12, seed=0):
    """A small random target and a perturbed copy as the draft (so they often, not always, agree)."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=64,
                      initializer_range=0.3, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1)
    target = LlamaForCausalLM(cfg).eval()
    draft = copy.deepcopy(target)
    with torch.no_grad():
        for p in draft.parameters():
            p.add_(0.25 * p.std() * torch.randn_like(p))
    return target, draft


def test_speculative_sampling_keeps_the_target_distribution():
    """Joint distribution of the 2nd and 3rd output tokens (produced by draft + verify) vs the target's."""
    target, draft = _small_pair()
    vocab, prompt, n = 12, [2, 3, 4], 6000
    engine = LLMEngine(target, draft_model=draft, num_speculative_tokens=3, num_blocks=7000,
                       max_num_batched_tokens=4096)
    out = engine.generate([prompt], SamplingParams(n=n, max_tokens=4, temperature=1.0, seed=3, ignore_eos=True))[0]
    stats = engine.stats()
    assert 0.15 < stats["spec_acceptance_rate"] < 0.95, stats         # both branches of verify ran
    with torch.inference_mode():
        p1 = target(torch.tensor([prompt])).logits[0, -1].double().softmax(-1)
        seqs = torch.tensor([prompt + [a] for a in range(vocab)])
        p2 = target(seqs).logits[:, -1].double().softmax(-1)                      # [t1, t2]
        seqs = torch.tensor([prompt + [a, b] for a in range(vocab) for b in range(vocab)])
        p3 = target(seqs).logits[:, -1].double().softmax(-1).view(vocab, vocab, vocab)  # [t1, t2, t3]
    joint = torch.einsum("a,ab,abc->bc", p1, p2, p3).reshape(-1)                   # P(t2, t3)
    samples = [c.token_ids[1] * vocab + c.token_ids[2] for c in out.outputs]
    p = chi_square_p(samples, joint.numpy())
    assert p > P_MIN, f"speculative decoding changed the distribution: p-value {p:.2e}"
    assert stats["num_free_blocks"] == stats["num_blocks"]


def test_greedy_speculative_decoding_equals_the_target():
    target_path, draft_path = tiny_model_paths()
    hf = load_hf(target_path)
    reqs = mixed_requests(hf.config.vocab_size, groups=6)
    refs = []
    for i in range(0, len(reqs), 4):
        refs += hf_greedy_batch(hf, [p for p, _ in reqs[i:i + 4]], [m for _, m in reqs[i:i + 4]])
    params = [SamplingParams(max_tokens=m, temperature=0.0, ignore_eos=True) for _, m in reqs]
    for kwargs in (dict(), dict(num_blocks=24, enable_prefix_caching=True, max_num_batched_tokens=64)):
        engine = LLMEngine(hf, draft_model=draft_path, num_speculative_tokens=4, **kwargs)
        outs = engine.generate([p for p, _ in reqs], params)
        bad = [i for i, (o, r) in enumerate(zip(outs, refs)) if o.token_ids != r]
        assert not bad, f"{kwargs}: request {bad[0]}: {outs[bad[0]].token_ids} vs {refs[bad[0]]}"
        stats = engine.stats()
        assert stats["spec_proposed"] > 0 and stats["num_free_blocks"] == stats["num_blocks"]
