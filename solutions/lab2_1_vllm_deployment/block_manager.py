# Generated from source/lab2_1_vllm_deployment/01-Setup_and_Installation.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_nb01 ---
# Shared by the exercises of this notebook. Kept light: no torch, no vLLM, no model loading here.
import importlib
import importlib.metadata
import math
import platform
from collections import deque

# --- cell: block_manager ---
class OutOfBlocksError(RuntimeError):
    """The pool has fewer free blocks than the operation needs (nothing was changed)."""


class BlockManager:
    """PagedAttention block manager: which physical KV blocks hold which sequence's tokens.

    Token i of a sequence lives in block ``block_table(seq)[i // block_size]`` at offset
    ``i % block_size``. Blocks are reference counted so that forked sequences (parallel sampling,
    beam search) share their prompt blocks; the first write into a shared, partly filled last
    block copies it (copy-on-write). ``num_tokens`` counts reserved *slots*: an engine may reserve
    slots ahead of the tokens it has computed (speculative decoding reserves gamma + 1) and later
    overwrite the slots of rejected tokens, so the block manager never needs to shrink a sequence.
    """

    def __init__(self, num_blocks: int, block_size: int):
        if num_blocks < 0 or block_size < 1:
            raise ValueError(f"need num_blocks >= 0 and block_size >= 1, got {num_blocks}, {block_size}")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.free_blocks = deque(range(num_blocks))
        self.ref_counts = [0] * num_blocks
        self.tables = {}   # seq_id -> list of block ids, in token order
        self.lengths = {}  # seq_id -> number of token slots

    def blocks_for(self, num_tokens: int) -> int:
        """Blocks needed for num_tokens tokens: ceil(num_tokens / block_size)."""
        return -(-num_tokens // self.block_size)

    def _take_block(self) -> int:
        """Take one block from the free pool (ref count 1); OutOfBlocksError if none is free."""
        if not self.free_blocks:
            raise OutOfBlocksError("no free KV block left")
        block = self.free_blocks.popleft()
        self.ref_counts[block] = 1
        return block

    def _release_block(self, block: int) -> None:
        """Drop one reference to block; at 0 it returns to the free pool."""
        self.ref_counts[block] -= 1
        if self.ref_counts[block] == 0:
            self.free_blocks.append(block)

    def num_free_blocks(self) -> int:
        """How many blocks are free (ref count 0)."""
        return len(self.free_blocks)

    def can_allocate(self, num_tokens: int) -> bool:
        """Would allocate(new_seq, num_tokens) succeed now?"""
        return self.blocks_for(num_tokens) <= self.num_free_blocks()

    def allocate(self, seq_id, num_tokens: int) -> list[int]:
        """Blocks for a new sequence of num_tokens tokens (all or nothing); returns its block table."""
        if seq_id in self.tables:
            raise ValueError(f"sequence {seq_id!r} already has blocks")
        if num_tokens < 0:
            raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
        if not self.can_allocate(num_tokens):  # all or nothing
            raise OutOfBlocksError(f"sequence {seq_id!r} needs {self.blocks_for(num_tokens)} blocks, "
                                   f"only {self.num_free_blocks()} are free")
        self.tables[seq_id] = [self._take_block() for _ in range(self.blocks_for(num_tokens))]
        self.lengths[seq_id] = num_tokens
        return list(self.tables[seq_id])

    def append_slot(self, seq_id) -> tuple[int, int] | None:
        """One more token: maybe a fresh block; (src, dst) when a shared last block must be copied."""
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
        """child_id shares all of parent_id's blocks and tokens."""
        parent = self.tables[parent_id]              # KeyError for an unknown parent
        if child_id in self.tables:
            raise ValueError(f"sequence {child_id!r} already has blocks")
        self.tables[child_id] = list(parent)
        self.lengths[child_id] = self.lengths[parent_id]
        for block in parent:
            self.ref_counts[block] += 1

    def free(self, seq_id) -> None:
        """Drop the sequence; blocks whose ref count reaches 0 return to the free pool."""
        table = self.tables.pop(seq_id)
        del self.lengths[seq_id]
        for block in reversed(table):  # tail first: a prefix cache evicts the end of a prefix first
            self._release_block(block)

    def block_table(self, seq_id) -> list[int]:
        """A copy of the sequence's block table (physical block ids in token order)."""
        return list(self.tables[seq_id])

    def num_tokens(self, seq_id) -> int:
        """How many tokens (slots) the sequence holds."""
        return self.lengths[seq_id]

    def ref_count(self, block_id: int) -> int:
        """How many live sequences hold block_id (0 for a free block)."""
        return self.ref_counts[block_id]
