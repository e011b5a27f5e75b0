"""Hidden grader: prefix caching on top of the paged block manager (Lab 2.2, notebook 01).

Every test drives the student's ``PrefixCachingBlockManager`` and checks it, after every call,
against a small model of the contract written here (the model never imports a solution):

* only FULL blocks are cached, named by the whole prefix up to their end (a chained hash: the
  same block tokens after a different prefix are a different block);
* ``allocate(seq, n, token_ids=)`` reuses the longest cached prefix of ``token_ids[:n - 1]``
  (at least one token is always computed), ``num_cached_tokens(seq)`` reports it;
* ``commit(seq, token_ids)`` caches the full blocks the sequence's earlier commits did not cover;
  the first block cached under a prefix stays the cached one;
* ref counts count live holders, shared prefix blocks are never handed out twice;
* the free pool is one LRU queue: never used blocks first, then blocks in the order their ref count
  reached 0 (``free`` releases a table tail first); new blocks come from its front, and taking a
  block that still caches a prefix evicts that prefix; a freed cached block stays reusable until then;
* all or nothing: a call that fails with OutOfBlocksError changes nothing.

Failure messages name the property and list the student's own calls that led there.

An operation and the state queries that follow it cross the sandbox boundary in one round trip
(``batched.observe``): the same calls in the same order, made next to the student's object; the checks
stay here.
"""
from __future__ import annotations

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points
from autograder.graders.batched import Calls, block_state_calls, observe

EXERCISES = ["prefix_cache"]
TIMEOUT_S = 180
TEST_TIMEOUT_S = 60
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
             deadline=None)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _short(value, limit: int = 120) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        fail_with(f"{what} should return an int, got {type(value).__name__}: {_short(value)}")
    return int(value.__index__())


def _ints(value, what: str) -> list[int]:
    try:
        items = list(value)
    except Exception:  # noqa: BLE001
        fail_with(f"{what} should return a list of block ids, got {type(value).__name__}: {_short(value)}")
    return [_int(v, what) for v in items]


def _read(seen, name):
    """``getattr(student, name, None)``, as read by a batch."""
    try:
        return seen.take(name)
    except AttributeError:
        return None


def _classes(seen):
    err = _read(seen, "OutOfBlocksError")
    if not (isinstance(err, type) and issubclass(err, Exception)):
        fail_with("OutOfBlocksError is missing (it comes from the setup cell: do not redefine it)")
    cls = _read(seen, "PrefixCachingBlockManager")
    if not isinstance(cls, type):
        fail_with("PrefixCachingBlockManager is not defined as a class")
    return cls, err


class Harness:
    """The student's manager, a model of the state it must be in, and the log of calls made."""

    MAX_LOG = 30

    def __init__(self, student, num_blocks: int, block_size: int):
        self.student = student
        self.nb, self.bs = num_blocks, block_size
        self.log: list[str] = []
        self.tables: dict[int, list[int]] = {}    # live seq -> block table
        self.toks: dict[int, list[int]] = {}      # live seq -> its tokens (one per slot)
        self.covered: dict[int, int] = {}         # live seq -> full blocks its commits (or hits) covered
        self.virgin: set[int] = set(range(num_blocks))  # never handed out: the front of the free pool
        self.queue: list[int] = []                # used free blocks, least recently used first
        self.cache: dict[tuple, int] = {}         # prefix (all tokens up to a block's end) -> block
        self.key_of: dict[int, tuple] = {}        # block -> its cached prefix
        self.dead: list[int] = []
        self.next_id = 0
        call = f"PrefixCachingBlockManager({num_blocks}, {block_size})"
        # one round trip: the two classes, the constructor, and the new manager's state
        before = Calls().read("OutOfBlocksError", student, "OutOfBlocksError")
        before.read("PrefixCachingBlockManager", student, "PrefixCachingBlockManager")
        seen = observe(student, before=before, call=(student, "PrefixCachingBlockManager", num_blocks, block_size),
                       if_returned=self.state_calls([], obj=None), on_result=True)
        self.cls, self.err = _classes(seen.before)
        self.bm, exc = seen.outcome()
        if exc is not None:
            fail_with(f"{call} raised {type(exc).__name__}: {_short(str(exc))}")
        self.log.append(call)
        self.check_state("after construction", seen.after)

    # ---- model queries --------------------------------------------------------------------------
    def ref(self, b: int) -> int:
        return sum(t.count(b) for t in self.tables.values())

    def holders(self, b: int) -> list[int]:
        return [s for s, t in self.tables.items() if b in t]

    def free_count(self) -> int:
        return len(self.virgin) + len(self.queue)

    def hits(self, tokens: list[int], n: int) -> list[int]:
        """Blocks of the longest cached prefix of tokens[:n - 1], whole blocks only."""
        out, limit = [], max(n - 1, 0)
        for i in range(limit // self.bs):
            key = tuple(tokens[: (i + 1) * self.bs])
            if key not in self.cache:
                break
            out.append(self.cache[key])
        return out

    def new_id(self) -> int:
        sid = self.next_id
        self.next_id += 1
        return sid

    def pool_text(self) -> str:
        cached = {b: len(k) for b, k in self.key_of.items()}
        parts = [f"{len(self.virgin)} never used block(s)"] if self.virgin else []
        parts += [f"block {b}" + (f" (caches a {cached[b]}-token prefix)" if b in cached else "") for b in self.queue]
        return "free pool, front (least recently used) first: [" + ", ".join(parts) + "]"

    # ---- reporting -------------------------------------------------------------------------------
    def calls(self) -> str:
        lines = self.log
        if len(lines) > self.MAX_LOG:
            lines = [lines[0], f"... ({len(self.log) - self.MAX_LOG} calls omitted) ..."] + lines[-(self.MAX_LOG - 1):]
        return "\n  " + "\n  ".join(lines)

    def fail(self, prop: str, what: str) -> None:
        fail_with(f"{prop}: {what}\nyour calls:{self.calls()}")

    def outcome(self, text: str, seen):
        """(result, exception) of a batch's operation; an exception is logged."""
        res, exc = seen.outcome()
        if exc is not None:
            self.log.append(f"{text} -> raised {type(exc).__name__}")
        return res, exc

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
        student's manager (``obj``: ``None`` for the result of a batch's call)."""
        return block_state_calls(self.bm if obj is Harness._BM else obj, sids, self.nb, calls)

    def observe(self, call: tuple, ok: Calls | None = None, raised: Calls | None = None,
                before: Calls | None = None, kwargs: dict | None = None):
        """``call`` (``(method name, *args)`` on the student's manager) with the calls before and after it."""
        return observe(self.student, before, (self.bm, *call), ok, raised, call_kwargs=kwargs)

    def check_state(self, context: str, seen) -> None:
        """Check the queries of :meth:`state_calls` (for the model's live sequences), read from ``seen``."""
        for sid, table in self.tables.items():
            got = _ints(self.query(f"block_table({sid})", seen), f"block_table({sid})")
            if got != table:
                self.fail("block tables hold what allocate / append_slot returned",
                          f"{context}, block_table({sid}) is {got}, expected {table}")
            n = _int(self.query(f"num_tokens({sid})", seen), f"num_tokens({sid})")
            if n != len(self.toks[sid]):
                self.fail("num_tokens counts the sequence's slots",
                          f"{context}, num_tokens({sid}) is {n}, expected {len(self.toks[sid])}")
        for b in range(self.nb):
            rc = _int(self.query(f"ref_count({b})", seen), f"ref_count({b})")
            if rc != self.ref(b):
                who = self.holders(b)
                held = f"held by sequence(s) {who}" if who else "free (no live sequence holds it)"
                self.fail("ref_count(b) == number of live sequences holding block b (cache hits included)",
                          f"{context}, ref_count({b}) is {rc}, expected {self.ref(b)}: block {b} is {held}")
        free = _int(self.query("num_free_blocks()", seen), "num_free_blocks()")
        if free != self.free_count():
            self.fail("num_free_blocks counts every block with ref count 0 (cached ones included)",
                      f"{context}, num_free_blocks() is {free}, expected {self.free_count()} "
                      f"({self.nb} blocks, {self.nb - self.free_count()} held by live sequences)")

    def _expect_error(self, text, exc, res, kinds, name, why, seen) -> None:
        if exc is None:
            self.log.append(f"{text} -> {_short(res)}")
            self.fail(f"clear errors ({name})", f"{text} should raise {name} ({why}), but returned {_short(res)}")
        if not isinstance(exc, kinds):
            self.fail(f"clear errors ({name})",
                      f"{text} should raise {name} ({why}), but raised {type(exc).__name__}: {_short(str(exc))}")
        self.check_state(f"after {text} raised {type(exc).__name__} (a call that fails must change nothing)", seen)

    # ---- the free pool ---------------------------------------------------------------------------
    def _take(self, got: list[int], text: str) -> None:
        """The student handed out `got` as fresh blocks: they must be the front of the LRU pool."""
        k = len(got)
        nv = min(k, len(self.virgin))
        expect_used = self.queue[: k - nv]
        bad = [b for b in got if not (0 <= b < self.nb)]
        if bad:
            self.fail("block ids are 0 .. num_blocks - 1", f"{text} handed out block id {bad[0]}")
        for b in got:
            who = self.holders(b)
            if who:
                self.fail("no block is handed out twice",
                          f"{text} handed out block {b} as a new block while sequence {who[0]} still holds it")
        if len(set(got)) != k:
            self.fail("no block is handed out twice", f"{text} handed out the same block twice: {got}")
        from_virgin = [b for b in got if b in self.virgin]
        others = sorted(b for b in got if b not in self.virgin)
        if len(from_virgin) != nv or others != sorted(expect_used):
            want = (f"{nv} never used block(s)" if nv else "") + \
                   (" and " if nv and expect_used else "") + (f"blocks {expect_used}" if expect_used else "")
            self.fail("new blocks come from the front of the LRU free pool (least recently used first)",
                      f"{text} took the new block(s) {got}, expected {want}; {self.pool_text()}")
        self.virgin -= set(from_virgin)
        for b in others:
            self.queue.remove(b)
            key = self.key_of.pop(b, None)
            if key is not None:              # evicted: its content is about to be overwritten
                del self.cache[key]

    def _release(self, b: int, remaining_ref: int) -> None:
        if remaining_ref == 0:
            self.queue.append(b)

    # ---- operations --------------------------------------------------------------------------------
    def can_allocate(self, n: int, tokens: list[int], seen) -> bool:
        """Check the answer of can_allocate(n, token_ids=tokens), read from a batch (``seen``)."""
        text = f"can_allocate({n}, token_ids={tokens})"
        try:
            res, exc = seen.take(text), None
        except Exception as e:  # noqa: BLE001
            self.log.append(f"{text} -> raised {type(e).__name__}")
            res, exc = None, e
        if exc is not None:
            self.fail("can_allocate answers", f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
        hits = self.hits(tokens, n)
        idle = sum(1 for b in hits if self.ref(b) == 0)
        want = ceil_div(n, self.bs) - len(hits) <= self.free_count() - idle
        if bool(res) != want:
            self.log.append(f"{text} -> {res!r}")
            self.fail("can_allocate(n, token_ids) is True iff the blocks not found in the cache are free",
                      f"{text} returned {res!r}: it needs {ceil_div(n, self.bs)} blocks, {len(hits)} of them are "
                      f"cached ({idle} of those sit in the free pool), and {self.free_count()} blocks are free")
        return want

    def allocate(self, sid: int, tokens: list[int]):
        n = len(tokens)
        text = f"allocate({sid}, {n}, token_ids={tokens})"
        hits = self.hits(tokens, n)
        idle = sum(1 for b in hits if self.ref(b) == 0)
        expect_ok = sid not in self.tables and ceil_div(n, self.bs) - len(hits) <= self.free_count() - idle
        ok = None
        if expect_ok:
            ok = Calls().add(f"num_cached_tokens({sid})", self.bm, "num_cached_tokens", sid)
            self.state_calls([*self.tables, sid], ok)
        seen = self.observe(("allocate", sid, n), kwargs={"token_ids": list(tokens)}, ok=ok,
                            raised=None if expect_ok else self.state_calls(self.tables),
                            before=Calls().add(f"can_allocate({n}, token_ids={tokens})", self.bm, "can_allocate",
                                               n, token_ids=list(tokens)))
        fits = self.can_allocate(n, tokens, seen.before)
        res, exc = self.outcome(text, seen)
        if sid in self.tables:
            kinds = (ValueError,) if fits else (ValueError, self.err)
            return self._expect_error(text, exc, res, kinds, "ValueError", f"sequence {sid} already exists",
                                      seen.after)
        if not fits:
            return self._expect_error(text, exc, res, (self.err,), "OutOfBlocksError",
                                      f"it needs {ceil_div(n, self.bs) - len(hits)} new blocks besides "
                                      f"{len(hits)} cached ones, and only {self.free_count()} blocks are free",
                                      seen.after)
        if exc is not None:
            self.fail("allocate succeeds when enough blocks are free",
                      f"{text} raised {type(exc).__name__}: {_short(str(exc))}; {self.pool_text()}")
        table = _ints(res, text)
        self.log.append(f"{text} -> {table}")
        need = ceil_div(n, self.bs)
        if len(table) != need:
            self.fail("allocate returns ceil(num_tokens / block_size) blocks",
                      f"{text} returned {len(table)} blocks {table}; with block_size {self.bs} it needs {need}")
        if table[: len(hits)] != hits:
            n_got = 0
            while n_got < len(table) and n_got < len(hits) and table[n_got] == hits[n_got]:
                n_got += 1
            self.fail("allocate reuses the longest cached prefix (whole blocks, chained, at least one token "
                      "left to compute)",
                      f"{text}: the cache holds the first {len(hits) * self.bs} of these tokens in blocks {hits}, "
                      f"so the table must start with them; it is {table}")
        # the hits leave the pool first, then new blocks are taken
        for b in hits:
            if self.ref(b) == 0:
                self.queue.remove(b)
        self.tables[sid] = list(hits)            # so that _take sees the hits as held
        self._take(table[len(hits):], text)
        self.tables[sid], self.toks[sid], self.covered[sid] = table, list(tokens), len(hits)
        cached = _int(self.query(f"num_cached_tokens({sid})", seen.after), f"num_cached_tokens({sid})")
        if cached != len(hits) * self.bs:
            self.fail("num_cached_tokens(seq) == tokens found in the cache by allocate",
                      f"after {text}, num_cached_tokens({sid}) is {cached}, expected {len(hits) * self.bs} "
                      f"({len(hits)} cached full block(s) of {self.bs} tokens)")
        self.check_state(f"after {text}", seen.after)
        return table

    def commit(self, sid: int, m: int) -> None:
        tokens = self.toks[sid][:m]
        text = f"commit({sid}, {tokens})"
        seen = self.observe(("commit", sid, list(tokens)), ok=self.state_calls(self.tables))
        res, exc = self.outcome(text, seen)
        if exc is not None:
            self.fail("commit caches computed full blocks",
                      f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
        self.log.append(text)
        table = self.tables[sid]
        for i in range(self.covered[sid], m // self.bs):
            key = tuple(tokens[: (i + 1) * self.bs])
            if key not in self.cache and table[i] not in self.key_of:
                self.cache[key], self.key_of[table[i]] = table[i], key
        self.covered[sid] = max(self.covered[sid], m // self.bs)
        self.check_state(f"after {text}", seen.after)

    def append_slot(self, sid: int, token: int):
        text = f"append_slot({sid})"
        mode = None
        if sid in self.tables:
            table, n = self.tables[sid], len(self.toks[sid])
            mode = "fresh" if n % self.bs == 0 else ("cow" if self.ref(table[-1]) > 1 else "inplace")
        expect_ok = mode is not None and (mode == "inplace" or self.free_count() > 0)
        ok = None
        if expect_ok:
            ok = self.state_calls(self.tables, Calls().add(f"block_table({sid})", self.bm, "block_table", sid))
        seen = self.observe(("append_slot", sid), ok=ok, raised=None if expect_ok else self.state_calls(self.tables))
        res, exc = self.outcome(text, seen)
        if sid not in self.tables:
            return self._expect_error(text, exc, res, (KeyError,), "KeyError", f"sequence {sid} does not exist",
                                      seen.after)
        if mode != "inplace" and self.free_count() == 0:
            return self._expect_error(text, exc, res, (self.err,), "OutOfBlocksError", "no block is free",
                                      seen.after)
        if exc is not None:
            self.fail("append_slot grows the sequence by one slot",
                      f"{text} raised {type(exc).__name__}: {_short(str(exc))}; {self.pool_text()}")
        self.log.append(f"{text} -> {_short(res)}")
        got = _ints(self.query(f"block_table({sid})", seen.after), f"block_table({sid})")
        if mode == "inplace":
            if got != table:
                self.fail("append_slot takes a new block only when the last block is full or shared",
                          f"{text}: block_table({sid}) changed from {table} to {got}")
        else:
            if len(got) != len(table) + (mode == "fresh") or got[: len(table) - (mode == "cow")] != \
                    table[: len(table) - (mode == "cow")]:
                self.fail("append_slot takes one new block when the last block is full (copy on write if shared)",
                          f"{text}: block_table({sid}) went from {table} to {got}")
            if mode == "cow":
                old = table[-1]
                self.tables[sid] = table[:-1]
                self._take([got[-1]], text)
                self.tables[sid] = got
                self._release(old, self.ref(old))
            else:
                self._take([got[-1]], text)
                self.tables[sid] = got
        self.toks[sid].append(token)
        self.check_state(f"after {text}", seen.after)
        return res

    def fork(self, parent: int, child: int) -> None:
        text = f"fork({parent}, {child})"
        seen = self.observe(("fork", parent, child), ok=self.state_calls([*self.tables, child]))
        res, exc = self.outcome(text, seen)
        if exc is not None:
            self.fail("fork shares the parent's blocks", f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
        self.log.append(text)
        self.tables[child] = list(self.tables[parent])
        self.toks[child] = list(self.toks[parent])
        self.covered[child] = 0
        self.check_state(f"after {text}", seen.after)

    def free(self, sid: int) -> None:
        text = f"free({sid})"
        expect_ok = sid in self.tables
        seen = self.observe(("free", sid), ok=self.state_calls([s for s in self.tables if s != sid]) if expect_ok else None,
                            raised=None if expect_ok else self.state_calls(self.tables))
        res, exc = self.outcome(text, seen)
        if sid not in self.tables:
            what = "it was already freed" if sid in self.dead else f"sequence {sid} does not exist"
            return self._expect_error(text, exc, res, (KeyError,), "KeyError", what, seen.after)
        if exc is not None:
            self.fail("free releases a sequence", f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
        self.log.append(text)
        table = self.tables.pop(sid)
        del self.toks[sid], self.covered[sid]
        for b in reversed(table):                 # tail first: the end of a prefix is evicted first
            self._release(b, self.ref(b))
        self.dead.append(sid)
        self.check_state(f"after {text}", seen.after)

    def expect_hit(self, sid: int, tokens: list[int], blocks: int, why: str) -> list[int]:
        """allocate + an explicit statement of how many blocks must come from the cache."""
        model = len(self.hits(tokens, len(tokens)))
        assert model == blocks, f"grader scenario error: model predicts {model} hit blocks, scenario says {blocks}"
        return self.allocate(sid, tokens)

    # ---- driving from generated op lists ----------------------------------------------------------
    def pick(self, k: int):
        live = sorted(self.tables)
        return live[k % len(live)] if live else None

    def run(self, ops, bases) -> None:
        for op in ops:
            kind = op[0]
            if kind == "alloc":
                _, bi, cut, tail = op
                base = bases[bi % len(bases)]
                self.allocate(self.new_id(), base[: cut % (len(base) + 1)] + list(tail))
            elif kind == "commit":
                sid = self.pick(op[1])
                if sid is not None:
                    self.commit(sid, round(op[2] * len(self.toks[sid])))
            elif kind == "append":
                sid = self.pick(op[1])
                if sid is not None:
                    for j in range(op[2]):
                        self.append_slot(sid, op[3] + j)
            elif kind == "free":
                sid = self.pick(op[1])
                if sid is not None:
                    self.free(sid)
            elif kind == "fork":
                sid = self.pick(op[1])
                if sid is not None:
                    self.fork(sid, self.new_id())
            elif kind == "dup":
                sid = self.pick(op[1])
                if sid is not None:
                    self.allocate(sid, list(op[2]))


TOKENS = st.integers(0, 3)
ALLOC = st.tuples(st.just("alloc"), st.integers(0, 2), st.integers(0, 16), st.lists(TOKENS, max_size=5))
COMMIT = st.tuples(st.just("commit"), st.integers(0, 7), st.sampled_from([0.0, 0.5, 1.0, 1.0]))
APPEND = st.tuples(st.just("append"), st.integers(0, 7), st.integers(1, 4), TOKENS)
FREE = st.tuples(st.just("free"), st.integers(0, 7))
FORK = st.tuples(st.just("fork"), st.integers(0, 7))
DUP = st.tuples(st.just("dup"), st.integers(0, 7), st.lists(TOKENS, min_size=1, max_size=4))
BASES = st.lists(st.lists(TOKENS, min_size=4, max_size=14), min_size=2, max_size=3)


# ---- hash_block -----------------------------------------------------------------------------------
def _hash(student, parent, tokens):
    fn = getattr(student, "hash_block", None)
    if not callable(fn):
        fail_with("hash_block is not defined as a function")
    text = f"hash_block({parent!r}, {tokens!r})"
    try:
        value = fn(parent, tokens)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"{text} raised {type(exc).__name__}: {_short(str(exc))}")
    return _int(value, text)


def _chain(student, tokens, bs):
    h, out = None, []
    for i in range(len(tokens) // bs):
        h = _hash(student, h, tokens[i * bs:(i + 1) * bs])
        out.append(h)
    return out


@points(2)
def test_hash_block(student):
    """hash_block(parent_hash, token_ids) is a deterministic int that names the whole prefix (a chained hash)"""
    a = _hash(student, None, [1, 2, 3, 4])
    if a != _hash(student, None, (1, 2, 3, 4)) or a != _hash(student, None, [1, 2, 3, 4]):
        fail_with("hash_block(None, [1, 2, 3, 4]) must give the same int every time, for a list or a tuple")
    if _hash(student, None, [1, 2, 3, 5]) == a or _hash(student, None, [4, 3, 2, 1]) == a:
        fail_with("hash_block must depend on every token and on their order: [1, 2, 3, 4], [1, 2, 3, 5] and "
                  "[4, 3, 2, 1] hash alike")
    b = _hash(student, a, [5, 6, 7, 8])
    if b == _hash(student, None, [5, 6, 7, 8]) or b == _hash(student, a + 1, [5, 6, 7, 8]):
        fail_with("hash_block must depend on parent_hash: the block [5, 6, 7, 8] after [1, 2, 3, 4] must not "
                  "hash like the same block first in a sequence, or after another parent")
    # Block order matters along a chain (an XOR of block hashes would not notice a swap).
    x, y = [1, 1], [2, 2]
    if _chain(student, x + y, 2)[-1] == _chain(student, y + x, 2)[-1]:
        fail_with("chained hashes must depend on the order of the blocks: the prefixes [1, 1, 2, 2] and "
                  "[2, 2, 1, 1] end with the same hash")
    if _chain(student, [0, 0, 0, 0], 2)[1] == _chain(student, [0, 0], 2)[0]:
        fail_with("the second block of [0, 0, 0, 0] hashes like the first block: the hash of a block must "
                  "include its parent's")
    seen = {}
    for i in range(300):                               # distinct prefixes of 3 blocks of 2
        toks = [i % 7, i // 7 % 7, i // 49, 3, 1, i % 5]
        h = _chain(student, toks, 2)[-1]
        key = tuple(toks)
        if h in seen and seen[h] != key:
            fail_with(f"different prefixes {list(seen[h])} and {toks} end with the same hash {h}")
        seen[h] = key


# ---- scenarios ------------------------------------------------------------------------------------
@points(2)
def test_only_full_blocks_are_cached(student):
    """only FULL blocks are cached, and at least one token is always left to compute"""
    h = Harness(student, 12, 4)
    a = list(range(10, 20))                  # 10 tokens: 2 full blocks + 2 tokens
    h.allocate(0, a)
    h.commit(0, 10)                          # blocks 0, 1 cached; the partial third block is not
    h.free(0)
    h.expect_hit(1, a, 2, "the two full blocks")
    h.free(1)
    h.expect_hit(2, a[:9], 2, "9 tokens: 8 may be cached")
    h.free(2)
    h.expect_hit(3, a[:8], 1, "8 tokens = 2 full blocks, but the last token must be computed: 1 block")
    h.commit(3, 8)
    h.free(3)
    # Grow a sequence slot by slot, committing as it goes: the third block is cached once it is full.
    h.allocate(4, a[:10])
    h.commit(4, 10)
    h.append_slot(4, 20)
    h.commit(4, 11)                          # 11 tokens: still no third full block
    h.append_slot(4, 21)
    h.commit(4, 12)                          # now the third block is full and computed
    h.free(4)
    h.expect_hit(5, a + [20, 21, 99], 3, "three full blocks")
    h.free(5)
    b = [50, 51, 52, 53, 54, 55]
    h.allocate(6, b)
    h.commit(6, 6)                           # block [54, 55] is only half full: not cached
    h.free(6)
    h.expect_hit(7, b + [56], 1, "only the full block [50, 51, 52, 53]")


@points(2)
def test_hash_is_chained(student):
    """a block is found only after the same prefix: equal block tokens after a different prefix must not hit"""
    h = Harness(student, 10, 2)
    h.allocate(0, [1, 2, 3, 4, 5])
    h.commit(0, 5)
    h.free(0)
    h.expect_hit(1, [9, 9, 3, 4, 5], 0, "block [3, 4] follows [9, 9], not [1, 2]")
    h.commit(1, 5)
    h.expect_hit(2, [3, 4, 3, 4, 5], 0, "block [3, 4] first in the sequence is not block [3, 4] after [1, 2]")
    h.commit(2, 5)
    h.expect_hit(3, [1, 2, 3, 4, 7], 2, "both blocks after the same prefix")
    h.expect_hit(4, [9, 9, 3, 4, 7], 2, "the prefix committed by sequence 1")


@points(2)
def test_longest_cached_prefix(student):
    """allocate reuses the longest cached prefix of whole blocks, stopping at the first miss"""
    h = Harness(student, 20, 3)
    a = [5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9]       # 13 tokens: 4 full blocks
    h.allocate(0, a)
    h.commit(0, 13)
    h.expect_hit(1, a[:7] + [0, 0, 0], 2, "blocks 0 and 1; block 2 differs")
    h.expect_hit(2, a[:3] + [7] + a[4:], 1, "block 1 differs, so nothing after it can be used")
    h.expect_hit(3, [0] + a[1:], 0, "the first token differs")
    h.expect_hit(4, a + [1], 4, "the whole committed prefix")


@points(2)
def test_ref_counts_are_shared(student):
    """cache hits share blocks: ref counts count every live holder, shared blocks are never handed out"""
    h = Harness(student, 8, 2)
    p = [7, 7, 8, 8, 9]
    h.allocate(0, p)
    h.commit(0, 5)
    h.expect_hit(1, p[:4] + [1, 2], 2, "blocks [7, 7] and [8, 8], held by sequence 0 too")
    h.expect_hit(2, p[:4] + [3], 2, "the same two blocks, now with three holders")
    h.free(0)                                  # the shared blocks stay held by 1 and 2
    h.allocate(3, [4, 4, 4, 4])                # must not get a block 1 or 2 holds
    h.free(1)
    h.free(2)                                  # now the shared blocks go back to the pool, still cached
    h.expect_hit(4, p[:4] + [6], 2, "released by every holder but still cached")
    h.free(3)
    h.free(4)
    h.allocate(5, list(range(16)))             # the whole pool: every cached block is evicted
    h.free(5)
    h.expect_hit(6, p, 0, "all were evicted by sequence 5")


@points(2)
def test_freed_blocks_stay_cached(student):
    """a freed cached block keeps its content: a later request with the same prefix reuses it"""
    h = Harness(student, 6, 4)
    s = [3, 1, 4, 1, 5, 9, 2, 6, 5]
    first = h.allocate(0, s)
    h.commit(0, 9)
    h.free(0)
    h.allocate(1, [8, 8, 8])                   # takes never used blocks, the cache is untouched
    again = h.expect_hit(2, s, 2, "both full blocks are free but still cached")
    if again[:2] != first[:2]:
        h.fail("freed cached blocks stay reusable", f"expected blocks {first[:2]} again, got {again[:2]}")
    h.free(2)
    h.free(1)
    h.expect_hit(3, s[:8] + [7], 2, "still cached after a second free")


@points(2)
def test_lru_eviction(student):
    """when the pool runs short, the least recently freed cached blocks are evicted first (a prefix's tail first)"""
    h = Harness(student, 10, 2)
    a, b = [1, 1, 2, 2, 3], [5, 5, 6, 6, 7]
    h.allocate(0, a)                           # 3 blocks
    h.commit(0, 5)
    h.allocate(1, b)                           # 3 blocks
    h.commit(1, 5)
    h.free(0)                                  # released first: a's blocks are the least recently used
    h.free(1)
    h.allocate(2, [9] * 11)                    # 6 blocks: 4 never used ones, then a's partial block and a's tail
    h.expect_hit(3, a[:3], 1, "a's first block survived, its second was evicted")
    h.free(2)
    h.expect_hit(4, b, 2, "b was freed last, so it is still fully cached")
    h.free(3)
    h.free(4)
    h.allocate(5, [4] * 5)                     # 3 blocks from the front of the pool
    h.expect_hit(6, b[:4] + [0], 2, "b's blocks were used most recently")


@points(2)
def test_all_or_nothing_and_errors(student):
    """all or nothing: OutOfBlocksError when blocks run out (nothing changes); ValueError / KeyError for bad ids"""
    h = Harness(student, 5, 2)
    p = [1, 2, 3, 4, 5, 6]
    h.allocate(0, p)                           # 3 blocks, 2 free
    h.commit(0, 6)
    h.allocate(1, [9] * 7)                     # needs 4: OutOfBlocksError
    h.allocate(1, p + [7, 8, 9, 10, 11])       # 6 blocks, 3 cached (held): needs 3 new, 2 free
    h.allocate(1, p[:4] + [0, 0, 0])           # 2 cached + 2 new: fits exactly
    h.allocate(1, [1])                         # ValueError: sequence 1 exists
    h.append_slot(1, 0)                        # fills the last block
    h.append_slot(1, 0)                        # needs a block: none free
    h.free(0)                                  # only block [5, 6] returns to the pool
    h.free(0)                                  # KeyError: double free
    h.append_slot(7, 0)                        # KeyError: unknown sequence
    h.free(1)
    h.allocate(2, p + [1, 1, 1, 1])            # 5 blocks, 3 cached idle: the cached ones leave the pool first
    h3 = Harness(student, 4, 2)
    q = [1, 2, 3, 4, 5, 6, 7]
    h3.allocate(0, q)                          # 4 blocks, all of the pool
    h3.commit(0, 7)
    h3.free(0)                                 # 3 full blocks cached, all free
    h3.allocate(1, q[:6] + [0, 0, 0])          # 3 hits + 2 new: only 1 other block, must fail, unchanged
    h3.expect_hit(2, q, 3, "nothing changed by the failed call")


@points(4)
@settings(max_examples=200, **QUICK)
@given(num_blocks=st.integers(1, 12), block_size=st.sampled_from([1, 2, 3, 4]), bases=BASES,
       ops=st.lists(st.one_of(ALLOC, ALLOC, COMMIT, COMMIT, APPEND, FREE, FREE, FORK, DUP), max_size=40))
def test_random_operation_sequences(student, num_blocks, block_size, bases, ops):
    """random allocate / commit / append_slot / fork / free sequences match the model (hits, LRU, ref counts)"""
    h = Harness(student, num_blocks, block_size)
    h.run(ops, bases)
    for sid in sorted(h.tables):
        h.free(sid)
    h.allocate(h.new_id(), [0] * (num_blocks * block_size))
