# Correct: a set as the free pool (smallest id first), dict ref counts, explicit KeyError checks.
class OutOfBlocksError(RuntimeError):
    pass


class BlockManager:
    def __init__(self, num_blocks, block_size):
        self.num_blocks, self.block_size = num_blocks, block_size
        self.pool = set(range(num_blocks))
        self.refs = {}
        self.seqs = {}          # seq_id -> [table, num_tokens]

    def _need(self, n):
        return math.ceil(n / self.block_size)

    def _get(self, seq_id):
        if seq_id not in self.seqs:
            raise KeyError(seq_id)
        return self.seqs[seq_id]

    def num_free_blocks(self):
        return len(self.pool)

    def can_allocate(self, num_tokens):
        return self._need(num_tokens) <= len(self.pool)

    def _grab(self):
        b = min(self.pool)
        self.pool.remove(b)
        self.refs[b] = 1
        return b

    def _drop(self, b):
        self.refs[b] -= 1
        if self.refs[b] == 0:
            del self.refs[b]
            self.pool.add(b)

    def allocate(self, seq_id, num_tokens):
        if seq_id in self.seqs:
            raise ValueError("duplicate sequence id")
        if self._need(num_tokens) > len(self.pool):
            raise OutOfBlocksError("KV cache full")
        table = [self._grab() for _ in range(self._need(num_tokens))]
        self.seqs[seq_id] = [table, num_tokens]
        return table[:]

    def append_slot(self, seq_id):
        entry = self._get(seq_id)
        table, n = entry
        full = n == len(table) * self.block_size
        shared = not full and self.refs[table[-1]] > 1
        if (full or shared) and not self.pool:
            raise OutOfBlocksError("KV cache full")
        result = None
        if full:
            table.append(self._grab())
        elif shared:
            old = table[-1]
            new = self._grab()
            self._drop(old)
            table[-1] = new
            result = (old, new)
        entry[1] = n + 1
        return result

    def fork(self, parent_id, child_id):
        table, n = self._get(parent_id)
        if child_id in self.seqs:
            raise ValueError("duplicate sequence id")
        for b in table:
            self.refs[b] += 1
        self.seqs[child_id] = [table[:], n]

    def free(self, seq_id):
        table, _ = self._get(seq_id)
        del self.seqs[seq_id]
        for b in table:
            self._drop(b)

    def block_table(self, seq_id):
        return self._get(seq_id)[0][:]

    def num_tokens(self, seq_id):
        return self._get(seq_id)[1]

    def ref_count(self, block_id):
        return self.refs.get(block_id, 0)
