"""Property tests of the block managers the engine uses (the reference parts).

A hypothesis state machine drives allocate / append_slot / fork / free (and, for the prefix
cache, commit) in random orders and checks after every step that

* conservation: every block is either free or referenced, and its reference count equals the
  number of block tables that hold it;
* a block is free iff its reference count is 0;
* no block is handed out twice (a new block always had reference count 0);
* all-or-nothing: a failed allocate / append_slot leaves everything as it was;
* prefix cache: a hit is a block that holds exactly the same prefix, evicted blocks are forgotten.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from labkit.engine import reference_parts

PARTS = reference_parts()
NUM_BLOCKS, BLOCK_SIZE = 8, 4


def _blocks_for(n: int) -> int:
    return -(-n // BLOCK_SIZE)


class BlockManagerMachine(RuleBasedStateMachine):
    prefix_caching = False

    def __init__(self):
        super().__init__()
        cls = PARTS.PrefixCachingBlockManager if self.prefix_caching else PARTS.BlockManager
        self.bm = cls(NUM_BLOCKS, BLOCK_SIZE)
        self.tokens: dict[int, list[int]] = {}    # the model: seq -> token ids (one per slot)
        self.tables: dict[int, list[int]] = {}    # what the manager told us
        self.content: dict[int, tuple] = {}       # block -> the prefix it holds (committed blocks)
        self.next_id = 0

    # ---- helpers ------------------------------------------------------------------------------------
    def _refs(self):
        return [self.bm.ref_count(b) for b in range(NUM_BLOCKS)]

    def _state(self):
        return (self.bm.num_free_blocks(), self._refs(),
                {s: self.bm.block_table(s) for s in self.tables})

    def _new_blocks(self, before_refs, blocks):
        for b in blocks:
            assert before_refs[b] == 0, f"block {b} handed out while its reference count was {before_refs[b]}"
            self.content.pop(b, None)  # fresh block: whatever it held is overwritten

    # ---- rules --------------------------------------------------------------------------------------
    @rule(tokens=st.lists(st.integers(0, 2), max_size=14))
    def allocate(self, tokens):
        seq, self.next_id = self.next_id, self.next_id + 1
        n = len(tokens)
        before = self._state()
        kwargs = {"token_ids": tokens} if self.prefix_caching else {}
        if self.bm.can_allocate(n, **kwargs):
            table = self.bm.allocate(seq, n, **kwargs)
            assert len(table) == _blocks_for(n) and len(set(table)) == len(table), \
                f"allocate({seq}, {n}) returned {table}"
            hits = self.bm.num_cached_tokens(seq) // BLOCK_SIZE if self.prefix_caching else 0
            if self.prefix_caching:
                assert self.bm.num_cached_tokens(seq) % BLOCK_SIZE == 0
                assert self.bm.num_cached_tokens(seq) <= max(n - 1, 0), "the last token must be computed"
                for i in range(hits):
                    assert self.content.get(table[i]) == tuple(tokens[:(i + 1) * BLOCK_SIZE]), \
                        f"cache hit block {table[i]} does not hold the prefix {tokens[:(i + 1) * BLOCK_SIZE]}"
            self._new_blocks(before[1], table[hits:])
            self.tokens[seq], self.tables[seq] = list(tokens), table
        else:
            if not self.prefix_caching:
                assert _blocks_for(n) > before[0]
            with pytest.raises(PARTS.OutOfBlocksError):
                self.bm.allocate(seq, n, **kwargs)
            assert self._state() == before, "a failed allocate changed the state"
            with pytest.raises(KeyError):
                self.bm.block_table(seq)

    @precondition(lambda self: self.tables)
    @rule(data=st.data(), token=st.integers(0, 2))
    def append_slot(self, data, token):
        seq = data.draw(st.sampled_from(sorted(self.tables)))
        before = self._state()
        old_table = before[2][seq]
        try:
            copy = self.bm.append_slot(seq)
        except PARTS.OutOfBlocksError:
            assert before[0] == 0, "append_slot failed although blocks were free"
            assert self._state() == before, "a failed append_slot changed the state"
            return
        self.tokens[seq].append(token)
        table = self.bm.block_table(seq)
        assert self.bm.num_tokens(seq) == len(self.tokens[seq])
        assert len(table) == _blocks_for(len(self.tokens[seq]))
        if copy is not None:
            src, dst = copy
            assert src == old_table[-1] and table[-1] == dst and table[:-1] == old_table[:-1]
            assert before[1][src] > 1, f"copy-on-write of block {src} that was not shared"
            self._new_blocks(before[1], [dst])
        else:
            assert table[:len(old_table)] == old_table
            if len(table) == len(old_table) and old_table:
                assert before[1][old_table[-1]] == 1, "wrote into a shared block without copying it"
            self._new_blocks(before[1], table[len(old_table):])
        self.tables[seq] = table

    @precondition(lambda self: self.tables)
    @rule(data=st.data())
    def fork(self, data):
        parent = data.draw(st.sampled_from(sorted(self.tables)))
        child, self.next_id = self.next_id, self.next_id + 1
        self.bm.fork(parent, child)
        assert self.bm.block_table(child) == self.tables[parent]
        self.tokens[child], self.tables[child] = list(self.tokens[parent]), list(self.tables[parent])

    @precondition(lambda self: self.tables)
    @rule(data=st.data())
    def free(self, data):
        seq = data.draw(st.sampled_from(sorted(self.tables)))
        self.bm.free(seq)
        del self.tables[seq], self.tokens[seq]
        with pytest.raises(KeyError):
            self.bm.free(seq)

    @precondition(lambda self: self.prefix_caching and self.tables)
    @rule(data=st.data())
    def commit(self, data):
        seq = data.draw(st.sampled_from(sorted(self.tables)))
        k = data.draw(st.integers(0, len(self.tokens[seq])))
        tokens = self.tokens[seq][:k]
        self.bm.commit(seq, tokens)
        for i in range(k // BLOCK_SIZE):
            self.content[self.tables[seq][i]] = tuple(tokens[:(i + 1) * BLOCK_SIZE])

    # ---- invariants ---------------------------------------------------------------------------------
    @invariant()
    def conservation(self):
        refs = self._refs()
        expected = [0] * NUM_BLOCKS
        for table in self.tables.values():
            for b in table:
                expected[b] += 1
        assert refs == expected, f"reference counts {refs}, block tables say {expected}"
        assert self.bm.num_free_blocks() == refs.count(0), \
            f"{self.bm.num_free_blocks()} free blocks but {refs.count(0)} blocks have reference count 0"
        for seq, table in self.tables.items():
            assert self.bm.block_table(seq) == table


class PrefixCacheMachine(BlockManagerMachine):
    prefix_caching = True


SETTINGS = settings(max_examples=150, stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TestBlockManager = BlockManagerMachine.TestCase
TestBlockManager.settings = SETTINGS
TestPrefixCachingBlockManager = PrefixCacheMachine.TestCase
TestPrefixCachingBlockManager.settings = SETTINGS


# ---- examples ----------------------------------------------------------------------------------------
def test_exhaustion_is_a_clear_error():
    bm = PARTS.BlockManager(num_blocks=2, block_size=4)
    bm.allocate("a", 8)
    with pytest.raises(PARTS.OutOfBlocksError, match="needs 1 blocks, only 0 are free"):
        bm.allocate("b", 1)
    with pytest.raises(ValueError):
        bm.allocate("a", 1)


def test_fork_then_append_copies_the_shared_last_block():
    bm = PARTS.BlockManager(num_blocks=4, block_size=4)
    bm.allocate("parent", 6)                      # blocks [b0, b1], b1 half full
    bm.fork("parent", "child")
    b0, b1 = bm.block_table("parent")
    assert bm.ref_count(b1) == 2
    src, dst = bm.append_slot("child")
    assert (src, bm.block_table("child")) == (b1, [b0, dst])
    assert bm.ref_count(b1) == 1 and bm.ref_count(dst) == 1 and bm.ref_count(b0) == 2
    assert bm.append_slot("parent") is None       # now the parent owns b1 alone


def test_prefix_cache_hits_whole_blocks_and_evicts_least_recently_used():
    bm = PARTS.PrefixCachingBlockManager(num_blocks=4, block_size=2)
    prompt = [5, 6, 7, 8, 9]
    bm.allocate("a", 5, token_ids=prompt)
    bm.commit("a", prompt)                        # blocks [5,6] and [7,8] are cached
    bm.free("a")
    assert bm.num_free_blocks() == 4
    bm.allocate("b", 5, token_ids=[5, 6, 7, 8, 1])
    assert bm.num_cached_tokens("b") == 4
    bm.free("b")
    bm.allocate("c", 4, token_ids=[5, 6, 7, 8])   # the last token is always recomputed
    assert bm.num_cached_tokens("c") == 2
    bm.free("c")
    bm.allocate("d", 8, token_ids=[1] * 8)        # needs all 4 blocks: every cached block is evicted
    bm.free("d")
    bm.allocate("e", 5, token_ids=prompt)
    assert bm.num_cached_tokens("e") == 0


def test_hash_block_chains_the_prefix():
    h = PARTS.hash_block
    assert h(None, [1, 2]) == h(None, (1, 2))
    assert h(h(None, [1, 2]), [3, 4]) != h(h(None, [9, 9]), [3, 4])
