"""The engine's side of the block manager: sequences in, block tables and KV copies out.

The bookkeeping itself is the ``BlockManager`` part (or ``PrefixCachingBlockManager`` with prefix
caching on). This wrapper implements the ``kv`` protocol that the ``schedule_step`` part calls
(``allocate`` / ``grow`` / ``free``), keeps each sequence's block table up to date, and queues
the copy-on-write copies for the model runner.

Slots are reservations: ``grow(seq, n)`` makes sure ``seq.num_computed_tokens + n`` token slots
exist. Speculative decoding reserves gamma + 1 slots for the positions it verifies; when the
target rejects some drafts, the engine simply does not count their tokens as computed, and the
next steps overwrite those slots. Nothing is ever truncated.
"""
from __future__ import annotations

from .parts import EngineParts
from .sequence import Sequence


class KVCacheManager:
    def __init__(self, parts: EngineParts, num_blocks: int, block_size: int,
                 enable_prefix_caching: bool = False):
        cls = parts.PrefixCachingBlockManager if enable_prefix_caching else parts.BlockManager
        self.blocks = cls(num_blocks, block_size)
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.prefix_caching = enable_prefix_caching
        self.pending_copies: list[tuple[int, int]] = []  # (src, dst) block copies for the runner
        self.num_copies = 0
        self.prefix_queried_tokens = 0
        self.prefix_hit_tokens = 0

    def num_free_blocks(self) -> int:
        return self.blocks.num_free_blocks()

    # ---- the kv protocol of schedule_step -------------------------------------------------------
    def allocate(self, seq: Sequence) -> bool:
        """Reserve slots for all of a waiting sequence's known tokens (whole prompt at once)."""
        n = len(seq.token_ids)
        if self.prefix_caching:
            if not self.blocks.can_allocate(n, token_ids=seq.token_ids):
                return False
            self.blocks.allocate(seq.seq_id, n, token_ids=seq.token_ids)
            seq.num_computed_tokens = self.blocks.num_cached_tokens(seq.seq_id)
            self.prefix_queried_tokens += n
            self.prefix_hit_tokens += seq.num_computed_tokens
        else:
            if not self.blocks.can_allocate(n):
                return False
            self.blocks.allocate(seq.seq_id, n)
            seq.num_computed_tokens = 0
        seq.num_draft_computed = seq.num_computed_tokens  # cached blocks hold draft KV too
        seq.block_table = self.blocks.block_table(seq.seq_id)
        return True

    def grow(self, seq: Sequence, num_new_tokens: int) -> bool:
        """Reserve slots up to num_computed_tokens + num_new_tokens; all or nothing."""
        have = self.blocks.num_tokens(seq.seq_id)
        extra = seq.num_computed_tokens + num_new_tokens - have
        if extra <= 0:
            return True
        bs = self.block_size
        needed = -(-(have + extra) // bs) - -(-have // bs)          # blocks past the current last
        if have % bs and self.blocks.ref_count(seq.block_table[-1]) > 1:
            needed += 1                                             # shared last block: copy on write
        if needed > self.blocks.num_free_blocks():
            return False
        for _ in range(extra):
            copy = self.blocks.append_slot(seq.seq_id)
            if copy is not None:
                self.pending_copies.append(copy)
                self.num_copies += 1
        if needed:
            seq.block_table = self.blocks.block_table(seq.seq_id)
        return True

    def free(self, seq: Sequence) -> None:
        self.blocks.free(seq.seq_id)
        seq.block_table = []

    # ---- the rest --------------------------------------------------------------------------------
    def fork(self, parent: Sequence, child: Sequence) -> None:
        self.blocks.fork(parent.seq_id, child.seq_id)
        child.block_table = list(parent.block_table)

    def commit(self, seq: Sequence, num_computed: int) -> None:
        """Tell the prefix cache that the KV of seq.token_ids[:num_computed] is now in the cache."""
        if self.prefix_caching and num_computed >= self.block_size:
            self.blocks.commit(seq.seq_id, seq.token_ids[:num_computed])

    def take_copies(self) -> list[tuple[int, int]]:
        copies, self.pending_copies = self.pending_copies, []
        return copies

    @property
    def prefix_hit_rate(self) -> float:
        return self.prefix_hit_tokens / self.prefix_queried_tokens if self.prefix_queried_tokens else 0.0
