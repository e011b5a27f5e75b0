"""Hidden grader: one continuous-batching scheduling step (Lab 2.1, notebook 03).

The student's ``schedule_step(waiting, running, kv, max_num_seqs, max_num_batched_tokens)`` is
driven with request records and a small block pool written here (``PoolKV``), step after step,
the way ``labkit.engine`` drives it: after each step every scheduled request computes its tokens,
a request that reached the end of its known tokens samples one more (or finishes).

The request records live inside the sandbox (``sandbox_helpers.Record``: the scheduler reads them and resets
``num_computed_tokens`` on preemption) and are mirrored here by ``Req``, whose fields are pushed before and
pulled after every call; the block pool is the grader's own object, which the student's code calls back
(through ``sandbox_helpers.RelayedPool``, which sends the request's fields along with each call). The
waiting and running lists are made inside the sandbox for each call, so they are changed in place as the
engine's are, and copied back into the test's lists afterwards. One step is one round trip
(``sandbox_helpers.scheduler_step``: push the fields, call, pull them, read the plan) plus one per pool call.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points
from autograder.graders.batched import reraised, sandbox_function
from autograder.remote import Proxy

EXERCISES = ["scheduler_step"]
TIMEOUT_S = 150
TEST_TIMEOUT_S = 20


# ---- the records and the block pool the scheduler works with ---------------------------------------

FIELDS = ("rid", "num_tokens", "num_computed_tokens", "priority", "arrival", "max_new", "generated")
REPR = "r{rid}({num_computed_tokens}/{num_tokens} computed)"


class Req:
    """A request record: what the engine's Sequence exposes to the scheduler. Kept here and, once handed to
    the student's code, also inside the sandbox (``self.handle``): ``push``/``pull`` copy the fields across."""

    by_handle: dict = {}

    def __init__(self, rid: int, prompt_len: int, max_new: int = 4, priority: int = 0, arrival=None):
        self.rid = rid
        self.num_tokens = prompt_len
        self.num_computed_tokens = 0
        self.priority = priority
        self.arrival = rid if arrival is None else arrival
        self.max_new = max_new
        self.generated = 0
        self.handle = None

    def fields(self):
        return [getattr(self, f) for f in FIELDS]

    def key(self):
        return (self.priority, self.arrival)

    def __repr__(self):
        prio = f", priority {self.priority}" if self.priority else ""
        return f"r{self.rid}({self.num_computed_tokens}/{self.num_tokens} computed{prio})"


def bind(student, reqs):
    """Give every request its record inside the sandbox (once; the fields are pushed with each step)."""
    new = [r for r in reqs if r.handle is None]
    if new:
        handles = sandbox_function(student, "make_records")(REPR, list(FIELDS), [r.fields() for r in new])
        if not isinstance(handles, list) or len(handles) != len(new):
            fail_with("your code's process answered nonsense when the request records were made")
        for r, handle in zip(new, handles):
            r.handle = handle
            Req.by_handle[handle] = r


def apply_fields(req, row):
    """The fields of a request's sandbox record (the student's code may have changed them), copied here."""
    if not isinstance(row, (list, tuple)) or len(row) != len(FIELDS):
        fail_with("your code's process answered nonsense when the request records were read")
    for name, value in zip(FIELDS, row):
        setattr(req, name, value)


def pull(helpers, reqs):
    """Read the fields of the requests' sandbox records back (``helpers``: the sandbox's ``read_attrs``)."""
    reqs = [r for r in reqs if r.handle is not None]
    if not reqs:
        return
    rows = helpers([r.handle for r in reqs], list(FIELDS))
    for r, row in zip(reqs, rows):
        apply_fields(r, row)


def type_name(value) -> str:
    if isinstance(value, Proxy):
        return object.__getattribute__(value, "_type").rsplit(".", 1)[-1]
    return type(value).__name__


def ours(value):
    """The Req behind a handle the student's code gave back (the value itself when it is not one of ours)."""
    if isinstance(value, Proxy):
        return Req.by_handle.get(value, value)
    return value


class KVMisuse(Exception):
    pass


class PoolKV:
    """num_blocks blocks of block_size slots; allocate reserves the whole known sequence."""

    def __init__(self, num_blocks: int, block_size: int, prefix_hit: dict | None = None):
        self.helpers = None          # set while the student's code runs: the sandbox's read_attrs, set_attrs
        self.relayed = None          # the fields the RelayedPool sent with the call being served, and
        self.updates: dict = {}      # ... the changes to send back to the request's record
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.free_blocks = num_blocks
        self.held: dict = {}
        self.prefix_hit = prefix_hit or {}
        self.errors: list[str] = []
        self.calls: list[tuple] = []

    def _blocks(self, n: int) -> int:
        return -(-n // self.block_size)

    def _misuse(self, text: str):
        self.errors.append(text)
        raise KVMisuse(text)

    def relay(self, name, args, kwargs, fields):
        """A call of the scheduler on the pool, forwarded by ``sandbox_helpers.RelayedPool`` with the fields of
        the request's record (``fields``): ``[what the method returned, {field: new value} for the record]``."""
        if name not in ("allocate", "grow", "free"):
            raise AttributeError(f"{name!r} is not a method of the block pool")
        self.relayed, self.updates = fields, {}
        try:
            return [getattr(self, name)(*args, **kwargs), self.updates]
        finally:
            self.relayed = None

    def _live(self, req):
        req = ours(req)
        if isinstance(req, Req):
            if self.relayed is not None:
                apply_fields(req, self.relayed)
            elif self.helpers is not None:
                pull(self.helpers[0], [req])
        return req

    def allocate(self, req) -> bool:
        req = self._live(req)
        if not isinstance(req, Req):
            self._misuse(f"kv.allocate was called with {req!r}, not a request record")
        if req in self.held:
            self._misuse(f"kv.allocate({req!r}) was called for a request that already holds blocks")
        need = self._blocks(req.num_tokens)
        ok = need <= self.free_blocks
        self.calls.append(("allocate", req, ok))
        if ok:
            self.free_blocks -= need
            self.held[req] = need
            req.num_computed_tokens = self.prefix_hit.get(req.rid, 0)
            if self.relayed is not None:
                self.updates["num_computed_tokens"] = req.num_computed_tokens
            elif self.helpers is not None and req.handle is not None:
                self.helpers[1]([req.handle], ["num_computed_tokens"], [[req.num_computed_tokens]])
        return ok

    def grow(self, req, num_new_tokens) -> bool:
        req = self._live(req)
        if req not in self.held:
            self._misuse(f"kv.grow({req!r}, {num_new_tokens!r}) was called for a request that holds no blocks "
                         f"(never admitted, or already preempted)")
        n = int(num_new_tokens)
        if n < 0:
            self._misuse(f"kv.grow({req!r}, {n}) asked for a negative number of tokens")
        need = self._blocks(req.num_computed_tokens + n) - self.held[req]
        ok = need <= self.free_blocks
        self.calls.append(("grow", req, ok))
        if ok and need > 0:
            self.free_blocks -= need
            self.held[req] += need
        return ok

    def free(self, req) -> None:
        req = self._live(req)
        if req not in self.held:
            self._misuse(f"kv.free({req!r}) was called for a request that holds no blocks")
        self.calls.append(("free", req, True))
        self.free_blocks += self.held.pop(req)

    def __repr__(self):
        return f"kv<{self.free_blocks} of {self.num_blocks} blocks of {self.block_size} free>"


def run_step(student, waiting, running, kv, max_num_seqs, budget, plan_attrs=(), strict=False):
    """schedule_step on lists made inside the sandbox; the test's lists and requests are updated afterwards.
    Returns the plan and the values of its ``plan_attrs`` (``getattr(plan, a, MISSING)``, or plain ``getattr``
    with ``strict``), read in the same round trip."""
    everyone = list(dict.fromkeys([*waiting, *running, *kv.held]))
    bind(student, everyone)
    kv.helpers = (sandbox_function(student, "read_attrs"), sandbox_function(student, "set_attrs"))
    try:
        reply = sandbox_function(student, "scheduler_step")(
            [r.handle for r in everyone], list(FIELDS), [r.fields() for r in everyone], student, "schedule_step",
            [[r.handle for r in waiting], [r.handle for r in running]], kv, kv.relay, [max_num_seqs, budget],
            list(plan_attrs), MISSING, strict)
    finally:
        kv.helpers = None
    try:
        outcome, rows, lists, (values, failure) = reply
        ok, plan = outcome
    except (TypeError, ValueError):
        fail_with("your code's process answered nonsense to a scheduling step")
    if not isinstance(rows, list) or len(rows) != len(everyone):
        fail_with("your code's process answered nonsense to a scheduling step")
    for r, row in zip(everyone, rows):
        apply_fields(r, row)
    if not ok:
        raise reraised(plan)
    if not isinstance(lists, list) or len(lists) != 2 or not isinstance(values, list):
        fail_with("your code's process answered nonsense to a scheduling step")
    waiting[:] = [ours(r) for r in lists[0]]
    running[:] = [ours(r) for r in lists[1]]
    if failure is not None:
        values = values + [reraised(failure)]
    return plan, values


MISSING = "\x00<no such attribute>"


def names(reqs) -> str:
    return "[" + ", ".join(map(repr, reqs)) + "]"


# ---- one checked call ---------------------------------------------------------------------------------

def call(student, waiting, running, kv, max_num_seqs, budget):
    """Call schedule_step, check every per-step invariant, return (scheduled dict, plan)."""
    desc = (f"schedule_step(waiting={names(waiting)}, running={names(running)}, {kv!r}, "
            f"max_num_seqs={max_num_seqs}, max_num_batched_tokens={budget})")
    waiting_before, running_before = list(waiting), list(running)
    kv.calls = []
    attrs = ("num_scheduled_tokens", "admitted", "preempted")
    try:
        plan, values = run_step(student, waiting, running, kv, max_num_seqs, budget, attrs)
    except Exception as exc:
        if getattr(exc, "remote_type", "") == "KVMisuse" and kv.errors:
            fail_with(f"{desc}: {kv.errors[-1]}")
        raise
    if kv.errors:
        fail_with(f"{desc}: {kv.errors[-1]}")
    if values and isinstance(values[-1], BaseException):
        raise values[-1]                     # reading a plan attribute raised: as if read here
    if len(values) != len(attrs):
        fail_with("your code's process answered nonsense to a scheduling step")
    for attr, value in zip(attrs, values):
        if isinstance(value, str) and value == MISSING:
            fail_with(f"{desc} returned {plan!r}, which has no attribute {attr!r} (return a StepPlan)")
    plan_tokens, plan_admitted_raw, plan_preempted_raw = values
    try:
        items = list(plan_tokens.items())
    except Exception:
        fail_with(f"{desc}: plan.num_scheduled_tokens should be a dict request -> tokens, "
                  f"got {type_name(plan_tokens)}")
    scheduled = {}
    for req, n in items:
        req = ours(req)
        if not isinstance(req, Req):
            fail_with(f"{desc}: the keys of plan.num_scheduled_tokens should be the request objects themselves, "
                      f"got {req!r}")
        n = as_int(n, f"plan.num_scheduled_tokens[{req!r}]")
        if n < 1:
            fail_with(f"{desc} scheduled {n} tokens for {req!r}; a request in the plan gets at least 1 token "
                      f"(leave it out of num_scheduled_tokens instead)")
        scheduled[req] = n
    after_desc = f"{desc} -> scheduled {{{', '.join(f'r{r.rid}: {n}' for r, n in scheduled.items())}}}"

    everyone = waiting_before + running_before
    if len(running) != len(set(running)) or len(waiting) != len(set(waiting)):
        fail_with(f"{after_desc}: a request appears twice in waiting or running afterwards "
                  f"(waiting={names(waiting)}, running={names(running)})")
    if set(waiting) & set(running):
        fail_with(f"{after_desc}: {names(set(waiting) & set(running))} is in both waiting and running afterwards")
    if set(waiting) | set(running) != set(everyone):
        lost = set(everyone) - set(waiting) - set(running)
        extra = (set(waiting) | set(running)) - set(everyone)
        fail_with(f"{after_desc}: requests lost {names(lost)} or invented {names(extra)}: every request must be in "
                  f"waiting or running after the step")
    total = sum(scheduled.values())
    if total > budget:
        fail_with(f"{after_desc}: {total} tokens in one step, more than max_num_batched_tokens={budget}")
    if len(running) > max_num_seqs:
        fail_with(f"{after_desc}: {len(running)} requests running afterwards, more than max_num_seqs={max_num_seqs}")
    for req, n in scheduled.items():
        if req not in running:
            fail_with(f"{after_desc}: {req!r} got tokens but is not in running afterwards (move requests between "
                      f"the waiting and running lists in place: the engine keeps those two list objects)")
        left = req.num_tokens - req.num_computed_tokens
        if n > left:
            fail_with(f"{after_desc}: {req!r} got {n} tokens but only {left} of its tokens are not computed yet")
    for req in running:
        if req not in kv.held:
            fail_with(f"{after_desc}: {req!r} is running but holds no KV blocks (admit with kv.allocate)")
    for req in waiting:
        if req in kv.held:
            fail_with(f"{after_desc}: {req!r} is waiting but still holds KV blocks (preempt with kv.free)")

    preempted = [r for r in running_before if r not in running]
    admitted = [r for r in running if r not in running_before]
    try:
        plan_preempted, plan_admitted = [ours(r) for r in plan_preempted_raw], [ours(r) for r in plan_admitted_raw]
    except Exception:
        fail_with(f"{after_desc}: plan.preempted and plan.admitted should be lists of requests")
    if set(plan_preempted) != set(preempted):
        fail_with(f"{after_desc}: plan.preempted is {names(plan_preempted)} but the requests moved from running "
                  f"to waiting are {names(preempted)}")
    if set(plan_admitted) != set(admitted):
        fail_with(f"{after_desc}: plan.admitted is {names(plan_admitted)} but the requests moved from waiting "
                  f"to running are {names(admitted)}")
    for r in preempted:
        if r.num_computed_tokens != 0:
            fail_with(f"{after_desc}: {r!r} was preempted by recompute but its num_computed_tokens is "
                      f"{r.num_computed_tokens}; its KV is gone, so it must be reset to 0")
    if preempted and admitted:
        fail_with(f"{after_desc}: preempted {names(preempted)} and admitted {names(admitted)} in the same step; "
                  f"a step that had to preempt admits nobody")
    if preempted and not any(c[0] == "grow" and not c[2] for c in kv.calls):
        fail_with(f"{after_desc}: preempted {names(preempted)} although no kv.grow call failed")
    kept = [r for r in running_before if r in running]
    for v in preempted:
        more_important_gone = [r for r in kept if r.key() > v.key()]
        if more_important_gone:
            fail_with(f"{after_desc}: preempted {v!r} but kept the less important (later arrived / lower "
                      f"priority) {names(more_important_gone)} running; preempt the least important first")
    # Running requests, most important first, until the budget runs out.
    order = sorted(kept, key=Req.key)
    got = [r in scheduled for r in order]
    if any(g and not prev for prev, g in zip(got, got[1:])):
        skipped = [r for r, g in zip(order, got) if not g]
        fail_with(f"{after_desc}: the running request(s) {names(skipped)} got no tokens while less important "
                  f"running requests did; schedule running requests in (priority, arrival) order")
    if not all(got) and total < budget:
        fail_with(f"{after_desc}: running request(s) {names([r for r, g in zip(order, got) if not g])} got no "
                  f"tokens although {budget - total} tokens of the budget were left")
    for req, n in scheduled.items():
        if req.num_computed_tokens + n < req.num_tokens and total < budget:
            fail_with(f"{after_desc}: {req!r} got only {n} tokens although {budget - total} tokens of the "
                      f"budget were left")
    if admitted and not all(got):
        fail_with(f"{after_desc}: admitted {names(admitted)} before every running request was scheduled; "
                  f"running requests come first")
    head = sorted(waiting_before, key=Req.key)[:len(admitted)]
    if set(head) != set(admitted):
        fail_with(f"{after_desc}: admitted {names(admitted)}, but the head of the waiting queue in "
                  f"(priority, arrival) order is {names(head)}; the head is never skipped")
    for r in admitted:
        if r not in scheduled:
            fail_with(f"{after_desc}: admitted {r!r} but scheduled no tokens for it")
    if (not preempted and waiting and len(running) < max_num_seqs and total < budget
            and not any(c[0] == "allocate" and not c[2] for c in kv.calls)):
        fail_with(f"{after_desc}: left {names(waiting)} waiting although there was a free seat, "
                  f"{budget - total} tokens of budget and no kv.allocate had failed")
    return scheduled, plan


def advance(scheduled, running, kv, finished):
    """What the engine does after the forward pass: tokens computed, one sampled at the end."""
    for req, n in scheduled.items():
        req.num_computed_tokens += n
        if req.num_computed_tokens == req.num_tokens:
            req.generated += 1
            if req.generated >= req.max_new:
                running.remove(req)
                kv.free(req)
                finished.append(req)
            else:
                req.num_tokens += 1


def simulate(student, specs, num_blocks, block_size, max_num_seqs, budget, check=True, max_steps=None):
    """specs: (arrival_step, prompt_len, max_new, priority). Returns (finished, steps, trace)."""
    reqs = [Req(i, p, m, prio) for i, (_, p, m, prio) in enumerate(specs)]
    arrive = {i: s[0] for i, s in enumerate(specs)}
    kv = PoolKV(num_blocks, block_size)
    waiting, running, finished = [], [], []
    limit = max_steps or 40 * sum(p + m for _, p, m, _ in specs) + 100
    step = 0
    while len(finished) < len(reqs) and step < limit:
        for r in reqs:
            if arrive[r.rid] == step:
                waiting.append(r)
        if check:
            scheduled, _ = call(student, waiting, running, kv, max_num_seqs, budget)
        else:
            try:
                plan, values = run_step(student, waiting, running, kv, max_num_seqs, budget,
                                        ["num_scheduled_tokens"], strict=True)
                if values and isinstance(values[-1], BaseException):
                    raise values[-1]             # plan.num_scheduled_tokens raised
                if len(values) != 1:
                    fail_with("your code's process answered nonsense to a scheduling step")
                scheduled = {ours(r): int(n) for r, n in dict(values[0]).items() if int(n) > 0}
            except Exception as exc:
                if getattr(exc, "remote_type", "") == "KVMisuse" and kv.errors:
                    return finished, step, kv.errors[-1]
                raise
            for r, n in scheduled.items():
                if n > r.num_tokens - r.num_computed_tokens:
                    return finished, step, f"{r!r} got {n} tokens"
        advance(scheduled, running, kv, finished)
        step += 1
    return finished, step, None


def mix_desc(specs, num_blocks, block_size, max_num_seqs, budget):
    reqs = ", ".join(f"r{i}(prompt {p}, {m} new tokens" + (f", priority {pr}" if pr else "") + f", arrives at step {a})"
                     for i, (a, p, m, pr) in enumerate(specs))
    return (f"requests [{reqs}] with {num_blocks} blocks of {block_size}, max_num_seqs={max_num_seqs}, "
            f"max_num_batched_tokens={budget}")


# ---- tests ------------------------------------------------------------------------------------------

@points(2)
def test_token_budget_and_chunked_prefill(student):
    """token budget and chunked prefill: a long prompt is split over steps and completes"""
    kv = PoolKV(64, 4)
    long = Req(0, 50, max_new=2)
    waiting, running = [long], []
    chunks = []
    for _ in range(4):
        scheduled, _ = call(student, waiting, running, kv, 4, 16)
        assert long in scheduled, (f"step {len(chunks) + 1} of a 50-token prompt with max_num_batched_tokens=16: "
                                   f"the prompt got no tokens (waiting={names(waiting)}, running={names(running)}); "
                                   f"a prompt longer than the budget is split into chunks")
        chunks.append(scheduled[long])
        advance(scheduled, running, kv, [])
    assert chunks == [16, 16, 16, 2], (f"a 50-token prompt with max_num_batched_tokens=16 was computed in chunks "
                                       f"{chunks}; expected [16, 16, 16, 2]")
    assert long.num_tokens == 51, "after its last chunk the prompt samples its first token"
    # A prefix-cache hit reported by kv.allocate is not computed again.
    kv = PoolKV(64, 4, prefix_hit={0: 8})
    cached = Req(0, 20)
    waiting, running = [cached], []
    scheduled, _ = call(student, waiting, running, kv, 4, 64)
    assert scheduled.get(cached) == 12, (
        f"a 20-token prompt whose kv.allocate set num_computed_tokens to 8 (a prefix-cache hit) got "
        f"{scheduled.get(cached)} tokens; expected the 12 tokens not in the cache (compute the chunk after allocate)")
    # Decodes first, then a new prompt takes what is left of the budget.
    kv = PoolKV(64, 4)
    a, b, c = Req(0, 3), Req(1, 3), Req(2, 40)
    a.num_tokens, b.num_tokens = 4, 4
    for r in (a, b):
        kv.allocate(r)
        r.num_computed_tokens = 3
    waiting, running = [c], [a, b]
    scheduled, _ = call(student, waiting, running, kv, 4, 10)
    got = {f"r{r.rid}": n for r, n in scheduled.items()}
    assert got == {"r0": 1, "r1": 1, "r2": 8}, (
        f"two running requests decoding one token each and a waiting 40-token prompt, max_num_batched_tokens=10: "
        f"scheduled {got}; expected r0: 1, r1: 1 and the first 8 tokens of r2's prompt")


@points(1)
def test_max_num_seqs(student):
    """max_num_seqs caps the running batch, and free seats are filled"""
    kv = PoolKV(64, 4)
    reqs = [Req(i, 5, max_new=3) for i in range(6)]
    waiting, running, finished = list(reqs), [], []
    scheduled, _ = call(student, waiting, running, kv, 2, 512)
    assert sorted(r.rid for r in running) == [0, 1], (
        f"6 short waiting requests, max_num_seqs=2, max_num_batched_tokens=512: running afterwards is "
        f"{names(running)}; expected r0 and r1")
    steps = 1
    advance(scheduled, running, kv, finished)
    while len(finished) < 6 and steps < 60:
        scheduled, _ = call(student, waiting, running, kv, 2, 512)
        advance(scheduled, running, kv, finished)
        steps += 1
    assert len(finished) == 6, f"6 requests with max_num_seqs=2: only {len(finished)} finished after {steps} steps"


@points(2)
def test_order_running_first_fcfs_and_priority(student):
    """running requests before waiting ones; (priority, arrival) order; the head is never skipped"""
    # Budget for two tokens: the two most important running requests get them.
    kv = PoolKV(64, 4)
    rs = [Req(i, 4, priority=p) for i, p in enumerate([1, 0, 1, 0])]
    for r in rs:
        kv.allocate(r)
        r.num_computed_tokens, r.num_tokens = 4, 5
    waiting, running = [Req(9, 3, arrival=-1)], [rs[2], rs[0], rs[3], rs[1]]
    scheduled, _ = call(student, waiting, running, kv, 8, 2)
    got = sorted(r.rid for r in scheduled)
    assert got == [1, 3], (f"running r0 (priority 1), r1 (priority 0), r2 (priority 1), r3 (priority 0) each need "
                           f"1 token, budget 2: scheduled {['r%d' % i for i in got]}; expected r1 and r3 "
                           f"(lower priority value first, then earlier arrival); the waiting request comes last")
    # Waiting queue given out of order: admitted in (priority, arrival) order.
    kv = PoolKV(64, 4)
    w = [Req(0, 4, priority=2), Req(1, 4, priority=0), Req(2, 4, priority=1), Req(3, 4, priority=0)]
    waiting, running = [w[2], w[0], w[3], w[1]], []
    scheduled, plan = call(student, waiting, running, kv, 2, 100)
    got = sorted(r.rid for r in running)
    assert got == [1, 3], (f"waiting r0 (priority 2), r1 (priority 0), r2 (priority 1), r3 (priority 0), "
                           f"max_num_seqs=2: admitted {['r%d' % i for i in got]}; expected r1 and r3")
    # The head does not fit in memory: nobody behind it may jump the queue.
    kv = PoolKV(6, 4)
    big, small = Req(0, 30), Req(1, 2)
    waiting, running = [big, small], []
    scheduled, _ = call(student, waiting, running, kv, 4, 100)
    assert not running, (f"waiting [r0 (30-token prompt), r1 (2 tokens)] with 6 free blocks of 4: r0 does not fit "
                         f"yet, and {names(running)} was admitted past it; the head of the queue is never skipped")


@points(2)
def test_preemption_by_recompute(student):
    """when kv.grow fails, the latest arrived running request is preempted by recompute"""
    kv = PoolKV(4, 4)   # 16 slots
    a, b = Req(0, 7, max_new=2), Req(1, 7, max_new=10)
    for r in (a, b):
        kv.allocate(r)                                 # 2 blocks each: the pool is full
        r.num_computed_tokens, r.num_tokens = 8, 9     # each needs a third block for its 9th token
        r.generated = 1
    late = Req(2, 2)
    waiting, running = [late], [a, b]
    scheduled, plan = call(student, waiting, running, kv, 4, 16)
    assert [r.rid for r in running] == [0], (
        f"running r0 and r1 (arrived later) both need a new block, the pool is full: running afterwards is "
        f"{names(running)}; expected only r0 (r1 preempted)")
    assert b in waiting and b.num_computed_tokens == 0, f"r1 should be back in waiting with num_computed_tokens 0"
    assert scheduled.get(a) == 1, f"r0 should get its decode token in that step, scheduled {scheduled}"
    assert late in waiting, "nothing is admitted in a step that preempted"
    # r0 finishes; next step r1 (earlier arrival) is re-admitted before r2 and recomputes all its 9 tokens.
    advance(scheduled, running, kv, [])
    assert not running, "r0 finished"
    scheduled, _ = call(student, waiting, running, kv, 4, 16)
    assert b in running and scheduled.get(b) == 9, (
        f"after the preemption, r0 finished: waiting={names(waiting)}, running={names(running)}, scheduled "
        f"{scheduled}; the preempted r1 arrived before r2, so it is re-admitted first and recomputes its 9 tokens")
    # Memory freed by a preemption is not handed to a waiting request in the same step.
    kv = PoolKV(3, 4)
    a, v, w = Req(0, 4, max_new=10), Req(1, 8, max_new=10, priority=2), Req(2, 3, priority=1)
    kv.allocate(a)                                   # 1 block
    kv.allocate(v)                                   # 2 blocks: the pool is full
    a.num_computed_tokens, a.num_tokens = 4, 5       # needs a second block
    v.num_computed_tokens, v.num_tokens = 8, 9
    waiting, running = [w], [a, v]
    scheduled, _ = call(student, waiting, running, kv, 4, 16)
    assert v in waiting and w in waiting, (
        f"running r0 (priority 0, needs a block) and r1 (priority 2), waiting r2 (priority 1, fits in one block), "
        f"pool full: r1 must be preempted and nobody admitted in that step; got running {names(running)}, "
        f"waiting {names(waiting)}")
    # The request that cannot grow is itself the least important one: it preempts itself.
    kv = PoolKV(2, 4)
    a, b = Req(0, 3, max_new=10), Req(1, 4, max_new=10)
    kv.allocate(a)
    kv.allocate(b)
    a.num_computed_tokens, a.num_tokens = 3, 4      # its 4th token still fits in its block
    b.num_computed_tokens, b.num_tokens = 4, 5      # needs a second block; none is free
    waiting, running = [], [a, b]
    scheduled, _ = call(student, waiting, running, kv, 4, 16)
    assert scheduled.get(a) == 1 and b in waiting and b.num_computed_tokens == 0, (
        f"running r0 (fits its block) and r1 (needs a block, none free): expected r0 scheduled and r1 preempted "
        f"back to waiting with num_computed_tokens 0; got scheduled {scheduled}, waiting {names(waiting)}")


hyp_specs = st.lists(st.tuples(st.integers(0, 8), st.integers(1, 40), st.integers(1, 8), st.integers(0, 2)),
                     min_size=1, max_size=8)


@points(2)
@settings(max_examples=60)
@given(specs=hyp_specs, block_size=st.sampled_from([2, 4, 8]), extra_blocks=st.integers(0, 16),
       max_num_seqs=st.integers(1, 5), budget=st.integers(4, 48))
def test_random_mixes_keep_every_invariant(student, specs, block_size, extra_blocks, max_num_seqs, budget):
    """random request mixes: every step keeps budget, seats, order, preemption and admission rules"""
    need = max(-(-(p + m) // block_size) for _, p, m, _ in specs)
    simulate(student, specs, need + extra_blocks, block_size, max_num_seqs, budget, check=True)


@points(1)
@settings(max_examples=40)
@given(specs=hyp_specs, block_size=st.sampled_from([2, 4, 8]), extra_blocks=st.integers(0, 8),
       max_num_seqs=st.integers(1, 5), budget=st.integers(4, 48))
def test_every_request_finishes(student, specs, block_size, extra_blocks, max_num_seqs, budget):
    """liveness: every request of a mix eventually finishes"""
    need = max(-(-(p + m) // block_size) for _, p, m, _ in specs)
    blocks = need + extra_blocks
    finished, steps, problem = simulate(student, specs, blocks, block_size, max_num_seqs, budget, check=False)
    desc = mix_desc(specs, blocks, block_size, max_num_seqs, budget)
    assert problem is None, f"{desc}: at step {steps}, {problem}"
    assert len(finished) == len(specs), (f"{desc}: only {len(finished)} of {len(specs)} requests finished after "
                                         f"{steps} steps (a request that is never admitted or never scheduled?)")
