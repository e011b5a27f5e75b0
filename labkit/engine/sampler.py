"""From logits to tokens: greedy, temperature, top-k, top-p, per-request seeds, logprobs.

The filters are the ``sampling_filters`` part. Random draws use the exponential race
(``argmax(probs / E)`` with ``E ~ Exp(1)`` per token, an exact sample of ``probs``), so a batch
is sampled in one vectorised call while rows of seeded requests draw their noise from their own
generator: a seeded request's output does not depend on what else is in the batch.
"""
from __future__ import annotations

import torch

from .parts import EngineParts
from .sequence import SamplingParams


class Sampler:
    def __init__(self, parts: EngineParts, generator: torch.Generator | None = None):
        self.parts = parts
        self.generator = generator

    def probs(self, logits: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
        """The distribution each row samples from: filters applied, softmax (rows not greedy)."""
        device = logits.device
        x = self.parts.apply_temperature(logits, torch.tensor([p.temperature for p in params], device=device))
        if any(p.top_k > 0 for p in params):
            x = self.parts.top_k_filter(x, torch.tensor([p.top_k for p in params], device=device))
        if any(p.top_p < 1.0 for p in params):
            x = self.parts.top_p_filter(x, torch.tensor([p.top_p for p in params], device=device))
        return x.softmax(dim=-1)

    def draw(self, probs: torch.Tensor, generators: list) -> torch.Tensor:
        """One token per row of probs; row i uses generators[i] (None: the engine's generator)."""
        noise = torch.empty_like(probs).exponential_(generator=self.generator)
        for i, g in enumerate(generators):
            if g is not None:
                noise[i].exponential_(generator=g)
        return (probs / noise).argmax(dim=-1)

    def sample(self, logits: torch.Tensor, params: list[SamplingParams], generators: list) -> list[int]:
        """One token per row of logits (float32, [rows, vocab])."""
        greedy = [p.greedy for p in params]
        if all(greedy):
            return logits.argmax(dim=-1).tolist()
        tokens = logits.argmax(dim=-1)
        rows = [i for i, g in enumerate(greedy) if not g]
        idx = torch.tensor(rows, device=logits.device)
        probs = self.probs(logits.index_select(0, idx), [params[i] for i in rows])
        tokens[idx] = self.draw(probs, [generators[i] for i in rows])
        return tokens.tolist()

    @staticmethod
    def logprobs(logits: torch.Tensor, tokens: list[int], num_top: list[int]) -> list[dict[int, float]]:
        """Per row: {token: logprob} for the chosen token and the row's num_top most likely ones."""
        logp = logits.float().log_softmax(dim=-1)
        k = max(num_top)
        top_vals, top_ids = logp.topk(k, dim=-1) if k else (None, None)
        chosen = logp.gather(-1, torch.tensor(tokens, device=logits.device).unsqueeze(-1)).squeeze(-1).tolist()
        out = []
        for i, (token, n) in enumerate(zip(tokens, num_top)):
            entry = dict(zip(top_ids[i, :n].tolist(), top_vals[i, :n].tolist())) if n else {}
            entry[token] = chosen[i]
            out.append(entry)
        return out
