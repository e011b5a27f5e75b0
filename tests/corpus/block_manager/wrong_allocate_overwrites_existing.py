# Wrong: allocate silently replaces an existing sequence (no ValueError), leaking its blocks.
class OutOfBlocksError(RuntimeError):
    """The pool has fewer free blocks than the operation needs (nothing was changed)."""


class BlockManager:
    def __init__(self, num_blocks, block_size):
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.free_blocks = deque(range(num_blocks))
        self.ref_counts = [0] * num_blocks
        self.tables = {}
        self.lengths = {}

    def blocks_for(self, num_tokens):
        return -(-num_tokens // self.block_size)

    def _take_block(self):
        if not self.free_blocks:
            raise OutOfBlocksError("no free KV block left")
        block = self.free_blocks.popleft()
        self.ref_counts[block] = 1
        return block

    def _release_block(self, block):
        self.ref_counts[block] -= 1
        if self.ref_counts[block] == 0:
            self.free_blocks.append(block)

    def num_free_blocks(self):
        return len(self.free_blocks)

    def can_allocate(self, num_tokens):
        return self.blocks_for(num_tokens) <= self.num_free_blocks()

    def allocate(self, seq_id, num_tokens):
        if not self.can_allocate(num_tokens):
            raise OutOfBlocksError("not enough free blocks")
        self.tables[seq_id] = [self._take_block() for _ in range(self.blocks_for(num_tokens))]
        self.lengths[seq_id] = num_tokens
        return list(self.tables[seq_id])

    def append_slot(self, seq_id):
        table, n = self.tables[seq_id], self.lengths[seq_id]
        copy = None
        if n % self.block_size == 0:
            table.append(self._take_block())
        elif self.ref_counts[table[-1]] > 1:
            src, dst = table[-1], self._take_block()
            self._release_block(src)
            table[-1] = dst
            copy = (src, dst)
        self.lengths[seq_id] = n + 1
        return copy

    def fork(self, parent_id, child_id):
        parent = self.tables[parent_id]
        if child_id in self.tables:
            raise ValueError(f"sequence {child_id!r} already exists")
        self.tables[child_id] = list(parent)
        self.lengths[child_id] = self.lengths[parent_id]
        for block in parent:
            self.ref_counts[block] += 1

    def free(self, seq_id):
        table = self.tables.pop(seq_id)
        del self.lengths[seq_id]
        for block in table:
            self._release_block(block)

    def block_table(self, seq_id):
        return list(self.tables[seq_id])

    def num_tokens(self, seq_id):
        return self.lengths[seq_id]

    def ref_count(self, block_id):
        return self.ref_counts[block_id]
