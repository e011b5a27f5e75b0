"""PagedAttention block manager: which physical KV blocks hold which sequence's tokens.

Token i of a sequence lives in block ``table[i // block_size]`` at offset ``i % block_size``.
Blocks are reference counted so that forked sequences (parallel sampling, beam search) share
their prompt blocks; the first write into a shared, partly filled last block copies it
(copy-on-write). ``num_tokens`` counts reserved *slots*: an engine may reserve slots ahead of
the tokens it has computed (speculative decoding reserves gamma + 1) and later overwrite the
slots of rejected tokens, so the block manager never needs to shrink a sequence.
"""
from collections import deque


class OutOfBlocksError(RuntimeError):
    """The pool has fewer free blocks than the operation needs (nothing was changed)."""


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int):
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.free_blocks = deque(range(num_blocks))
        self.ref_counts = [0] * num_blocks
        self.tables = {}   # seq_id -> list of block ids, in token order
        self.lengths = {}  # seq_id -> number of token slots

    def num_free_blocks(self) -> int:
        return len(self.free_blocks)

    def blocks_for(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)  # ceil division

    def can_allocate(self, num_tokens: int) -> bool:
        return self.blocks_for(num_tokens) <= self.num_free_blocks()

    def _take_block(self) -> int:
        if not self.free_blocks:
            raise OutOfBlocksError("no free KV block left")
        block = self.free_blocks.popleft()
        self.ref_counts[block] = 1
        return block

    def _release_block(self, block: int) -> None:
        self.ref_counts[block] -= 1
        if self.ref_counts[block] == 0:
            self.free_blocks.append(block)

    def allocate(self, seq_id, num_tokens: int) -> list[int]:
        if seq_id in self.tables:
            raise ValueError(f"sequence {seq_id!r} already has blocks")
        if not self.can_allocate(num_tokens):  # all or nothing
            raise OutOfBlocksError(f"sequence {seq_id!r} needs {self.blocks_for(num_tokens)} blocks, "
                                   f"only {self.num_free_blocks()} are free")
        self.tables[seq_id] = [self._take_block() for _ in range(self.blocks_for(num_tokens))]
        self.lengths[seq_id] = num_tokens
        return list(self.tables[seq_id])

    def append_slot(self, seq_id) -> tuple[int, int] | None:
        table, n = self.tables[seq_id], self.lengths[seq_id]
        copy = None
        if n % self.block_size == 0:                 # last block full (or none yet): a fresh block
            table.append(self._take_block())
        elif self.ref_counts[table[-1]] > 1:         # shared, partly filled: copy on write
            src, dst = table[-1], self._take_block()
            self._release_block(src)
            table[-1] = dst
            copy = (src, dst)
        self.lengths[seq_id] = n + 1
        return copy

    def fork(self, parent_id, child_id) -> None:
        if child_id in self.tables:
            raise ValueError(f"sequence {child_id!r} already has blocks")
        self.tables[child_id] = list(self.tables[parent_id])
        self.lengths[child_id] = self.lengths[parent_id]
        for block in self.tables[child_id]:
            self.ref_counts[block] += 1

    def free(self, seq_id) -> None:
        table = self.tables.pop(seq_id)
        del self.lengths[seq_id]
        for block in reversed(table):  # tail first: a cache evicts the end of a prefix first
            self._release_block(block)

    def block_table(self, seq_id) -> list[int]:
        return list(self.tables[seq_id])

    def num_tokens(self, seq_id) -> int:
        return self.lengths[seq_id]

    def ref_count(self, block_id: int) -> int:
        return self.ref_counts[block_id]
