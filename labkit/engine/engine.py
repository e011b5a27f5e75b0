"""LLMEngine: add requests, call ``step()`` until done. One step = schedule, run, sample, update.

    engine = LLMEngine(tiny_models().target)
    outs = engine.generate(["Hello"], SamplingParams(max_tokens=20, temperature=0))

Each ``step()``:

1. the scheduler (the ``schedule_step`` part) picks the tokens of this step: decode tokens of
   running sequences, prompt chunks of new ones, within ``max_num_batched_tokens`` and
   ``max_num_seqs``, preempting the latest sequence when the block pool runs dry;
2. copy-on-write copies queued by the block manager are applied to the KV cache;
3. the model runner computes all scheduled tokens in one forward pass (or, with a draft model,
   the speculative decoder drafts and verifies);
4. the sampler turns the logits of sequences that reached their end into new tokens;
5. finished sequences free their blocks; ``RequestOutput`` objects report the progress.
"""
from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import Iterable

import torch

from .block_manager import KVCacheManager
from .model_runner import ModelRunner, SeqInput, default_dtype, load_hf_model
from .parts import EngineParts, reference_parts
from .sampler import Sampler
from .scheduler import Scheduler
from .sequence import Request, RequestOutput, SamplingParams, Sequence, SequenceStatus
from .spec_decode import SpecDecoder

logger = logging.getLogger("labkit.engine")

DEFAULT_CPU_KV_BYTES = 1 << 30


def _load_tokenizer(path):
    try:
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(str(path))
    except Exception:  # a weights-only directory: the engine works on token ids
        return None


def _eos_ids(model) -> set[int]:
    cfg = getattr(model, "generation_config", None)
    eos = getattr(cfg, "eos_token_id", None)
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    if eos is None:
        return set()
    return {int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])}


class LLMEngine:
    def __init__(self, model_path_or_hf_model, parts: EngineParts | None = None, *, block_size: int = 16,
                 num_blocks: int | None = None, kv_cache_memory_bytes: int | None = None,
                 max_num_seqs: int = 64, max_num_batched_tokens: int = 2048,
                 enable_prefix_caching: bool = False, device: str = "cpu", dtype: torch.dtype | None = None,
                 draft_model=None, num_speculative_tokens: int = 0, tokenizer=None,
                 max_model_len: int | None = None, scheduling_policy: str = "fcfs", seed: int = 0):
        """``model_path_or_hf_model``: a Hugging Face directory or a loaded ``*ForCausalLM`` (Llama family).

        KV memory: ``num_blocks`` blocks of ``block_size`` tokens, or as many as fit in
        ``kv_cache_memory_bytes`` (sized with the ``kv_cache_bytes`` part), by default enough for
        ``max_num_seqs`` full-length sequences (at most 1 GiB) on a CPU, half the free memory on a GPU.
        ``draft_model`` + ``num_speculative_tokens``: speculative decoding. ``tokenizer``: an object or
        a path (default: the model directory's). ``scheduling_policy``: "fcfs" or "priority"
        (``add_request(..., priority=)``, lower first). ``seed``: for requests without their own seed.
        """
        if scheduling_policy not in ("fcfs", "priority"):
            raise ValueError(f"scheduling_policy must be 'fcfs' or 'priority', got {scheduling_policy!r}")
        if draft_model is not None and num_speculative_tokens < 1:
            raise ValueError("a draft model needs num_speculative_tokens >= 1")
        if num_speculative_tokens and draft_model is None:
            raise ValueError("num_speculative_tokens needs a draft_model")
        self.parts = parts or reference_parts()
        self.device = torch.device(device)
        self.dtype = dtype or default_dtype(device)
        self.scheduling_policy = scheduling_policy

        model = model_path_or_hf_model
        if isinstance(model, (str, Path)):
            tokenizer = tokenizer if tokenizer is not None else _load_tokenizer(model)
            model = load_hf_model(model, self.dtype)
        draft = load_hf_model(draft_model, self.dtype) if isinstance(draft_model, (str, Path)) else draft_model
        self.tokenizer = _load_tokenizer(tokenizer) if isinstance(tokenizer, (str, Path)) else tokenizer
        self.eos_token_ids = _eos_ids(model)
        self.max_model_len = max_model_len or model.config.max_position_embeddings
        if draft is not None:
            self.max_model_len = min(self.max_model_len, draft.config.max_position_embeddings)

        # Size the block pool: one block id addresses a block in the target's and the draft's cache.
        elem = torch.tensor([], dtype=self.dtype).element_size()
        block_bytes = sum(ModelRunner.cache_bytes_per_block(m.config, block_size, elem, self.parts.kv_cache_bytes)
                          for m in ([model, draft] if draft is not None else [model]))
        if num_blocks is None:
            if kv_cache_memory_bytes is None:
                want = max_num_seqs * self.max_model_len * block_bytes // block_size
                kv_cache_memory_bytes = min(want, DEFAULT_CPU_KV_BYTES) if self.device.type == "cpu" \
                    else int(0.5 * torch.cuda.mem_get_info(self.device)[0])
            num_blocks = int(kv_cache_memory_bytes // block_bytes)
        if num_blocks < 1:
            raise ValueError(f"the KV cache budget holds no block of {block_bytes} bytes")
        self.block_size, self.num_blocks = block_size, num_blocks

        self.runner = ModelRunner(model, num_blocks, block_size, device, self.dtype, self.max_model_len)
        self.draft_runner = (ModelRunner(draft, num_blocks, block_size, device, self.dtype, self.max_model_len)
                             if draft is not None else None)
        if draft is not None and draft.config.vocab_size != model.config.vocab_size:
            raise ValueError("the draft and target models must share a vocabulary")
        self.kv = KVCacheManager(self.parts, num_blocks, block_size, enable_prefix_caching)
        self.scheduler = Scheduler(self.parts, self.kv, max_num_seqs, max_num_batched_tokens)
        self.sampler = Sampler(self.parts, torch.Generator(device=self.device).manual_seed(seed))
        self.spec = (SpecDecoder(self.runner, self.draft_runner, self.sampler, self.parts, num_speculative_tokens)
                     if draft is not None else None)
        self.requests: dict[str, Request] = {}
        self._arrivals = itertools.count()
        self.num_steps = 0
        self.num_generated_tokens = 0

    # ---- requests ----------------------------------------------------------------------------------
    def add_request(self, request_id, prompt: str | list[int], sampling_params: SamplingParams | None = None,
                    priority: int = 0) -> None:
        """Queue a request. ``prompt``: text (needs a tokenizer) or a list of token ids."""
        params = sampling_params or SamplingParams()
        request_id = str(request_id)
        if request_id in self.requests:
            raise ValueError(f"request id {request_id!r} is already in use")
        if priority and self.scheduling_policy == "fcfs":
            raise ValueError("priority needs LLMEngine(..., scheduling_policy='priority')")
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise ValueError("a text prompt needs a tokenizer; pass token ids instead")
            text, token_ids = prompt, self.tokenizer(prompt)["input_ids"]
        else:
            text, token_ids = None, [int(t) for t in prompt]
        if not token_ids:
            raise ValueError("the prompt is empty")
        if not all(0 <= t < self.runner.vocab_size for t in token_ids):
            raise ValueError(f"prompt token ids must be in [0, {self.runner.vocab_size})")
        if len(token_ids) >= self.max_model_len:
            raise ValueError(f"the prompt has {len(token_ids)} tokens; max_model_len is {self.max_model_len}")
        longest = min(len(token_ids) + params.max_tokens, self.max_model_len) + self.spec_gamma
        if -(-longest // self.block_size) > self.num_blocks:
            raise ValueError(f"a request of up to {longest} tokens needs more than the {self.num_blocks} "
                             f"blocks of the KV cache")
        request = Request(request_id, text, token_ids, params, next(self._arrivals), priority, self.device)
        self.requests[request_id] = request
        self.scheduler.add(request.seqs[0])

    @property
    def spec_gamma(self) -> int:
        return self.spec.gamma if self.spec else 0

    def abort(self, request_id) -> RequestOutput | None:
        """Stop a request now and free its blocks; returns its final output (finish_reason 'abort')."""
        request = self.requests.pop(str(request_id), None)
        if request is None:
            return None
        for seq in request.seqs:
            if not seq.is_finished:
                self.scheduler.finish(seq)
                seq.finish_reason = "abort"
        request.forked = True
        return RequestOutput(request, self.tokenizer)

    def has_unfinished(self) -> bool:
        return bool(self.requests)

    # ---- one step ----------------------------------------------------------------------------------
    def step(self, finished_only: bool = False) -> list[RequestOutput]:
        """Schedule, run one forward pass (or one speculative round), sample; outputs of the
        requests that progressed (cumulative: all their tokens so far), or with ``finished_only``
        of those that finished in this step."""
        if self.spec:
            for seq in self.scheduler.running:
                seq.num_lookahead_tokens = self.spec.lookahead(seq, self.max_model_len)
        plan = self.scheduler.schedule()
        for seq in plan.preempted:
            seq.num_lookahead_tokens = 0
        scheduled = plan.num_scheduled_tokens
        if not scheduled:
            return []
        self.num_steps += 1
        copies = self.kv.take_copies()
        self.runner.copy_blocks(copies)
        if self.draft_runner is not None:
            self.draft_runner.copy_blocks(copies)

        touched: dict[str, Request] = {}
        if self.spec:
            results, logits, to_sample = self.spec.step(scheduled)
            for seq, n in scheduled.items():
                res = results.get(seq)
                if res is None:                       # a prompt chunk: both models computed it
                    seq.num_draft_computed = seq.num_computed_tokens + n
                    self._advance(seq, seq.num_computed_tokens + n)
                    continue
                computed = seq.num_computed_tokens + len(res.tokens)  # t_L and the accepted drafts
                self._append(seq, res.tokens, res.logits)
                touched[seq.request.request_id] = seq.request
                if not seq.is_finished:
                    self._advance(seq, computed)
        else:
            inputs, to_sample = [], []
            for seq, n in scheduled.items():
                c = seq.num_computed_tokens
                finishes = c + n == len(seq.token_ids)
                inputs.append(SeqInput(seq.token_ids[c:c + n], c, seq.block_table, int(finishes)))
                if finishes:
                    to_sample.append(seq)
            logits = self.runner.forward(inputs)
            for seq, n in scheduled.items():
                self._advance(seq, seq.num_computed_tokens + n)
        if to_sample:
            self._sample(to_sample, logits)
            for seq in to_sample:
                touched[seq.request.request_id] = seq.request

        outputs = []
        for request in touched.values():
            finished = request.finished
            if finished:
                del self.requests[request.request_id]
            if finished or not finished_only:
                outputs.append(RequestOutput(request, self.tokenizer))
        return outputs

    def _advance(self, seq: Sequence, num_computed: int) -> None:
        old = seq.num_computed_tokens
        seq.num_computed_tokens = num_computed
        if self.kv.prefix_caching and num_computed // self.block_size > old // self.block_size:
            done = min(num_computed, seq.num_draft_computed) if self.spec else num_computed
            self.kv.commit(seq, done)

    def _sample(self, seqs: list[Sequence], logits: torch.Tensor) -> None:
        """Sample the next token of each sequence; a request with n > 1 forks here, after its prompt."""
        rows, row_seqs = [], []
        for i, seq in enumerate(seqs):
            request = seq.request
            if not request.forked:                    # first token of an n > 1 request: fork
                request.forked = True
                for index in range(1, request.params.n):
                    child = Sequence(request, seq.token_ids, index)
                    child.num_computed_tokens = seq.num_computed_tokens
                    child.num_draft_computed = seq.num_draft_computed
                    child.status = SequenceStatus.RUNNING
                    self.kv.fork(seq, child)
                    self.scheduler.running.append(child)
                    request.seqs.append(child)
                for s in request.seqs:
                    rows.append(i)
                    row_seqs.append(s)
            else:
                rows.append(i)
                row_seqs.append(seq)
        if rows != list(range(len(seqs))):
            logits = logits[torch.tensor(rows, device=logits.device)]
        params = [s.request.params for s in row_seqs]
        tokens = self.sampler.sample(logits, params, [s.request.generator for s in row_seqs])
        for i, (seq, token, p) in enumerate(zip(row_seqs, tokens, params)):
            self._append(seq, [token], logits[i:i + 1] if p.logprobs is not None else None)

    def _append(self, seq: Sequence, tokens: list[int], logits: torch.Tensor | None) -> None:
        """Add sampled tokens to a sequence; stop it on a stop token, max_tokens or max_model_len."""
        params, request = seq.request.params, seq.request
        if params.logprobs is not None:
            entries = Sampler.logprobs(logits[:len(tokens)], tokens, [params.logprobs] * len(tokens))
        now = time.monotonic()
        if request.first_token_time is None:
            request.first_token_time = now
        for i, token in enumerate(tokens):
            seq.token_ids.append(token)
            seq.token_times.append(now)
            self.num_generated_tokens += 1
            if params.logprobs is not None:
                seq.logprobs.append(entries[i])
                seq.cumulative_logprob += entries[i][token]
            if token in params.stop_token_ids or (not params.ignore_eos and token in self.eos_token_ids):
                seq.finish_reason = "stop"
            elif seq.num_output_tokens >= params.max_tokens or len(seq.token_ids) >= self.max_model_len:
                seq.finish_reason = "length"
            if seq.finish_reason:
                self.scheduler.finish(seq)
                return

    # ---- conveniences -------------------------------------------------------------------------------
    def generate(self, prompts, sampling_params: SamplingParams | list[SamplingParams] | None = None,
                 progress: bool = False) -> list[RequestOutput]:
        """Run prompts (texts or token-id lists) to completion; outputs in the order of the prompts."""
        if isinstance(prompts, str) or (isinstance(prompts, list) and prompts and isinstance(prompts[0], int)):
            prompts = [prompts]
        prompts = list(prompts)
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        base = f"gen{next(self._arrivals)}-"
        ids = [f"{base}{i}" for i in range(len(prompts))]
        for rid, prompt, p in zip(ids, prompts, params):
            self.add_request(rid, prompt, p)
        final: dict[str, RequestOutput] = {}
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(prompts), desc="generate")
        while len(final) < len(ids) and self.has_unfinished():
            for out in self.step(finished_only=True):
                if out.finished and out.request_id.startswith(base):
                    final[out.request_id] = out
                    if bar is not None:
                        bar.update(1)
        if bar is not None:
            bar.close()
        return [final[rid] for rid in ids]

    def stats(self) -> dict:
        """Queue sizes, memory, preemptions, prefix-cache hit rate, speculative acceptance."""
        s = {
            "num_waiting": len(self.scheduler.waiting),
            "num_running": len(self.scheduler.running),
            "num_free_blocks": self.kv.num_free_blocks(),
            "num_blocks": self.num_blocks,
            "num_preemptions": self.scheduler.num_preemptions,
            "num_copy_on_write": self.kv.num_copies,
            "num_steps": self.num_steps,
            "num_generated_tokens": self.num_generated_tokens,
            "prefix_cache_hit_rate": self.kv.prefix_hit_rate,
        }
        if self.spec:
            st = self.spec.stats
            s.update(spec_acceptance_rate=st.acceptance_rate, spec_alpha=st.alpha,
                     spec_mean_tokens_per_step=st.mean_tokens_per_step, spec_proposed=st.proposed,
                     spec_accepted=st.accepted, spec_num_speculative_tokens=self.spec.gamma)
        return s

    def __repr__(self) -> str:
        return f"LLMEngine(blocks={self.num_blocks}x{self.block_size}, device={self.device})\n{self.scheduler}"
