"""Hidden grader: per-key token-bucket rate limiting (Lab 2.4, notebook 04).

A fake clock makes time explicit. The reference model below is the token bucket written from its
definition; its numbers are dyadic (capacities and costs are integers, rates powers of two, time
steps multiples of 1/8), so every correct implementation computes them exactly in floating point.
The concurrency tests shrink the interpreter's switch interval so that unsynchronised
read-modify-write sequences really interleave.
"""
from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["token_bucket"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


def limiter(student, capacity, rate, clock):
    try:
        return student.TokenBucketLimiter(capacity, rate, clock=clock)
    except Exception as exc:
        fail_with(f"TokenBucketLimiter({capacity}, {rate}, clock=...) raised {type(exc).__name__}: {exc}")


def allow(lim, key, cost=1, what=""):
    out = lim.allow(key, cost)
    if not isinstance(out, bool):
        fail_with(f"allow({key!r}, {cost}) returned {type(out).__name__} {out!r}; expected True or False")
    return out


def count_granted(lim, key, tries, cost=1):
    return sum(allow(lim, key, cost) for _ in range(tries))


def expect_value_error(call, text):
    try:
        call()
    except ValueError:
        return
    except Exception as exc:
        fail_with(f"{text} raised {type(exc).__name__}: {exc}; expected ValueError")
    fail_with(f"{text} did not raise; expected ValueError")


@points(1)
def test_rejects_impossible_parameters(student):
    """ValueError for capacity <= 0, refill_per_s <= 0, and a cost <= 0 or above the capacity"""
    clk = FakeClock()
    expect_value_error(lambda: student.TokenBucketLimiter(0, 1, clock=clk), "TokenBucketLimiter(0, 1)")
    expect_value_error(lambda: student.TokenBucketLimiter(5, 0, clock=clk), "TokenBucketLimiter(5, 0)")
    expect_value_error(lambda: student.TokenBucketLimiter(5, -1, clock=clk), "TokenBucketLimiter(5, -1)")
    lim = limiter(student, 5, 1, clk)
    expect_value_error(lambda: lim.allow("k", 6), "allow('k', 6) on a bucket of capacity 5")
    expect_value_error(lambda: lim.allow("k", 0), "allow('k', 0)")
    expect_value_error(lambda: lim.allow("k", -2), "allow('k', -2) (a negative cost would add tokens)")
    if not allow(lim, "k", 5):
        fail_with("allow('k', 5) on a fresh bucket of capacity 5 returned False; a cost equal to the capacity is valid")


@points(1)
def test_burst_is_exactly_the_capacity(student):
    """a fresh key gets exactly `capacity` requests at one instant, then is refused"""
    clk = FakeClock()
    lim = limiter(student, 5, 1, clk)
    got = [allow(lim, "k") for _ in range(8)]
    if got != [True] * 5 + [False] * 3:
        fail_with(f"8 calls allow('k') at one instant on TokenBucketLimiter(5, 1) returned {got}; expected 5 True "
                  f"then False (a new key starts with a full bucket of 5)")
    left = as_float(lim.available("k"), "available('k')")
    if left != 0:
        fail_with(f"available('k') after using the whole burst is {left}; expected 0")


@points(1)
def test_refill_rate_and_cap(student):
    """tokens come back at refill_per_s and never above capacity"""
    clk = FakeClock()
    lim = limiter(student, 4, 2, clk)
    count_granted(lim, "k", 4)
    clk.advance(1.5)
    n = count_granted(lim, "k", 10)
    if n != 3:
        fail_with(f"TokenBucketLimiter(4, 2): after draining, then 1.5 s, {n} of 10 allow('k') were granted; "
                  f"expected 3 (2 tokens/s x 1.5 s)")
    clk.advance(0.25)
    got = as_float(lim.available("k"), "available('k')")
    if got != 0.5:
        fail_with(f"available('k') 0.25 s after the bucket was emptied is {got}; expected 0.5 (refill is continuous)")
    clk.advance(1000)
    n = count_granted(lim, "k", 10)
    if n != 4:
        fail_with(f"after 1000 s idle, {n} of 10 allow('k') were granted; the bucket holds at most capacity=4")


@points(1)
def test_refused_request_takes_nothing(student):
    """a refused allow() leaves the tokens it could not use in the bucket"""
    clk = FakeClock()
    lim = limiter(student, 4, 2, clk)
    count_granted(lim, "k", 4)
    clk.advance(0.25)
    if allow(lim, "k"):
        fail_with("allow('k') with 0.5 tokens in the bucket returned True")
    got = as_float(lim.available("k"), "available('k')")
    if got != 0.5:
        fail_with(f"after a refused allow('k') with 0.5 tokens, available('k') is {got}; the refusal must take nothing")
    clk.advance(0.25)
    if not allow(lim, "k"):
        fail_with("0.5 s after emptying a bucket refilling 2 tokens/s (with a refused call in between), allow('k') "
                  "returned False; 1 token should be there")
    clk.advance(1.0)
    if allow(lim, "k", 3):
        fail_with("allow('k', 3) with 2 tokens in the bucket returned True")
    if not allow(lim, "k", 2):
        fail_with("allow('k', 2) after a refused allow('k', 3) returned False; the 2 tokens should still be there")


@points(1)
def test_retry_after(student):
    """retry_after(key, cost) is the wait until allow(key, cost) succeeds, 0.0 when it would now"""
    clk = FakeClock()
    lim = limiter(student, 4, 2, clk)
    got = as_float(lim.retry_after("k", 3), "retry_after('k', 3)")
    if got != 0:
        fail_with(f"retry_after('k', 3) on a fresh (full) bucket is {got}; expected 0.0")
    count_granted(lim, "k", 4)
    got = as_float(lim.retry_after("k", 3), "retry_after('k', 3)")
    if got != 1.5:
        fail_with(f"retry_after('k', 3) on an empty bucket refilling 2 tokens/s is {got}; expected 1.5")
    clk.advance(0.5)
    got = as_float(lim.retry_after("k", 3), "retry_after('k', 3)")
    if got != 1.0:
        fail_with(f"retry_after('k', 3) with 1 token in the bucket (2 tokens/s) is {got}; expected 1.0")
    clk.advance(got)
    if not allow(lim, "k", 3):
        fail_with("allow('k', 3) after waiting retry_after('k', 3) seconds returned False")


@points(1)
def test_keys_have_separate_buckets(student):
    """each API key has its own bucket: one key's traffic never spends another's tokens"""
    clk = FakeClock()
    lim = limiter(student, 3, 1, clk)
    count_granted(lim, "noisy", 50)
    n = count_granted(lim, "quiet", 10)
    if n != 3:
        fail_with(f"after 50 allow('noisy'), {n} of 10 allow('quiet') were granted; 'quiet' has its own full bucket "
                  f"of 3")
    clk.advance(2)
    a, b = count_granted(lim, "noisy", 10), count_granted(lim, "third", 10)
    if (a, b) != (2, 3):
        fail_with(f"2 s later, 'noisy' got {a} and a new key 'third' got {b}; expected 2 (refill) and 3 (full bucket)")


class Model:
    def __init__(self, capacity, rate, t0):
        self.capacity, self.rate, self.b = capacity, rate, {}
        self.t = t0

    def _fill(self, key, now):
        tokens, last = self.b.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        self.b[key] = (tokens, now)
        return tokens

    def allow(self, key, cost, now):
        tokens = self._fill(key, now)
        if tokens >= cost:
            self.b[key] = (tokens - cost, now)
            return True
        return False


ops = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 4), st.integers(0, 12)),
               min_size=1, max_size=60)


@points(2)
@settings(max_examples=120, deadline=None, derandomize=True)
@given(capacity=st.integers(4, 10), rate=st.sampled_from([0.5, 1.0, 2.0, 4.0]), seq=ops)
def test_matches_the_token_bucket_model(student, capacity, rate, seq):
    """any sequence of allow() calls over time gives the token-bucket answers (model-based)"""
    clk = FakeClock(500.0)
    lim = limiter(student, capacity, rate, clk)
    model = Model(capacity, rate, clk.t)
    history = []
    for key, cost, eighths in seq:
        clk.advance(eighths / 8)
        want = model.allow(key, cost, clk.t)
        got = allow(lim, key, cost)
        history.append(f"+{eighths / 8:g}s allow({key!r}, {cost})={got}")
        if got != want:
            fail_with(f"TokenBucketLimiter({capacity}, {rate}): after {'; '.join(history[-8:])} the last call should "
                      f"return {want}")
        for k in "abc":
            if k in model.b:
                want_t = model._fill(k, clk.t)
                got_t = as_float(lim.available(k), f"available({k!r})")
                if abs(got_t - want_t) > 1e-9:
                    fail_with(f"TokenBucketLimiter({capacity}, {rate}): after {'; '.join(history[-8:])}, available"
                              f"({k!r}) is {got_t}; expected {want_t}")


def hammer(helpers, fn, args, threads, per_thread):
    """`threads` threads inside the sandbox, next to the limiter, each calling fn(*args) `per_thread` times,
    switching as often as possible (races show up); the number of calls that returned a true value."""
    outcomes = helpers.results_in_threads(fn, [[list(args)] * per_thread for _ in range(threads)], 1e-6, 60.0)
    errors = [o["error"] for o in outcomes if o["error"] is not None]
    if errors:
        fail_with(f"allow() raised {errors[0]} when called from {threads} threads")
    return sum(bool(v) for o in outcomes for v in o["values"])


@points(1)
def test_concurrent_callers_never_exceed_the_bucket(student):
    """8 threads hammering one key at a frozen instant get exactly `capacity` grants in total"""
    helpers = student.__sandbox__.helpers
    # a frozen clock that yields to other threads whenever it is read, then (more trials, a bigger bucket) a
    # frozen clock that does not: the threads then switch only where the interpreter makes them
    for trial, (capacity, per_thread) in enumerate([(300, 150)] * 3 + [(2400, 400)] * 5):
        clk = helpers.YieldingClock(1000.0) if trial < 3 else helpers.ManualClock(1000.0)
        lim = limiter(student, capacity, 1, clk)
        granted = hammer(helpers, lim.allow, ["shared"], threads=8, per_thread=per_thread)
        if granted != capacity:
            fail_with(f"8 threads x {per_thread} allow('shared') on TokenBucketLimiter({capacity}, 1) at one instant "
                      f"granted {granted} requests; expected exactly {capacity} (guard the read-modify-write of a "
                      f"bucket with a lock)")
        left = as_float(lim.available("shared"), "available('shared')")
        if left != 0:
            fail_with(f"after the concurrent burst, available('shared') is {left}; expected 0")


@points(1)
def test_real_clock_bound_and_fairness_under_load(student):
    """with the real clock and 6 threads, grants stay within capacity + rate * elapsed, per key"""
    lim = student.TokenBucketLimiter(40, 200.0)          # default clock: time.monotonic
    keys = ["noisy"] * 5 + ["quiet"]
    t0 = time.monotonic()
    # the threads run inside the sandbox, next to the limiter: each calls allow(key) for 0.4 s, and at least
    # 60 times, even on a very busy machine
    outcomes = student.__sandbox__.helpers.truthy_counts_in_threads(lim.allow, [[k] for k in keys], 0.4, 60,
                                                                    1e-5, 60.0)
    elapsed = time.monotonic() - t0                       # measured here: at least the time the threads ran
    errors = [o["error"] for o in outcomes if o["error"] is not None]
    if errors:
        fail_with(f"allow() raised {errors[0]} when called from {len(keys)} threads")
    counts = {"noisy": 0, "quiet": 0}
    for key, o in zip(keys, outcomes):
        counts[key] += int(o["truthy"])
    bound = 40 + 200.0 * elapsed + 1
    for key, n in counts.items():
        if n > bound:
            fail_with(f"in {elapsed:.2f} s, key {key!r} was granted {n} requests; a bucket of 40 refilling 200/s "
                      f"allows at most {bound:.0f}")
        if n < 40:
            fail_with(f"key {key!r} was granted only {n} requests in {elapsed:.2f} s; its full bucket alone holds 40 "
                      f"(5 threads hammering 'noisy' must not starve 'quiet')")
