"""Speculative decoding inside an engine step: the draft guesses, the target verifies in one pass.

For a sequence in its decode phase the scheduler granted ``1 + k`` tokens (``k <= gamma``
lookahead). Let ``L`` be the position of its last sampled token ``t_L``.

1. Draft, first pass: the draft model catches up on the tokens it has not seen (its KV may lag
   one token behind the target's) and, with prefill chunks of other sequences in the same
   batch, computes its KV; the last position proposes ``d_1``.
2. Draft, passes 2..k: one token each, proposing ``d_2 .. d_k``.
3. Target, one pass over ``[t_L, d_1, .., d_k]`` at positions ``L .. L + k`` (prefill chunks ride
   along), giving ``k + 1`` distributions.
4. The ``verify_draft`` / ``verify_greedy`` part accepts ``a`` drafts plus one correction or bonus.

Rollback is bookkeeping only: the target's KV is valid up to ``t_L, d_1 .. d_a`` and the
draft's up to what it processed of those; the block manager already reserved the slots of all
``k + 1`` positions, so the KV of rejected tokens is simply overwritten by later steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .model_runner import ModelRunner, SeqInput
from .parts import EngineParts
from .sampler import Sampler
from .sequence import Sequence


@dataclass
class SpecStats:
    steps: int = 0            # sequence-steps that verified at least one draft
    proposed: int = 0         # draft tokens proposed
    accepted: int = 0         # draft tokens accepted
    rejections: int = 0       # verifications that stopped at a rejected draft
    draft_forwards: int = 0
    target_forwards: int = 0
    draft_decode_forwards: int = 0   # draft passes without prompt chunks, and their wall time:
    draft_decode_seconds: float = 0.0  # the cost of one proposal (for the cost ratio c)
    draft_decode_cpu_seconds: float = 0.0  # the same in CPU time (steadier on a busy machine)
    target_seconds: float = 0.0

    @property
    def acceptance_rate(self) -> float:
        """Accepted / proposed draft tokens (vLLM's draft acceptance rate)."""
        return self.accepted / self.proposed if self.proposed else 0.0

    @property
    def alpha(self) -> float:
        """Per-token acceptance probability (MLE under i.i.d. acceptance: accepted / (accepted + rejections))."""
        n = self.accepted + self.rejections
        return self.accepted / n if n else 0.0

    @property
    def mean_tokens_per_step(self) -> float:
        return (self.accepted + self.steps) / self.steps if self.steps else 0.0


@dataclass
class VerifyResult:
    tokens: list[int]          # accepted drafts + the correction/bonus token
    logits: torch.Tensor       # target logits of those tokens' positions ([len(tokens), vocab])


class SpecDecoder:
    def __init__(self, target: ModelRunner, draft: ModelRunner, sampler: Sampler, parts: EngineParts,
                 gamma: int):
        self.target, self.draft, self.sampler, self.parts = target, draft, sampler, parts
        self.gamma = gamma
        self.stats = SpecStats()

    def lookahead(self, seq: Sequence, max_model_len: int) -> int:
        """Drafts to verify in the next step (0 while the prompt is being computed)."""
        if seq.num_computed_tokens != len(seq.token_ids) - 1:
            return 0
        p = seq.request.params
        return max(0, min(self.gamma, p.max_tokens - seq.num_output_tokens - 1,
                          max_model_len - len(seq.token_ids)))

    def _propose(self, seqs: list[Sequence], logits: torch.Tensor, drafts, draft_probs) -> torch.Tensor:
        """The draft's proposals from its logits (one row per sequence); returns them as a tensor."""
        tokens = logits.argmax(dim=-1)
        rows = [i for i, s in enumerate(seqs) if not s.request.params.greedy]
        if rows:
            idx = torch.tensor(rows, device=logits.device)
            probs = self.sampler.probs(logits.index_select(0, idx), [seqs[i].request.params for i in rows])
            tokens[idx] = self.sampler.draw(probs, [seqs[i].request.generator for i in rows])
            for r, i in enumerate(rows):
                draft_probs[seqs[i]].append(probs[r])
        for s, t in zip(seqs, tokens.tolist()):
            drafts[s].append(t)
        return tokens

    def _propose_loop(self, seqs: list[Sequence], first: torch.Tensor, passes: int, drafts, draft_probs) -> None:
        """Draft passes 2..k for sequences that all want the same number of proposals, in the draft
        runner's decode loop: the step layout is built once, the proposals stay tensors (each pass
        feeds the next) and reach Python lists once at the end."""
        rows = [i for i, s in enumerate(seqs) if not s.request.params.greedy]
        if rows:
            idx = torch.tensor(rows, device=first.device)
            params = [seqs[i].request.params for i in rows]
            generators = [seqs[i].request.generator for i in rows]
        proposed, probs_seen = [], []

        def pick(logits: torch.Tensor, j: int) -> torch.Tensor:
            tokens = logits.argmax(dim=-1)
            if rows:
                probs = self.sampler.probs(logits.index_select(0, idx), params)
                tokens[idx] = self.sampler.draw(probs, generators)
                probs_seen.append(probs)
            proposed.append(tokens)
            return tokens

        t0 = time.perf_counter(), time.process_time()
        self.draft.decode_loop([len(s.token_ids) for s in seqs], [s.block_table for s in seqs], first, passes, pick)
        dt, dc = time.perf_counter() - t0[0], time.process_time() - t0[1]
        self.stats.draft_forwards += passes
        self.stats.draft_decode_forwards += passes
        self.stats.draft_decode_seconds += dt
        self.stats.draft_decode_cpu_seconds += dc
        for s, tokens in zip(seqs, torch.stack(proposed, dim=1).tolist()):
            drafts[s].extend(tokens)
        for probs in probs_seen:
            for r, i in enumerate(rows):
                draft_probs[seqs[i]].append(probs[r])

    def _time_draft(self, t0: tuple[float, float], decode_only: bool = True) -> None:
        self.stats.draft_forwards += 1
        if decode_only:
            self.stats.draft_decode_forwards += 1
            self.stats.draft_decode_seconds += time.perf_counter() - t0[0]
            self.stats.draft_decode_cpu_seconds += time.process_time() - t0[1]

    def step(self, scheduled: dict[Sequence, int]):
        """Runs one speculative step. Returns (verify results by sequence, logits of the prefill
        sequences that completed their prompt and need an ordinary sample, those sequences)."""
        verify = {s: n - 1 for s, n in scheduled.items() if s.num_computed_tokens == len(s.token_ids) - 1}
        prefill = {s: n for s, n in scheduled.items() if s not in verify}
        drafts = {s: [] for s in verify}
        draft_probs = {s: [] for s in verify}

        # 1. draft: prefill chunks + catch-up + first proposal
        inputs, proposing = [], []
        for s, n in prefill.items():
            c = s.num_computed_tokens
            inputs.append(SeqInput(s.token_ids[c:c + n], c, s.block_table, 0))
        for s, k in verify.items():
            d = s.num_draft_computed
            inputs.append(SeqInput(s.token_ids[d:], d, s.block_table, 1 if k else 0))
            if k:
                proposing.append(s)
        first = None
        if inputs:
            t0 = time.perf_counter(), time.process_time()
            logits = self.draft.forward(inputs)
            if proposing:
                first = self._propose(proposing, logits, drafts, draft_probs)
            self._time_draft(t0, decode_only=not prefill)
        # 2. draft: one token at a time for the sequences that want more proposals
        more = [s for s in proposing if verify[s] > 1]
        if more and len({verify[s] for s in more}) == 1:   # the usual case: all want the same number
            if len(more) < len(proposing):
                first = first.index_select(0, torch.tensor([i for i, s in enumerate(proposing) if verify[s] > 1]))
            self._propose_loop(more, first, verify[more[0]] - 1, drafts, draft_probs)
        else:
            for j in range(1, max(verify.values(), default=0)):
                seqs = [s for s, k in verify.items() if k > j]
                L = [len(s.token_ids) - 1 for s in seqs]
                t0 = time.perf_counter(), time.process_time()
                logits = self.draft.forward([SeqInput([drafts[s][-1]], l + j, s.block_table, 1)
                                             for s, l in zip(seqs, L)])
                self._propose(seqs, logits, drafts, draft_probs)
                self._time_draft(t0)

        # 3. target: one pass over everything
        inputs, done_prefill = [], []
        for s, n in prefill.items():
            c = s.num_computed_tokens
            finishes = c + n == len(s.token_ids)
            inputs.append(SeqInput(s.token_ids[c:c + n], c, s.block_table, 1 if finishes else 0))
            if finishes:
                done_prefill.append(s)
        for s, k in verify.items():
            inputs.append(SeqInput([s.token_ids[-1]] + drafts[s], len(s.token_ids) - 1, s.block_table, k + 1))
        t0 = time.perf_counter()
        logits = self.target.forward(inputs)
        self.stats.target_forwards += 1
        self.stats.target_seconds += time.perf_counter() - t0
        prefill_logits = logits[:len(done_prefill)]

        # 4. verify
        results, row = {}, len(done_prefill)
        # the target's greedy choices at every verified position, to Python in one go
        argmax = logits.argmax(dim=-1).tolist() if any(s.request.params.greedy for s in verify) else None
        for s, k in verify.items():
            rows = logits[row:row + k + 1]
            params = s.request.params
            if params.greedy:
                tokens = self.parts.verify_greedy(drafts[s], argmax[row:row + k + 1])
            elif k:
                p = self.sampler.probs(rows, [params] * (k + 1))
                q = torch.stack(draft_probs[s])
                gen = s.request.generator or self.sampler.generator
                tokens = self.parts.verify_draft(drafts[s], q, p, generator=gen)
            else:
                p = self.sampler.probs(rows, [params])
                tokens = self.sampler.draw(p, [s.request.generator]).tolist()
            tokens = [int(t) for t in tokens]
            a = len(tokens) - 1
            if k:
                self.stats.steps += 1
                self.stats.proposed += k
                self.stats.accepted += a
                self.stats.rejections += int(a < k)
            L = len(s.token_ids) - 1
            s.num_draft_computed = L + (min(a + 1, k) if k else 1)
            results[s] = VerifyResult(tokens, rows[:len(tokens)])
            row += k + 1
        return results, prefill_logits, done_prefill
