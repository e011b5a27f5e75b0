"""Hidden grader: round-robin, least-outstanding and KV-aware routing (Lab 2.4, notebook 01).

A small router written from the docstring's rules is replayed against the student's on fixed and random
sequences of route()/done() calls.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_int, as_int_list, fail_with, points
from autograder.graders.batched import Calls, observe

EXERCISES = ["load_balancer"]
TIMEOUT_S = 60


class Model:
    def __init__(self, n, policy, cap=None):
        self.n, self.policy, self.cap = n, policy, cap
        self.next, self.count, self.used, self.where = 0, [0] * n, [0] * n, {}

    def route(self, rid, blocks):
        if self.policy == "round_robin":
            r = self.next
            self.next = (self.next + 1) % self.n
        else:
            r = min(range(self.n), key=lambda i: (self.count[i], i))
            if self.policy == "kv_aware":
                free = [self.cap - u for u in self.used]
                fits = [i for i in range(self.n) if free[i] >= blocks]
                if fits:
                    r = min(fits, key=lambda i: (-free[i], self.count[i], i))
        self.count[r] += 1
        self.used[r] += blocks
        self.where[rid] = (r, blocks)
        return r

    def done(self, rid):
        r, b = self.where.pop(rid)
        self.count[r] -= 1
        self.used[r] -= b


def make(student, n, policy, cap=None):
    try:
        return student.Router(n, policy, cap) if cap is not None else student.Router(n, policy)
    except Exception as exc:
        fail_with(f"Router({n}, {policy!r}{'' if cap is None else f', {cap}'}) raised {type(exc).__name__}: {exc}")


def replay(student, n, policy, ops, cap=None):
    """ops: ("r", rid, blocks) or ("d", rid). Fails at the first difference. Each operation and the state
    queries after it cross to the sandbox in one round trip (``batched.observe``), checked here in order."""
    router, model = make(student, n, policy, cap), Model(n, policy, cap)
    request_info = student.RequestInfo          # the course's class (setup cell), looked up once
    after = Calls().add("outstanding()", router, "outstanding")
    if policy == "kv_aware":
        after.add("free_blocks()", router, "free_blocks")
    log = []
    for op in ops:
        if op[0] == "r":
            _, rid, blocks = op
            seen = observe(student, call=(router, "route", request_info(rid, blocks)), if_returned=after)
            value, exc = seen.outcome()
            if exc is not None:
                raise exc
            got = as_int(value, f"route({rid!r})")
            want = model.route(rid, blocks)
            log.append(f"route(RequestInfo({rid!r}, kv_blocks={blocks}))->{got}")
            if got != want:
                fail_with(f"Router({n}, {policy!r}{'' if cap is None else f', {cap}'}): after "
                          f"{'; '.join(log[-8:])}: the last call should return {want}")
        else:
            seen = observe(student, call=(router, "done", op[1]), if_returned=after)
            _, exc = seen.outcome()
            if exc is not None:
                raise exc
            model.done(op[1])
            log.append(f"done({op[1]!r})")
        out = as_int_list(seen.after.take("outstanding()"), "outstanding()")
        if out != model.count:
            fail_with(f"Router({n}, {policy!r}): after {'; '.join(log[-8:])}: outstanding() is {out}; expected "
                      f"{model.count}")
        if policy == "kv_aware":
            free = as_int_list(seen.after.take("free_blocks()"), "free_blocks()")
            want = [cap - u for u in model.used]
            if free != want:
                fail_with(f"Router({n}, 'kv_aware', {cap}): after {'; '.join(log[-8:])}: free_blocks() is {free}; "
                          f"expected {want}")
    return router


@points(1)
def test_constructor(student):
    """ValueError for no replicas, an unknown policy, or kv_aware without a KV capacity"""
    for args in ((0, "round_robin"), (2, "random"), (3, "kv_aware")):
        try:
            student.Router(*args)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"Router{args} raised {type(exc).__name__}; expected ValueError")
        fail_with(f"Router{args} was accepted; expected ValueError")


@points(1)
def test_round_robin(student):
    """round_robin cycles 0..N-1 regardless of load"""
    ops = [("r", i, 1) for i in range(7)] + [("d", 0), ("d", 3), ("r", 7, 1), ("r", 8, 1)]
    replay(student, 3, "round_robin", ops)


@points(2)
def test_least_outstanding(student):
    """least_outstanding picks the fewest outstanding requests, lowest index on ties, and sees done()"""
    ops = [("r", i, 1) for i in range(5)] + [("d", 3), ("r", 5, 1), ("d", 0), ("d", 4), ("r", 6, 1), ("r", 7, 1),
                                             ("r", 8, 1)]
    replay(student, 3, "least_outstanding", ops)


@points(2)
def test_kv_aware(student):
    """kv_aware picks the most free KV blocks among replicas with room, else falls back to least outstanding"""
    ops = [("r", "a", 60), ("r", "b", 10), ("r", "c", 30), ("r", "d", 35), ("r", "e", 50), ("d", "a"),
           ("r", "f", 20), ("r", "g", 90), ("r", "h", 5)]
    replay(student, 3, "kv_aware", ops, cap=100)
    ops = [("r", 1, 40), ("r", 2, 40), ("r", 3, 10), ("r", 4, 10)]
    replay(student, 2, "kv_aware", ops, cap=50)
    ops = [("r", "a", 10), ("r", "b", 20), ("r", "c", 10), ("r", "d", 5)]   # equal free blocks: fewest outstanding
    replay(student, 2, "kv_aware", ops, cap=50)
    ops = [("r", "a", 70), ("r", "b", 80), ("r", "c", 90), ("r", "x", 5),
           ("r", "d", 25),                 # exactly the free blocks of replica 0: it fits
           ("r", "f", 50)]                 # fits nowhere: least outstanding is replica 1, not 0
    replay(student, 3, "kv_aware", ops, cap=100)


@points(1)
def test_done_errors(student):
    """done() of an unknown or already finished request raises KeyError and changes nothing"""
    router = make(student, 2, "least_outstanding")
    router.route(student.RequestInfo("x", 1))
    router.done("x")
    for rid in ("x", "never"):
        try:
            router.done(rid)
        except KeyError:
            continue
        except Exception as exc:
            fail_with(f"done({rid!r}) raised {type(exc).__name__}; expected KeyError")
        fail_with(f"done({rid!r}) for a request that is not outstanding did not raise KeyError")
    if as_int_list(router.outstanding(), "outstanding()") != [0, 0]:
        fail_with(f"after the failed done() calls outstanding() is {router.outstanding()}; expected [0, 0]")


@st.composite
def op_lists(draw):
    ops, live, rid = [], [], 0
    for _ in range(draw(st.integers(1, 40))):
        if live and draw(st.booleans()):
            ops.append(("d", live.pop(draw(st.integers(0, len(live) - 1)))))
        else:
            ops.append(("r", rid, draw(st.integers(1, 60))))
            live.append(rid)
            rid += 1
    return ops


@points(3)
@settings(max_examples=100, deadline=None, derandomize=True)
@given(n=st.integers(1, 5), policy=st.sampled_from(["round_robin", "least_outstanding", "kv_aware"]),
       cap=st.sampled_from([64, 100, 160]), ops=op_lists())
def test_any_sequence(student, n, policy, cap, ops):
    """any sequence of route()/done() matches the policy's rules"""
    replay(student, n, policy, ops, cap=cap if policy == "kv_aware" else None)
