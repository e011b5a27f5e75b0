"""Request and sequence state, and what the engine hands back (names mirror vLLM's).

A *request* (one prompt, one ``SamplingParams``) owns ``n`` *sequences*: with ``n > 1`` the
prompt is computed once and the first sequence is forked into ``n`` after its first token, the
copies sharing the prompt's KV blocks. The scheduler sees sequences, not requests.
"""
from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field
import torch


@dataclass
class SamplingParams:
    """How to sample a request's output (the vLLM names and defaults).

    ``temperature`` 0 means greedy. ``top_k`` 0 (or -1) and ``top_p`` 1.0 disable those filters.
    ``seed`` gives the request its own random generator, so its output does not depend on what
    else is in the batch. ``logprobs``: return, for every output token, the log-probability of
    the sampled token plus the ``logprobs`` most likely tokens (of the raw model distribution).
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    max_tokens: int = 16
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False
    logprobs: int | None = None

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be non-negative, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < -1:
            raise ValueError(f"top_k must be -1 (disable), 0 (disable) or at least 1, got {self.top_k}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.logprobs is not None and self.logprobs < 0:
            raise ValueError(f"logprobs must be non-negative, got {self.logprobs}")
        self.top_k = max(self.top_k, 0)
        self.stop_token_ids = [int(t) for t in self.stop_token_ids]

    @property
    def greedy(self) -> bool:
        return self.temperature < 1e-5


class SequenceStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


_seq_ids = itertools.count()


class Sequence:
    """One stream of tokens and its progress through the KV cache.

    The scheduler reads ``num_tokens`` (tokens wanted in the KV cache: all known tokens plus
    the speculative lookahead), ``num_computed_tokens``, ``priority`` and ``arrival``.
    """

    def __init__(self, request: Request, token_ids: list[int], index: int = 0):
        self.seq_id = next(_seq_ids)
        self.request = request
        self.index = index                     # which of the request's n outputs
        self.token_ids = list(token_ids)       # prompt + output
        self.num_prompt_tokens = len(request.prompt_token_ids)
        self.num_computed_tokens = 0           # target KV computed for token_ids[:this]
        self.num_draft_computed = 0            # draft-model KV computed (speculative decoding)
        self.num_lookahead_tokens = 0          # speculative tokens to verify in the next step
        self.block_table: list[int] = []
        self.status = SequenceStatus.WAITING
        self.priority = request.priority
        self.arrival = (request.arrival, index)  # forked sequences queue right behind their parent
        self.finish_reason: str | None = None
        self.token_times: list[float] = []
        self.logprobs: list[dict[int, float]] = []
        self.cumulative_logprob = 0.0

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids) + self.num_lookahead_tokens

    @property
    def output_token_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens:]

    @property
    def num_output_tokens(self) -> int:
        return len(self.token_ids) - self.num_prompt_tokens

    @property
    def is_finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def __repr__(self) -> str:
        return (f"Sequence(request={self.request.request_id!r}, index={self.index}, "
                f"tokens={len(self.token_ids)}, computed={self.num_computed_tokens}, "
                f"blocks={self.block_table})")


class Request:
    """A prompt, its sampling parameters, and its sequences (one, or n after the fork)."""

    def __init__(self, request_id: str, prompt: str | None, prompt_token_ids: list[int],
                 params: SamplingParams, arrival: int, priority: int = 0, device: str = "cpu"):
        self.request_id = request_id
        self.prompt = prompt
        self.prompt_token_ids = list(prompt_token_ids)
        self.params = params
        self.arrival = arrival                 # admission order, for FCFS
        self.priority = priority
        self.arrival_time = time.monotonic()
        self.first_token_time: float | None = None
        self.generator = None
        if params.seed is not None:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(params.seed)
        self.seqs = [Sequence(self, self.prompt_token_ids)]
        self.forked = params.n == 1

    @property
    def finished(self) -> bool:
        return self.forked and all(s.is_finished for s in self.seqs)


class CompletionOutput:
    """One of a request's n outputs. ``text`` is decoded on first access."""

    def __init__(self, seq: Sequence, tokenizer=None):
        self.index = seq.index
        self.token_ids = seq.output_token_ids
        self.finish_reason = seq.finish_reason
        self.token_times = list(seq.token_times)
        self.logprobs = list(seq.logprobs) if seq.request.params.logprobs is not None else None
        self.cumulative_logprob = seq.cumulative_logprob
        self._tokenizer = tokenizer
        self._text = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._tokenizer.decode(self.token_ids, skip_special_tokens=True) if self._tokenizer else ""
        return self._text

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def __repr__(self) -> str:
        return f"CompletionOutput(index={self.index}, token_ids={self.token_ids}, finish_reason={self.finish_reason!r})"


class RequestOutput:
    """A request's outputs so far (cumulative). ``token_ids``, ``text``, ``finish_reason``,
    ``logprobs`` and ``token_times`` are those of ``outputs[0]`` (the only one when n = 1).

    Timestamps are ``time.monotonic()`` values: TTFT = ``first_token_time - arrival_time``,
    inter-token latencies = differences of consecutive ``token_times``.
    """

    def __init__(self, request: Request, tokenizer=None):
        self.request_id = request.request_id
        self.prompt = request.prompt
        self.prompt_token_ids = request.prompt_token_ids
        self.outputs = [CompletionOutput(s, tokenizer) for s in request.seqs]
        self.finished = request.finished
        self.arrival_time = request.arrival_time
        self.first_token_time = request.first_token_time

    token_ids = property(lambda self: self.outputs[0].token_ids)
    text = property(lambda self: self.outputs[0].text)
    finish_reason = property(lambda self: self.outputs[0].finish_reason)
    logprobs = property(lambda self: self.outputs[0].logprobs)
    token_times = property(lambda self: self.outputs[0].token_times)

    def __repr__(self) -> str:
        return (f"RequestOutput(request_id={self.request_id!r}, token_ids={self.token_ids}, "
                f"finish_reason={self.finish_reason!r}, finished={self.finished})")
