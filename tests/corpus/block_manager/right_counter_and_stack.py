# Correct: collections.Counter for ref counts, a LIFO stack as free pool, checks needs before mutating.
from collections import Counter


class OutOfBlocksError(RuntimeError):
    pass


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int):
        self.num_blocks = num_blocks
        self.block_size = block_size
        self._stack = list(reversed(range(num_blocks)))
        self._refs = Counter()
        self._tables: dict = {}
        self._tokens: dict = {}

    def num_free_blocks(self) -> int:
        return len(self._stack)

    def _blocks(self, n: int) -> int:
        q, r = divmod(n, self.block_size)
        return q + (r > 0)

    def can_allocate(self, num_tokens: int) -> bool:
        return self._blocks(num_tokens) <= len(self._stack)

    def _pop(self) -> int:
        b = self._stack.pop()
        self._refs[b] += 1
        return b

    def _unref(self, b: int) -> None:
        self._refs[b] -= 1
        if not self._refs[b]:
            del self._refs[b]
            self._stack.append(b)

    def allocate(self, seq_id, num_tokens: int):
        if seq_id in self._tables:
            raise ValueError(f"{seq_id} exists")
        if not self.can_allocate(num_tokens):
            raise OutOfBlocksError("out of KV blocks")
        self._tables[seq_id] = [self._pop() for _ in range(self._blocks(num_tokens))]
        self._tokens[seq_id] = num_tokens
        return self.block_table(seq_id)

    def append_slot(self, seq_id):
        table = self._tables[seq_id]
        n = self._tokens[seq_id]
        offset = n % self.block_size
        needs_block = offset == 0 or self._refs[table[-1]] > 1
        if needs_block and not self._stack:
            raise OutOfBlocksError("out of KV blocks")
        out = None
        if offset == 0:
            table.append(self._pop())
        elif self._refs[table[-1]] > 1:
            old = table[-1]
            table[-1] = self._pop()
            self._unref(old)
            out = (old, table[-1])
        self._tokens[seq_id] = n + 1
        return out

    def fork(self, parent_id, child_id) -> None:
        table = self._tables[parent_id]
        if child_id in self._tables:
            raise ValueError(f"{child_id} exists")
        for b in table:
            self._refs[b] += 1
        self._tables[child_id] = table.copy()
        self._tokens[child_id] = self._tokens[parent_id]

    def free(self, seq_id) -> None:
        table = self._tables.pop(seq_id)
        self._tokens.pop(seq_id)
        for b in reversed(table):
            self._unref(b)

    def block_table(self, seq_id):
        return self._tables[seq_id].copy()

    def num_tokens(self, seq_id) -> int:
        return self._tokens[seq_id]

    def ref_count(self, block_id: int) -> int:
        return self._refs.get(block_id, 0)
