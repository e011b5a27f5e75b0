"""The engine's scheduler: the waiting and running queues, and the ``schedule_step`` part.

``waiting`` and ``running`` are plain lists of ``Sequence`` objects, left public on purpose:
print ``engine.scheduler`` between steps to watch continuous batching happen. Each call of
``schedule()`` is one call of the ``schedule_step`` part (token budget, ``max_num_seqs``,
chunked prefill, preemption by recompute); this class only keeps the queues and statistics.
"""
from __future__ import annotations

from .block_manager import KVCacheManager
from .parts import EngineParts
from .sequence import Sequence, SequenceStatus


class Scheduler:
    def __init__(self, parts: EngineParts, kv: KVCacheManager, max_num_seqs: int,
                 max_num_batched_tokens: int):
        self.parts = parts
        self.kv = kv
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: list[Sequence] = []
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        seq.status = SequenceStatus.WAITING
        self.waiting.append(seq)

    def schedule(self):
        """One scheduling decision; returns the part's plan (``num_scheduled_tokens`` etc.)."""
        plan = self.parts.schedule_step(self.waiting, self.running, self.kv,
                                        self.max_num_seqs, self.max_num_batched_tokens)
        for seq in plan.admitted:
            seq.status = SequenceStatus.RUNNING
        for seq in plan.preempted:
            seq.status = SequenceStatus.WAITING
            seq.num_draft_computed = 0
            self.num_preemptions += 1
        return plan

    def finish(self, seq: Sequence) -> None:
        """Take a sequence out of whichever queue holds it and free its blocks."""
        if seq in self.running:
            self.running.remove(seq)
            self.kv.free(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        seq.status = SequenceStatus.FINISHED

    def __repr__(self) -> str:
        def row(seqs):
            return ", ".join(f"{s.request.request_id}#{s.index}({s.num_computed_tokens}/{len(s.token_ids)})"
                             for s in seqs) or "-"
        return (f"Scheduler(free blocks {self.kv.num_free_blocks()}/{self.kv.num_blocks}, "
                f"preemptions {self.num_preemptions})\n  running: {row(self.running)}\n"
                f"  waiting: {row(self.waiting)}")
