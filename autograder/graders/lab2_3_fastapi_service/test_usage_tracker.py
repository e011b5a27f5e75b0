"""Hidden grader: per-request and per-API-key token usage (Lab 2.3, notebook 03)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from autograder.api import as_int, fail_with, points

EXERCISES = ["usage_tracker"]
TIMEOUT_S = 120
MEMORY_MB = 2048

FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
TOTAL_FIELDS = ("requests",) + FIELDS


def plain(d, what: str, fields) -> dict:
    if not isinstance(d, dict):
        fail_with(f"{what} should return a dict, got {type(d).__name__}")
    keys = sorted(map(str, d.keys()))
    if keys != sorted(fields):
        fail_with(f"{what} returned the keys {keys}; expected exactly {sorted(fields)}")
    return {k: as_int(d[k], f"{what}[{k!r}]") for k in fields}


@points(2)
def test_record_returns_openai_usage(student):
    """record() returns the exact OpenAI usage object"""
    t = student.UsageTracker()
    for p, c in [(12, 5), (0, 0), (7, 1), (300, 64)]:
        got = plain(t.record("k", p, c), f"record('k', {p}, {c})", FIELDS)
        want = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        if got != want:
            fail_with(f"record('k', {p}, {c}) returned {got}; expected {want}")


@points(2)
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["alice", "bob", "carol"]), st.integers(0, 4096), st.integers(0, 512)),
                max_size=30))
def test_totals_per_key(student, calls):
    """totals(key) sums requests and tokens per API key; unknown keys are all zeros"""
    t = student.UsageTracker()
    want = {}
    for key, p, c in calls:
        t.record(key, p, c)
        w = want.setdefault(key, dict.fromkeys(TOTAL_FIELDS, 0))
        w["requests"] += 1
        w["prompt_tokens"] += p
        w["completion_tokens"] += c
        w["total_tokens"] += p + c
    for key in ["alice", "bob", "carol", "nobody"]:
        got = plain(t.totals(key), f"totals({key!r})", TOTAL_FIELDS)
        exp = want.get(key, dict.fromkeys(TOTAL_FIELDS, 0))
        if got != exp:
            fail_with(f"after record() calls {calls}, totals({key!r}) returned {got}; expected {exp}")


@points(1)
def test_rejects_negative_counts(student):
    """negative token counts raise ValueError and change nothing"""
    t = student.UsageTracker()
    t.record("k", 3, 4)
    for p, c in [(-1, 2), (2, -1)]:
        try:
            t.record("k", p, c)
        except ValueError:
            pass
        else:
            fail_with(f"record('k', {p}, {c}) did not raise ValueError")
    got = plain(t.totals("k"), "totals('k')", TOTAL_FIELDS)
    if got != {"requests": 1, "prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}:
        fail_with(f"after record('k', 3, 4) and two rejected calls, totals('k') returned {got}")


@points(1)
def test_snapshot(student):
    """snapshot() maps every key to its totals and is a copy"""
    t = student.UsageTracker()
    t.record("a", 1, 2)
    t.record("b", 10, 0)
    t.record("a", 5, 5)
    held = student.__sandbox__.helpers.hold(t.snapshot)     # the returned dict itself, kept in the sandbox
    snap = held.get()
    if not isinstance(snap, dict) or sorted(map(str, snap)) != ["a", "b"]:
        fail_with(f"snapshot() after recording keys 'a' and 'b' returned {snap!r}")
    a = plain(snap["a"], "snapshot()['a']", TOTAL_FIELDS)
    if a != {"requests": 2, "prompt_tokens": 6, "completion_tokens": 7, "total_tokens": 13}:
        fail_with(f"snapshot()['a'] is {a} after record('a', 1, 2) and record('a', 5, 5)")
    try:
        held.setitem(["a", "prompt_tokens"], 10 ** 6)      # changed where the student's code can see it
        held.call([], "pop", "b")
    except Exception:
        pass
    if as_int(t.totals("a")["prompt_tokens"], "totals('a')['prompt_tokens']") != 6 or \
            as_int(t.totals("b")["requests"], "totals('b')['requests']") != 1:
        fail_with("changing the dict returned by snapshot() changed the tracker: return copies")


@points(3)
def test_thread_safe(student):
    """concurrent record() calls from many threads lose no update"""
    helpers = student.__sandbox__.helpers
    for attempt in range(3):
        t = student.UsageTracker()
        n_threads, n_calls = 8, 3000
        # The threads run inside the sandbox, next to the tracker, switching as often as possible: races show up.
        calls = [[("shared" if j % 2 else f"own-{i}", 1, 2) for j in range(n_calls)] for i in range(n_threads)]
        errors = [e for e in helpers.in_threads(t.record, calls, 1e-6, 60.0) if e is not None]
        if errors:
            fail_with(f"record() raised while {n_threads} threads called it: {errors[0]}")
        half = n_calls // 2
        want = {"requests": n_threads * half, "prompt_tokens": n_threads * half,
                "completion_tokens": 2 * n_threads * half, "total_tokens": 3 * n_threads * half}
        got = plain(t.totals("shared"), "totals('shared')", TOTAL_FIELDS)
        if got != want:
            fail_with(f"{n_threads} threads each called record('shared', 1, 2) {half} times; totals('shared') "
                      f"is {got}, expected {want}: updates were lost (guard the read-modify-write with a lock)")
        own = plain(t.totals("own-0"), "totals('own-0')", TOTAL_FIELDS)
        if own["requests"] != half:
            fail_with(f"totals('own-0') counts {own['requests']} requests; thread 0 recorded {half}")
