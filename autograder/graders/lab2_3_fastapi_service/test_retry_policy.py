"""Hidden grader: retries with exponential backoff, jitter, Retry-After and per-attempt timeouts (Lab 2.3, 02).

``send`` is scripted here (a list of responses, exceptions or hangs) and built inside the sandbox
(``sandbox_helpers.ScriptedAsync``), as is ``sleep``, which records the delays instead of waiting; ``rng`` is
fixed, so the expected schedule is computed here from the rules in the notebook.
"""
from __future__ import annotations

import asyncio

import httpx

from autograder.api import fail_with, points

EXERCISES = ["retry_policy"]
TIMEOUT_S = 60
TEST_TIMEOUT_S = 20

HANG = object()


class Resp:
    """A scripted response (built as ``sandbox_helpers.FakeResponse`` inside the sandbox)."""

    def __init__(self, status, headers=None):
        self.status_code = status
        self.headers = httpx.Headers(headers or {})

    def __repr__(self):
        extra = f", {dict(self.headers)}" if self.headers else ""
        return f"Resp({self.status_code}{extra})"


class Raise:
    """A scripted exception: ``module.name(message)``, raised inside the sandbox."""

    def __init__(self, module, name, message):
        self.module, self.name, self.message = module, name, message


class Raised:
    """What the student's call raised, observed in the sandbox: class name, the qualified names of its classes."""

    def __init__(self, info):
        self.type, self.mro = str(info["type"]), [str(m) for m in info["mro"]]
        self.text, self.message = str(info["repr"]), str(info["message"])

    def is_a(self, klass):
        return any(f"{k.__module__}.{k.__qualname__}" in self.mro for k in (klass,))

    def __repr__(self):
        return self.text


def describe(outcomes):
    return "[" + ", ".join("hang" if o is HANG else (o.name if isinstance(o, Raise) else repr(o))
                           for o in outcomes) + "]"


def run(student, outcomes, **kwargs):
    """(result or raised exception, number of send calls, recorded delays)."""
    sb = student.__sandbox__
    helpers = sb.helpers
    script, made = [], {}
    for out in outcomes:
        if out is HANG:
            script.append(["hang"])
        elif isinstance(out, Raise):
            key = id(out)                     # the same exception object for a repeated outcome, as in process
            if key not in made:
                made[key] = helpers.construct(out.module, out.name, out.message)
            script.append(["raise", made[key]])
        else:
            script.append(["return", helpers.FakeResponse(out.status_code, dict(out.headers))])
    send = helpers.ScriptedAsync(script, helpers.FakeResponse(200))
    sleep = helpers.ScriptedAsync()
    kwargs.setdefault("rng", lambda: 1.0)

    status, result = helpers.call_with_timeout(student.call_with_retries, [send], dict(kwargs, sleep=sleep), 10,
                                               capture=True)
    hung = status == "timeout"
    if status == "raised":
        result = Raised(result)
    if hung:
        fail_with(f"call_with_retries with send outcomes {describe(outcomes)} and {kwargs_text(kwargs)} did not "
                  "return within 10 s (is every attempt limited by attempt_timeout?)")
    slept = []
    for args, kw in sleep.calls:
        value = args[0] if args else next(iter(kw.values()), None)
        try:
            slept.append(float(value))
        except (TypeError, ValueError):
            fail_with(f"call_with_retries called sleep({', '.join(map(repr, args))}); sleep takes the delay in seconds")
    return result, len(send.calls), slept


def kwargs_text(kwargs):
    return ", ".join(f"{k}={'<fixed rng>' if k == 'rng' else v}" for k, v in kwargs.items())


def expect(student, outcomes, *, status=None, raises=None, calls, delays, **kwargs):
    result, n, slept = run(student, outcomes, **kwargs)
    how = f"with send outcomes {describe(outcomes)} and {kwargs_text(kwargs)}"
    if raises is not None:
        if not (isinstance(result, Raised) and result.is_a(raises)):
            fail_with(f"{how}: expected the last {raises.__name__} to be raised, got {result!r}")
    elif isinstance(result, Raised):
        fail_with(f"{how}: raised {result.type}: {result.message}; expected a response with status {status}")
    elif getattr(result, "status_code", None) != status:
        fail_with(f"{how}: returned {result!r}, expected the response with status {status}")
    if n != calls:
        fail_with(f"{how}: send() was called {n} times, expected {calls}")
    if len(slept) != len(delays) or any(abs(a - b) > 1e-9 for a, b in zip(slept, delays)):
        fail_with(f"{how}: slept {[round(s, 4) for s in slept]}, expected {delays}")


@points(1)
def test_success_and_permanent_errors_not_retried(student):
    """a success or a permanent error (400, 401, 404, 422) is returned at once, without sleeping"""
    expect(student, [Resp(200)], status=200, calls=1, delays=[])
    for code in (400, 401, 404, 422):
        expect(student, [Resp(code)], status=code, calls=1, delays=[])
    expect(student, [Resp(503), Resp(400)], status=400, calls=2, delays=[0.1])


@points(2)
def test_exponential_backoff_with_cap_and_jitter(student):
    """delay = rng() * min(max_delay, base_delay * 2**(k-1)) after the k-th failed attempt"""
    expect(student, [Resp(503), Resp(502), Resp(500), Resp(200)], status=200, calls=4, delays=[0.1, 0.2, 0.4])
    expect(student, [Resp(503)] * 4 + [Resp(200)], status=200, calls=5, delays=[1.0, 2.0, 2.5, 2.5],
           max_attempts=5, base_delay=1.0, max_delay=2.5)
    expect(student, [Resp(504), Resp(429), Resp(200)], status=200, calls=3, delays=[0.25, 0.5],
           base_delay=0.5, rng=lambda: 0.5)
    draws = iter([0.9, 0.1, 0.6])
    expect(student, [Resp(503)] * 3 + [Resp(200)], status=200, calls=4, delays=[0.9 * 0.2, 0.1 * 0.4, 0.6 * 0.8],
           base_delay=0.2, rng=lambda: next(draws))


@points(1)
def test_retry_after_header(student):
    """a Retry-After header (seconds) sets the delay, capped at max_delay"""
    expect(student, [Resp(429, {"Retry-After": "1.5"}), Resp(200)], status=200, calls=2, delays=[1.5])
    expect(student, [Resp(503, {"retry-after": "30"}), Resp(200)], status=200, calls=2, delays=[2.0])
    expect(student, [Resp(429, {"Retry-After": "0"}), Resp(503), Resp(200)], status=200, calls=3, delays=[0.0, 0.2])


@points(1)
def test_gives_up_after_max_attempts(student):
    """after max_attempts transient failures: exactly max_attempts calls, the last response returned"""
    expect(student, [Resp(503)] * 10, status=503, calls=4, delays=[0.1, 0.2, 0.4])
    expect(student, [Resp(429)] * 10, status=429, calls=2, delays=[0.1], max_attempts=2)
    expect(student, [Resp(500)] * 10, status=500, calls=1, delays=[], max_attempts=1)


@points(1)
def test_timeouts_and_connection_errors(student):
    """a hung attempt times out and is retried like a connection error; the last exception is raised at the end"""
    expect(student, [HANG, Resp(200)], status=200, calls=2, delays=[0.1], attempt_timeout=0.05)
    expect(student, [Raise("httpx", "ConnectError", "refused"), Raise("builtins", "ConnectionResetError", "reset"), Resp(200)], status=200, calls=3,
           delays=[0.1, 0.2])
    expect(student, [Raise("httpx", "ConnectError", "refused")] * 5, raises=httpx.ConnectError, calls=3, delays=[0.1, 0.2],
           max_attempts=3)
    expect(student, [Resp(503), HANG, HANG], raises=asyncio.TimeoutError, calls=3, delays=[0.1, 0.2],
           max_attempts=3, attempt_timeout=0.05)
    result, n, _ = run(student, [Raise("builtins", "ValueError", "a bug in send")])
    if not (isinstance(result, Raised) and result.is_a(ValueError)) or n != 1:
        fail_with(f"send() raising ValueError (not a transient error) should propagate at once; got {result!r} after "
                  f"{n} call(s)")
