"""Prefix caching: reuse the KV blocks of a prompt prefix that an earlier request computed.

A *full* block is named by a chained hash: hash(parent block's hash, its tokens), so equal hashes
mean equal whole prefixes, not just equal blocks. When a block's KV is computed (``commit``) its
hash goes in the cache. A freed block keeps its content and its hash: it waits in the free pool,
least recently used first, and is only forgotten (evicted) when the pool hands it out again.
The Lab 2.1 block manager does all the rest: this class only changes how blocks are taken,
released and found. (Production engines hash with sha256 so collisions are negligible.)
"""
from collections import OrderedDict

from solutions.lab2_1_vllm_deployment.block_manager import BlockManager, OutOfBlocksError


def hash_block(parent_hash, token_ids) -> int:
    return hash((parent_hash, tuple(token_ids)))


class PrefixCachingBlockManager(BlockManager):
    def __init__(self, num_blocks: int, block_size: int):
        super().__init__(num_blocks, block_size)
        self.free_blocks = OrderedDict.fromkeys(range(num_blocks))  # front = least recently used
        self.cached = {}      # block hash -> block id
        self.hash_of = {}     # block id -> block hash, for cached blocks
        self.seq_hashes = {}  # seq_id -> hashes of its leading full, computed blocks
        self.hits = {}        # seq_id -> number of tokens found in the cache by allocate

    def _take_block(self) -> int:
        if not self.free_blocks:
            raise OutOfBlocksError("no free KV block left")
        block, _ = self.free_blocks.popitem(last=False)
        if block in self.hash_of:                      # evict: its content is about to change
            del self.cached[self.hash_of.pop(block)]
        self.ref_counts[block] = 1
        return block

    def _release_block(self, block: int) -> None:
        self.ref_counts[block] -= 1
        if self.ref_counts[block] == 0:
            self.free_blocks[block] = None             # most recently used end; still cached

    def cached_prefix(self, token_ids) -> list[int]:
        """Blocks holding the longest cached prefix of token_ids (whole blocks only)."""
        blocks, h, bs = [], None, self.block_size
        for start in range(0, len(token_ids) - bs + 1, bs):
            h = hash_block(h, token_ids[start:start + bs])
            if h not in self.cached:
                break
            blocks.append(self.cached[h])
        return blocks

    def _hits(self, num_tokens, token_ids):
        # At least one token is always computed: the engine needs its logits.
        return self.cached_prefix(list(token_ids)[:max(num_tokens - 1, 0)])

    def can_allocate(self, num_tokens: int, token_ids=()) -> bool:
        hits = self._hits(num_tokens, token_ids)
        idle_hits = sum(1 for b in hits if self.ref_counts[b] == 0)  # they leave the free pool
        return self.blocks_for(num_tokens) - len(hits) <= self.num_free_blocks() - idle_hits

    def allocate(self, seq_id, num_tokens: int, token_ids=()) -> list[int]:
        if seq_id in self.tables:
            raise ValueError(f"sequence {seq_id!r} already has blocks")
        if not self.can_allocate(num_tokens, token_ids):
            raise OutOfBlocksError(f"sequence {seq_id!r} needs more blocks than are free")
        hits = self._hits(num_tokens, token_ids)
        for block in hits:
            if self.ref_counts[block] == 0:
                del self.free_blocks[block]
            self.ref_counts[block] += 1
        new = [self._take_block() for _ in range(self.blocks_for(num_tokens) - len(hits))]
        self.tables[seq_id] = hits + new
        self.lengths[seq_id] = num_tokens
        self.seq_hashes[seq_id] = [self.hash_of[b] for b in hits]
        self.hits[seq_id] = len(hits) * self.block_size
        return list(self.tables[seq_id])

    def num_cached_tokens(self, seq_id) -> int:
        return self.hits.get(seq_id, 0)

    def commit(self, seq_id, token_ids) -> None:
        """token_ids (the sequence's first tokens) now have their KV computed: cache full blocks."""
        hashes, table, bs = self.seq_hashes.setdefault(seq_id, []), self.tables[seq_id], self.block_size
        for i in range(len(hashes), len(token_ids) // bs):
            h = hash_block(hashes[-1] if hashes else None, token_ids[i * bs:(i + 1) * bs])
            hashes.append(h)
            if h not in self.cached and table[i] not in self.hash_of:  # first copy is kept
                self.cached[h] = table[i]
                self.hash_of[table[i]] = h

    def free(self, seq_id) -> None:
        super().free(seq_id)
        self.seq_hashes.pop(seq_id, None)
        self.hits.pop(seq_id, None)
