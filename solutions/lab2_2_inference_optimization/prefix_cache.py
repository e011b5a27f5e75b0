# Generated from source/lab2_2_inference_optimization/01-KV_Cache_Optimization.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab22_nb01 ---
# Shared by the exercises of this notebook: the standard library and trusted course code only.
import math
from collections import OrderedDict

# Lab 2.1 parts: the paged block manager that prefix caching extends (01) and the KV cache size formula
# (02-Basic_Inference): the course's reference once Lab 2.1 is published (and always when graded), your own
# Lab 2.1 solutions (notebooks/lab2_1_vllm_deployment/) before that.
from labkit.earlier_labs import earlier_part

BlockManager, OutOfBlocksError = earlier_part("lab2_1_vllm_deployment", "block_manager",
                                              "BlockManager", "OutOfBlocksError")
kv_cache_bytes = earlier_part("lab2_1_vllm_deployment", "kv_cache_size", "kv_cache_bytes")

# --- cell: prefix_cache ---
def hash_block(parent_hash, token_ids) -> int:
    """The name of a FULL block: a hash of its parent block's hash and its own tokens.

    Chained: the hash of block i depends on all tokens of blocks 0..i, so two blocks with equal
    hashes hold the KV of equal whole prefixes. parent_hash is None for a sequence's first block.
    token_ids may be a list or a tuple (the same tokens give the same hash).
    """
    return hash((parent_hash, tuple(token_ids)))


class PrefixCachingBlockManager(BlockManager):
    """The Lab 2.1 block manager plus a prefix cache of full blocks.

    * ``commit(seq_id, token_ids)``: the KV of ``token_ids`` (the sequence's first tokens) is computed;
      cache every FULL block that earlier commits of this sequence did not cover yet, under its chained
      hash. The first block cached under a hash stays the cached one.
    * ``allocate(seq_id, num_tokens, token_ids=)``: reuse the blocks of the longest cached prefix of
      ``token_ids[:num_tokens - 1]`` (whole blocks; at least one token is always left to compute),
      take new blocks for the rest; all or nothing. ``num_cached_tokens(seq_id)`` tells how many.
    * ``can_allocate(num_tokens, token_ids=)``: would that allocate succeed now?
    * The free pool is ONE queue, least recently used first: never used blocks, then blocks in the order
      their ref count reached 0. A freed block keeps its content and its hash; new blocks come from the
      front, and taking a block that still caches a prefix evicts it from the cache.
    """

    def __init__(self, num_blocks: int, block_size: int):
        super().__init__(num_blocks, block_size)
        self.free_blocks = OrderedDict.fromkeys(range(num_blocks))  # front = least recently used
        self.cached = {}      # block hash -> block id
        self.hash_of = {}     # block id -> block hash, for cached blocks
        self.seq_hashes = {}  # seq_id -> hashes of its leading full blocks that are covered
        self.hits = {}        # seq_id -> tokens found in the cache by allocate

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

    def can_allocate(self, num_tokens: int, token_ids=()) -> bool:
        hits = self.cached_prefix(list(token_ids)[:max(num_tokens - 1, 0)])
        idle_hits = sum(1 for b in hits if self.ref_counts[b] == 0)  # they leave the free pool
        return self.blocks_for(num_tokens) - len(hits) <= self.num_free_blocks() - idle_hits

    def allocate(self, seq_id, num_tokens: int, token_ids=()) -> list[int]:
        if seq_id in self.tables:
            raise ValueError(f"sequence {seq_id!r} already has blocks")
        if num_tokens < 0:
            raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
        if not self.can_allocate(num_tokens, token_ids):   # all or nothing
            raise OutOfBlocksError(f"sequence {seq_id!r} needs more blocks than are free")
        hits = self.cached_prefix(list(token_ids)[:max(num_tokens - 1, 0)])
        for block in hits:                             # claim the hits BEFORE taking new blocks
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
        hashes, table, bs = self.seq_hashes.setdefault(seq_id, []), self.tables[seq_id], self.block_size
        for i in range(len(hashes), len(token_ids) // bs):
            h = hash_block(hashes[-1] if hashes else None, token_ids[i * bs:(i + 1) * bs])
            hashes.append(h)
            if h not in self.cached and table[i] not in self.hash_of:  # the first copy is kept
                self.cached[h] = table[i]
                self.hash_of[table[i]] = h

    def free(self, seq_id) -> None:
        super().free(seq_id)                           # releases the table tail first
        self.seq_hashes.pop(seq_id, None)
        self.hits.pop(seq_id, None)
