# A different correct design: sha256 chained hashes, a plain list as the LRU pool, per-sequence covered counts.
import hashlib


def hash_block(parent_hash, token_ids) -> int:
    data = repr((parent_hash, [int(t) for t in token_ids])).encode()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


class PrefixCachingBlockManager(BlockManager):
    def __init__(self, num_blocks: int, block_size: int):
        super().__init__(num_blocks, block_size)
        self.free_blocks = list(range(num_blocks))   # index 0 = least recently used
        self.block_by_hash = {}
        self.hash_by_block = {}
        self.covered = {}                            # seq -> (number of covered blocks, last hash)
        self.cached_tokens = {}

    def _take_block(self) -> int:
        if len(self.free_blocks) == 0:
            raise OutOfBlocksError("the KV pool is exhausted")
        block = self.free_blocks.pop(0)
        old = self.hash_by_block.pop(block, None)
        if old is not None:
            self.block_by_hash.pop(old)
        self.ref_counts[block] = 1
        return block

    def _release_block(self, block: int) -> None:
        self.ref_counts[block] = self.ref_counts[block] - 1
        if not self.ref_counts[block]:
            self.free_blocks.append(block)

    def _lookup(self, num_tokens, token_ids):
        tokens = list(token_ids)[:num_tokens - 1] if num_tokens > 0 else []
        found, parent = [], None
        for i in range(len(tokens) // self.block_size):
            parent = hash_block(parent, tokens[i * self.block_size:(i + 1) * self.block_size])
            block = self.block_by_hash.get(parent)
            if block is None:
                break
            found.append((block, parent))
        return found

    def can_allocate(self, num_tokens: int, token_ids=()) -> bool:
        found = self._lookup(num_tokens, token_ids)
        free_after_hits = len(self.free_blocks) - sum(self.ref_counts[b] == 0 for b, _ in found)
        return free_after_hits >= self.blocks_for(num_tokens) - len(found)

    def allocate(self, seq_id, num_tokens: int, token_ids=()) -> list[int]:
        if seq_id in self.tables:
            raise ValueError(f"{seq_id!r} exists")
        if not self.can_allocate(num_tokens, token_ids):
            raise OutOfBlocksError(f"not enough free blocks for {seq_id!r}")
        found = self._lookup(num_tokens, token_ids)
        table = []
        for block, _ in found:
            if self.ref_counts[block] == 0:
                self.free_blocks.remove(block)
            self.ref_counts[block] += 1
            table.append(block)
        while len(table) < self.blocks_for(num_tokens):
            table.append(self._take_block())
        self.tables[seq_id] = table
        self.lengths[seq_id] = num_tokens
        self.covered[seq_id] = (len(found), found[-1][1] if found else None)
        self.cached_tokens[seq_id] = len(found) * self.block_size
        return table[:]

    def num_cached_tokens(self, seq_id) -> int:
        return self.cached_tokens.get(seq_id, 0)

    def commit(self, seq_id, token_ids) -> None:
        done, parent = self.covered.get(seq_id, (0, None))
        table, bs = self.tables[seq_id], self.block_size
        full = len(token_ids) // bs
        for i in range(done, full):
            parent = hash_block(parent, token_ids[i * bs:(i + 1) * bs])
            block = table[i]
            if parent not in self.block_by_hash and block not in self.hash_by_block:
                self.block_by_hash[parent] = block
                self.hash_by_block[block] = parent
        if full > done:
            self.covered[seq_id] = (full, parent)

    def free(self, seq_id) -> None:
        BlockManager.free(self, seq_id)
        self.covered.pop(seq_id, None)
        self.cached_tokens.pop(seq_id, None)
