# Correct: no ref-count array; ref counts and the free pool are derived from the live tables (LIFO reuse).
class OutOfBlocksError(RuntimeError):
    """Not enough free blocks."""


class BlockManager:
    def __init__(self, num_blocks, block_size):
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.tables = {}
        self.lengths = {}
        self.recent = []        # freed blocks, most recent last (reused first)

    def ref_count(self, block_id):
        return sum(t.count(block_id) for t in self.tables.values())

    def _free_list(self):
        used = {b for t in self.tables.values() for b in t}
        recent = [b for b in self.recent if b not in used]
        rest = [b for b in range(self.num_blocks) if b not in used and b not in recent]
        return rest[::-1] + recent          # pop() from the end

    def num_free_blocks(self):
        return len(self._free_list())

    def can_allocate(self, num_tokens):
        return (num_tokens + self.block_size - 1) // self.block_size <= self.num_free_blocks()

    def allocate(self, seq_id, num_tokens):
        if seq_id in self.tables:
            raise ValueError(seq_id)
        need = (num_tokens + self.block_size - 1) // self.block_size
        pool = self._free_list()
        if need > len(pool):
            raise OutOfBlocksError(f"need {need}, have {len(pool)}")
        table = [pool.pop() for _ in range(need)]
        self.tables[seq_id] = table
        self.lengths[seq_id] = num_tokens
        return list(table)

    def append_slot(self, seq_id):
        table = self.tables[seq_id]
        n = self.lengths[seq_id]
        if n % self.block_size == 0:
            pool = self._free_list()
            if not pool:
                raise OutOfBlocksError("full")
            table.append(pool.pop())
            self.lengths[seq_id] = n + 1
            return None
        last = table[-1]
        if self.ref_count(last) > 1:
            pool = self._free_list()
            if not pool:
                raise OutOfBlocksError("full")
            new = pool.pop()
            table[-1] = new
            self.lengths[seq_id] = n + 1
            return (last, new)
        self.lengths[seq_id] = n + 1
        return None

    def fork(self, parent_id, child_id):
        if parent_id not in self.tables:
            raise KeyError(parent_id)
        if child_id in self.tables:
            raise ValueError(child_id)
        self.tables[child_id] = list(self.tables[parent_id])
        self.lengths[child_id] = self.lengths[parent_id]

    def free(self, seq_id):
        table = self.tables.pop(seq_id)
        del self.lengths[seq_id]
        for b in table:
            if self.ref_count(b) == 0:
                if b in self.recent:
                    self.recent.remove(b)
                self.recent.append(b)

    def block_table(self, seq_id):
        return list(self.tables[seq_id])

    def num_tokens(self, seq_id):
        return self.lengths[seq_id]
