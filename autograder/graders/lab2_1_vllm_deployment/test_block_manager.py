"""Hidden grader: the PagedAttention block manager (Lab 2.1, notebook 01).

Every test drives the student's ``BlockManager`` through a sequence of calls and checks it, after
every call, against a tiny model of the contract written here. The model does not choose block
ids: it accepts any free block the student hands out, then holds the student to the invariants

* conservation: ``num_free_blocks()`` + blocks held by live sequences == ``num_blocks``;
* a block is free iff its ``ref_count`` is 0, and ``ref_count(b)`` == number of live tables holding b;
* a block is never handed out while a live sequence holds it (no double allocation, no double free);
* block tables are append-only: an entry only changes by copy-on-write of the last block;
* ``len(block_table(s)) == ceil(num_tokens(s) / block_size)`` (0 tokens -> no block);
* all or nothing: a call that raises leaves the whole state unchanged;
* copy-on-write: appending into a shared, partly filled last block copies it; a full one does not.

Failure messages name the property and list the student's own calls that led there.

An operation and the state queries that follow it cross the sandbox boundary in one round trip
(``batched.observe``): the same calls in the same order, made next to the student's object; the checks
stay here.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points
from autograder.graders.batched import Calls, block_state_calls, observe

EXERCISES = ["block_manager"]
TIMEOUT_S = 180
TEST_TIMEOUT_S = 45


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _short(value, limit: int = 120) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_block_list(value, what: str) -> list[int]:
    try:
        items = list(value)
    except Exception:  # noqa: BLE001
        fail_with(f"{what} should return a list of block ids, got {type(value).__name__}: {_short(value)}")
    out = []
    for v in items:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            fail_with(f"{what} should return a list of int block ids, got {_short(value)}")
        out.append(int(v.__index__()))
    return out


def _as_count(value, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        fail_with(f"{what} should return an int, got {type(value).__name__}: {_short(value)}")
    return int(value.__index__())


class Harness:
    """The student's BlockManager, a model of what its state must be, and the log of calls made."""

    MAX_LOG = 25

    def __init__(self, student, num_blocks: int, block_size: int):
        self.student = student
        self.nb, self.bs = num_blocks, block_size
        self.log: list[str] = []
        self.tables: dict[int, list[int]] = {}   # live seq -> expected block table
        self.tokens: dict[int, int] = {}         # live seq -> expected token count
        self.dead: list[int] = []                # freed sequence ids
        self.next_id = 0
        self.copies = 0
        call = f"BlockManager({num_blocks}, {block_size})"
        # one round trip: the error class, the constructor, and the new manager's state
        seen = observe(student, before=Calls().read("OutOfBlocksError", student, "OutOfBlocksError"),
                       call=(student, "BlockManager", num_blocks, block_size),
                       if_returned=self.state_calls([], obj=None), on_result=True)
        self.error_class = _error_class(seen.before)
        self.bm, exc = seen.outcome()
        if exc is not None:
            fail_with(f"{call} raised {type(exc).__name__}: {_short(str(exc))}")
        self.log.append(call)
        self.check_state("after construction", seen.after)

    # ---- model queries -------------------------------------------------------------------------
    def ref(self, block: int) -> int:
        return sum(t.count(block) for t in self.tables.values())

    def holders(self, block: int) -> list[int]:
        return [s for s, t in self.tables.items() if block in t]

    def used(self) -> set[int]:
        return {b for t in self.tables.values() for b in t}

    def free_count(self) -> int:
        return self.nb - len(self.used())

    def new_id(self) -> int:
        sid = self.next_id
        self.next_id += 1
        return sid

    # ---- reporting -------------------------------------------------------------------------------
    def calls(self) -> str:
        lines = self.log
        if len(lines) > self.MAX_LOG:
            lines = [lines[0], f"... ({len(self.log) - self.MAX_LOG} calls omitted) ..."] + lines[-(self.MAX_LOG - 1):]
        return "\n  " + "\n  ".join(lines)

    def fail(self, prop: str, what: str) -> None:
        fail_with(f"{prop}: {what}\nyour calls:{self.calls()}")

    def query(self, text: str, seen):
        """The value of the state query ``text`` from a batch (``seen``), failing as the call would have."""
        try:
            return seen.take(text)
        except Exception as exc:  # noqa: BLE001
            self.fail("state query failed", f"{text} raised {type(exc).__name__}: {_short(str(exc))}")

    # ---- batches: an operation and the queries after it, in one round trip --------------------------
    _BM = object()

    def state_calls(self, sids, calls: Calls | None = None, obj=_BM) -> Calls:
        """The queries :meth:`check_state` makes when the live sequences are ``sids`` (in this order), on the
        student's manager (``obj``: another handle, or ``None`` for the result of a batch's call)."""
        return block_state_calls(self.bm if obj is Harness._BM else obj, sids, self.nb, calls)

    def observe(self, before: Calls | None = None, call: tuple | None = None, ok: Calls | None = None,
                raised: Calls | None = None):
        """``call`` (``(method name, *args)`` on the student's manager) with the calls before and after it."""
        return observe(self.student, before, None if call is None else (self.bm, *call), ok, raised)

    # ---- the state check after every call --------------------------------------------------------
    def check_state(self, context: str, seen) -> None:
        """Check the queries of :meth:`state_calls` (for the model's live sequences), read from ``seen``."""
        for sid, table in self.tables.items():
            got = _as_block_list(self.query(f"block_table({sid})", seen), f"block_table({sid})")
            if got != table:
                if len(got) == len(table) + 0 and got[:-1] == table[:-1]:
                    prop = "block tables are append-only"
                    why = "its last entry may only change when append_slot copies a shared block"
                elif got[: len(table)] == table:
                    prop = "len(block_table) == ceil(num_tokens / block_size)"
                    why = f"num_tokens is {self.tokens[sid]}, so it needs {ceil_div(self.tokens[sid], self.bs)} blocks"
                else:
                    prop = "block tables are append-only"
                    why = "existing entries must not change (only copy-on-write of the last block may replace it)"
                self.fail(prop, f"{context}, block_table({sid}) is {got}, expected {table}: {why}")
            n = _as_count(self.query(f"num_tokens({sid})", seen), f"num_tokens({sid})")
            if n != self.tokens[sid]:
                self.fail("num_tokens counts the sequence's tokens",
                          f"{context}, num_tokens({sid}) is {n}, expected {self.tokens[sid]}")
        for b in range(self.nb):
            rc = _as_count(self.query(f"ref_count({b})", seen), f"ref_count({b})")
            want = self.ref(b)
            if rc != want:
                who = self.holders(b)
                held = f"held by sequence(s) {who}" if who else "free (no live sequence holds it)"
                self.fail("ref_count(b) == number of live sequences holding block b",
                          f"{context}, ref_count({b}) is {rc}, expected {want}: block {b} is {held}")
        free = _as_count(self.query("num_free_blocks()", seen), "num_free_blocks()")
        used = len(self.used())
        if free != self.nb - used:
            self.fail("conservation of blocks (free + used == num_blocks)",
                      f"{context}, num_free_blocks() is {free}, but live sequences hold {used} of the "
                      f"{self.nb} blocks, so {self.nb - used} should be free")

    def _check_fresh(self, blocks: list[int], call: str) -> None:
        """Blocks just handed out must be in range and not held by any live sequence."""
        for b in blocks:
            if not 0 <= b < self.nb:
                self.fail("block ids are 0 .. num_blocks - 1", f"{call} handed out block id {b}")
            who = self.holders(b)
            if who:
                self.fail("no block is handed out twice",
                          f"block {b} handed out by {call} while sequence {who[0]} still holds it")

    def _expect_error(self, text: str, exc, result, kinds: tuple, name: str, why: str, seen) -> None:
        if exc is None:
            self.log.append(f"{text} -> {_short(result)}")
            self.fail(f"clear errors ({name})", f"{text} should raise {name} ({why}), but returned {_short(result)}")
        if not isinstance(exc, kinds):
            self.fail(f"clear errors ({name})",
                      f"{text} should raise {name} ({why}), but raised {type(exc).__name__}: {_short(str(exc))}")
        self.check_state(f"after {text} raised {type(exc).__name__} (a call that fails must change nothing)", seen)

    # ---- operations --------------------------------------------------------------------------------
    def can_allocate(self, n: int, seen=None) -> None:
        """Check can_allocate(n); its answer is read from ``seen`` (a batch that asked it) or asked now."""
        text = f"can_allocate({n})"
        if seen is None:
            seen = self.observe(before=Calls().add(text, self.bm, "can_allocate", n)).before
        try:
            res, exc = seen.take(text), None
        except Exception as e:  # noqa: BLE001
            self.log.append(f"{text} -> raised {type(e).__name__}")
            res, exc = None, e
        if exc is not None:
            self.fail("can_allocate answers", f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
        want = ceil_div(n, self.bs) <= self.free_count()
        if not isinstance(res, bool) and not hasattr(res, "__bool__"):
            self.fail("can_allocate answers", f"{text} returned {_short(res)}")
        if bool(res) != want:
            self.log.append(f"{text} -> {res!r}")
            self.fail("can_allocate(n) is True iff ceil(n / block_size) blocks are free",
                      f"{text} returned {res!r} with {self.free_count()} free blocks of size {self.bs}")

    def allocate(self, sid: int, n: int):
        text = f"allocate({sid}, {n})"
        need = ceil_div(n, self.bs)
        expect_ok = sid not in self.tables and need <= self.free_count()
        seen = self.observe(before=Calls().add(f"can_allocate({n})", self.bm, "can_allocate", n),
                            call=("allocate", sid, n),
                            ok=self.state_calls([*self.tables, sid]) if expect_ok else None,
                            raised=None if expect_ok else self.state_calls(self.tables))
        self.can_allocate(n, seen.before)
        res, exc = self.outcome(text, seen)
        if sid in self.tables:
            kinds = (ValueError, self.error_class) if need > self.free_count() else (ValueError,)
            return self._expect_error(text, exc, res, kinds, "ValueError", f"sequence {sid} already exists",
                                      seen.after)
        if need > self.free_count():
            return self._expect_error(text, exc, res, (self.error_class,), "OutOfBlocksError",
                                      f"it needs {need} blocks and only {self.free_count()} are free", seen.after)
        if exc is not None:
            self.fail("allocate succeeds when enough blocks are free",
                      f"{text} raised {type(exc).__name__}: {_short(str(exc))} although it needs {need} "
                      f"blocks and {self.free_count()} are free")
        table = _as_block_list(res, text)
        self.log.append(f"{text} -> {table}")
        if len(table) != need:
            self.fail("allocate takes ceil(num_tokens / block_size) blocks",
                      f"{text} returned {len(table)} blocks {table}; with block_size {self.bs} it needs {need}")
        if len(set(table)) != len(table):
            self.fail("no block is handed out twice", f"{text} returned the same block twice: {table}")
        self._check_fresh(table, text)
        self.tables[sid], self.tokens[sid] = table, n
        self.check_state(f"after {text}", seen.after)
        return table

    def outcome(self, text: str, seen):
        """(result, exception) of a batch's operation; an exception is logged as :meth:`call` logs it."""
        res, exc = seen.outcome()
        if exc is not None:
            self.log.append(f"{text} -> raised {type(exc).__name__}")
        return res, exc

    def append_slot(self, sid: int):
        text = f"append_slot({sid})"
        mode = None
        if sid in self.tables:
            table, n = self.tables[sid], self.tokens[sid]
            if n % self.bs == 0:
                mode = "fresh"
            elif self.ref(table[-1]) > 1:
                mode = "cow"
            else:
                mode = "inplace"
        expect_ok = mode is not None and (mode == "inplace" or self.free_count() > 0)
        ok = None
        if expect_ok:
            ok = self.state_calls(self.tables, Calls().add(f"block_table({sid})", self.bm, "block_table", sid))
        seen = self.observe(call=("append_slot", sid), ok=ok, raised=None if expect_ok else self.state_calls(self.tables))
        res, exc = self.outcome(text, seen)
        if sid not in self.tables:
            return self._expect_error(text, exc, res, (KeyError,), "KeyError", f"sequence {sid} does not exist",
                                      seen.after)
        if mode != "inplace" and self.free_count() == 0:
            why = ("the last block is full and no block is free" if mode == "fresh"
                   else f"its last block {table[-1]} is shared and no block is free for the copy")
            return self._expect_error(text, exc, res, (self.error_class,), "OutOfBlocksError", why, seen.after)
        if exc is not None:
            self.fail("append_slot grows the sequence by one token",
                      f"{text} raised {type(exc).__name__}: {_short(str(exc))} "
                      f"({n} tokens, block_size {self.bs}, {self.free_count()} free blocks)")
        self.log.append(f"{text} -> {_short(res)}")
        got = _as_block_list(self.query(f"block_table({sid})", seen.after), f"block_table({sid})")
        if mode == "cow":
            old = table[-1]
            ok = isinstance(res, (tuple, list)) and len(res) == 2
            pair = _as_block_list(res, text) if ok else None
            if pair is None or pair[0] != old or got[:-1] != table[:-1] or len(got) != len(table) \
                    or pair[1] != got[-1]:
                self.fail("copy-on-write of a shared last block",
                          f"{text}: the last block {old} of sequence {sid} is partly filled ({n % self.bs} of "
                          f"{self.bs} slots) and shared with sequence(s) {[s for s in self.holders(old) if s != sid]}"
                          f"; expected a fresh block in its place and the return value ({old}, <new block>), "
                          f"got return value {_short(res)} and block_table({sid}) == {got}")
            self._check_fresh([pair[1]], text)
            self.tables[sid] = table[:-1] + [pair[1]]
            self.copies += 1
        elif res is not None:
            why = ("the last block was full, so the new token goes to a fresh block and nothing needs copying"
                   if mode == "fresh" else f"block {table[-1]} has room and no other sequence holds it")
            self.fail("append_slot returns None when no copy is needed", f"{text} returned {_short(res)}: {why}")
        elif mode == "fresh":
            if len(got) != len(table) + 1 or got[:-1] != table:
                self.fail("append_slot takes a new block exactly when the last block is full",
                          f"{text}: sequence {sid} had {n} tokens in {table} (block_size {self.bs}), so it "
                          f"needs one more block appended; block_table({sid}) is now {got}")
            self._check_fresh([got[-1]], text)
            self.tables[sid] = got
        else:
            if got != table:
                self.fail("append_slot takes a new block exactly when the last block is full",
                          f"{text}: sequence {sid} had {n} tokens in {table} (block_size {self.bs}); its last "
                          f"block has room, so the table must not change, but it is now {got}")
        self.tokens[sid] = n + 1
        self.check_state(f"after {text}", seen.after)
        return res

    def fork(self, parent: int, child: int) -> None:
        text = f"fork({parent}, {child})"
        expect_ok = parent in self.tables and child not in self.tables
        seen = self.observe(call=("fork", parent, child),
                            ok=self.state_calls([*self.tables, child]) if expect_ok else None,
                            raised=None if expect_ok else self.state_calls(self.tables))
        res, exc = self.outcome(text, seen)
        if parent not in self.tables:
            return self._expect_error(text, exc, res, (KeyError,), "KeyError", f"sequence {parent} does not exist",
                                      seen.after)
        if child in self.tables:
            return self._expect_error(text, exc, res, (ValueError,), "ValueError", f"sequence {child} already exists",
                                      seen.after)
        if exc is not None:
            self.fail("fork shares the parent's blocks", f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
        self.log.append(text)
        self.tables[child] = list(self.tables[parent])
        self.tokens[child] = self.tokens[parent]
        self.check_state(f"after {text} (the child shares all of the parent's blocks and tokens)", seen.after)

    def free(self, sid: int) -> None:
        text = f"free({sid})"
        expect_ok = sid in self.tables
        seen = self.observe(call=("free", sid),
                            ok=self.state_calls([s for s in self.tables if s != sid]) if expect_ok else None,
                            raised=None if expect_ok else self.state_calls(self.tables))
        res, exc = self.outcome(text, seen)
        if sid not in self.tables:
            what = "it was already freed (no double free)" if sid in self.dead else f"sequence {sid} does not exist"
            return self._expect_error(text, exc, res, (KeyError,), "KeyError", what, seen.after)
        if exc is not None:
            self.fail("free releases a sequence", f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
        self.log.append(text)
        del self.tables[sid], self.tokens[sid]
        self.dead.append(sid)
        self.check_state(f"after {text}", seen.after)

    # ---- driving from generated op lists ---------------------------------------------------------
    def pick(self, k: int):
        live = sorted(self.tables)
        return live[k % len(live)] if live else None

    def run(self, ops) -> None:
        for op in ops:
            kind = op[0]
            if kind == "allocate":
                self.allocate(self.new_id(), op[1])
            elif kind == "append":
                sid = self.pick(op[1])
                if sid is not None:
                    for _ in range(op[2]):
                        self.append_slot(sid)
            elif kind == "fork":
                sid = self.pick(op[1])
                if sid is not None:
                    self.fork(sid, self.new_id())
            elif kind == "free":
                sid = self.pick(op[1])
                if sid is not None:
                    self.free(sid)
            elif kind == "dup":          # allocate an id that is live: ValueError
                sid = self.pick(op[1])
                if sid is not None:
                    self.allocate(sid, op[2])
            elif kind == "dead":         # touch a freed id: KeyError
                if self.dead:
                    sid = self.dead[op[1] % len(self.dead)]
                    [self.free, self.append_slot][op[2] % 2](sid)


ALLOC = st.tuples(st.just("allocate"), st.integers(0, 12))
APPEND = st.tuples(st.just("append"), st.integers(0, 7), st.integers(1, 5))
FORK = st.tuples(st.just("fork"), st.integers(0, 7))
FREE = st.tuples(st.just("free"), st.integers(0, 7))
DUP = st.tuples(st.just("dup"), st.integers(0, 7), st.integers(0, 6))
DEAD = st.tuples(st.just("dead"), st.integers(0, 7), st.integers(0, 1))
NUM_BLOCKS = st.integers(1, 10)
BLOCK_SIZE = st.sampled_from([1, 2, 3, 4])


def _error_class(seen):
    """The student's OutOfBlocksError, as read by a batch (``getattr(student, "OutOfBlocksError", None)``)."""
    try:
        cls = seen.take("OutOfBlocksError")
    except AttributeError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, RuntimeError)):
        fail_with("OutOfBlocksError must be a class derived from RuntimeError")
    return cls


@points(2)
@settings(max_examples=150)
@given(block_size=st.integers(1, 8), n=st.integers(0, 40), spare=st.integers(0, 3))
def test_allocate_takes_ceil_blocks(student, block_size, n, spare):
    """allocate(seq, n) hands out ceil(n / block_size) distinct free blocks (0 tokens: no block)"""
    h = Harness(student, ceil_div(n, block_size) + spare, block_size)
    table = h.allocate(0, n)
    h.can_allocate(block_size * spare)
    h.can_allocate(block_size * spare + 1)
    if n > 0:
        h.allocate(1, n)            # the pool is now too short unless spare covers it


@points(2)
@settings(max_examples=200)
@given(num_blocks=NUM_BLOCKS, block_size=BLOCK_SIZE, ops=st.lists(st.one_of(ALLOC, FREE), max_size=30))
def test_blocks_conserved_under_allocate_and_free(student, num_blocks, block_size, ops):
    """conservation of blocks: free + used == total, a block is free iff its ref count is 0, freed blocks are reused"""
    h = Harness(student, num_blocks, block_size)
    h.run(ops)
    # Everything freed: the whole pool must be usable again, in one allocation.
    for sid in sorted(h.tables):
        h.free(sid)
    h.allocate(h.new_id(), num_blocks * block_size)


@points(2)
def test_allocation_is_all_or_nothing(student):
    """all or nothing: a call that cannot get its blocks raises OutOfBlocksError and changes nothing"""
    h = Harness(student, 4, 4)
    h.allocate(0, 9)                 # 3 blocks, 1 free
    h.allocate(1, 8)                 # needs 2: OutOfBlocksError, seq 1 must not exist afterwards
    h.append_slot(1)                 # ... so append_slot(1) is a KeyError
    h.allocate(1, 4)                 # the one free block
    for _ in range(3):
        h.append_slot(0)             # fills block 3 of seq 0 (12 tokens)
    h.append_slot(0)                 # needs a 4th block: none free
    h.append_slot(1)                 # last block of seq 1 is full too: none free
    h.free(1)
    h.append_slot(0)                 # now it fits
    h2 = Harness(student, 3, 2)
    h2.allocate(0, 3)                # 2 blocks, partly filled last one
    h2.allocate(1, 1)                # the last block
    h2.fork(0, 2)
    h2.append_slot(2)                # copy-on-write needs a block: none free
    h2.free(1)
    h2.append_slot(2)                # now the copy can be made


@points(1)
def test_clear_errors(student):
    """clear errors: ValueError for an existing sequence id, KeyError for an unknown or freed one"""
    h = Harness(student, 6, 2)
    h.allocate(0, 3)
    h.allocate(0, 1)                 # ValueError
    h.allocate(1, 2)
    h.fork(0, 1)                     # ValueError: child exists
    h.fork(7, 8)                     # KeyError: unknown parent
    h.free(1)
    h.free(1)                        # KeyError: double free
    h.append_slot(1)                 # KeyError
    h.free(42)                       # KeyError
    for name, call in (("block_table", h.bm.block_table), ("num_tokens", h.bm.num_tokens)):
        try:
            res = call(1)
        except KeyError:
            continue
        except Exception as exc:  # noqa: BLE001
            h.fail("clear errors (KeyError)",
                   f"{name}(1) after free(1) should raise KeyError, but raised {type(exc).__name__}")
        h.fail("clear errors (KeyError)", f"{name}(1) after free(1) should raise KeyError, but returned {_short(res)}")
    h.allocate(1, 4)                 # a freed id may be used again


@points(2)
@settings(max_examples=200)
@given(num_blocks=NUM_BLOCKS, block_size=BLOCK_SIZE,
       ops=st.lists(st.one_of(ALLOC, APPEND, APPEND, FREE), max_size=30))
def test_append_slot_grows_one_block_at_a_time(student, num_blocks, block_size, ops):
    """append_slot takes a new block exactly when the last block is full; tables are append-only"""
    h = Harness(student, num_blocks, block_size)
    h.run(ops)


@points(2)
def test_fork_shares_blocks(student):
    """fork shares all of the parent's blocks (ref counts + 1); a block returns to the pool at ref count 0"""
    h = Harness(student, 8, 4)
    h.allocate(0, 6)
    h.fork(0, 1)
    h.fork(1, 2)
    h.free(0)                        # blocks stay with 1 and 2
    h.allocate(3, 8)                 # must not get a block that 1 and 2 still hold
    h.free(1)
    h.free(2)                        # now the shared blocks are free again
    h.allocate(4, 8)
    h.allocate(5, 0)
    h.fork(5, 6)                     # an empty sequence forks to an empty one


@points(2)
def test_copy_on_write(student):
    """copy-on-write: appending into a shared, partly filled last block copies it; a full one is not copied"""
    h = Harness(student, 10, 4)
    h.allocate(0, 6)                 # 2 blocks, last one holds 2 of 4
    h.fork(0, 1)
    res = h.append_slot(1)           # shared partial block: copy, parent keeps its table
    h.append_slot(0)                 # the old block is now the parent's alone: no copy
    h.append_slot(1)
    h.allocate(2, 8)                 # 2 full blocks
    h.fork(2, 3)
    h.append_slot(3)                 # shared but full: a fresh block, nothing to copy
    h.append_slot(2)
    h.fork(0, 4)
    h.fork(0, 5)                     # three sequences share block 2 of seq 0
    h.append_slot(4)
    h.append_slot(5)
    h.append_slot(0)                 # the last holder writes in place
    if h.copies != 3:
        h.fail("copy-on-write of a shared last block",
               f"expected 3 copies in this scenario, your append_slot asked for {h.copies}")
    del res


@points(2)
@settings(max_examples=300)
@given(num_blocks=NUM_BLOCKS, block_size=BLOCK_SIZE,
       ops=st.lists(st.one_of(ALLOC, APPEND, APPEND, FORK, FREE, DUP, DEAD), max_size=40))
def test_random_operation_sequences(student, num_blocks, block_size, ops):
    """random sequences of allocate / append_slot / fork / free keep every invariant"""
    h = Harness(student, num_blocks, block_size)
    h.run(ops)
    for sid in sorted(h.tables):
        h.free(sid)
