"""Grader side of batched calls: an operation and the state queries after it in ONE round trip.

A grader that checks a student object's whole state after every operation (every block's ref count, every
sequence's table) would make tens of thousands of calls across the sandbox boundary, each a round trip.
:func:`observe` hands the operation and the queries to ``sandbox_helpers.observe``, which makes the very same
calls, in the same order, next to the student's object and sends back only what they returned. Everything
else stays here: which calls to make, the expected values, the checks, the messages.

A batched result is read back call by call (:meth:`Results.take`), so that the grader's code reads like the
unbatched one: ``take`` returns what that call returned, or raises what it raised: the student's exception,
re-raised in the sandbox on demand, so it arrives exactly as it would have from the call itself (the same
:class:`~autograder.remote.StudentError` class, message and location).
"""
from __future__ import annotations

from autograder.api import fail_with
from autograder.remote import RemoteError

_CACHE: dict = {}


def sandbox_function(student, name: str):
    """``student.__sandbox__.helpers.<name>``, looked up once per student process."""
    if _CACHE.get("student") is not student:
        _CACHE.clear()
        _CACHE.update(student=student, helpers=student.__sandbox__.helpers)
    if name not in _CACHE:
        _CACHE[name] = getattr(_CACHE["helpers"], name)
    return _CACHE[name]


def nonsense(what: str) -> None:
    fail_with(f"your code's process answered nonsense to a batched call ({what})")


class Calls:
    """Calls to make in the sandbox, in order, each with the text the grader reports it by."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.steps: list[list] = []

    def add(self, text: str, obj, name: str, *args, **kwargs) -> "Calls":
        """``obj.<name>(*args, **kwargs)`` (``name`` ``""``: ``obj(*args, **kwargs)``)."""
        self.texts.append(text)
        self.steps.append([obj, name, list(args), dict(kwargs)] if kwargs else [obj, name, list(args)])
        return self

    def read(self, text: str, obj, name: str) -> "Calls":
        """The attribute ``obj.<name>``."""
        self.texts.append(text)
        self.steps.append([obj, name, None])
        return self

    def __len__(self) -> int:
        return len(self.steps)


class Results:
    """What a list of calls returned, read back one call at a time, in order."""

    def __init__(self, calls: Calls, values, failure) -> None:
        if not isinstance(values, list) or len(values) > len(calls) \
                or (failure is not None and len(values) >= len(calls)):
            nonsense("more or other results than calls")
        self.texts, self.values, self.failure = calls.texts, values, failure
        self.next = 0
        self.error: BaseException | None = None

    def take(self, text: str):
        """The value of the next call (which must be ``text``), or its exception raised here."""
        i = self.next
        if i >= len(self.texts) or self.texts[i] != text:
            expected = self.texts[i] if i < len(self.texts) else "nothing"
            raise RuntimeError(f"grader bug: batched call {i} is {expected!r}, the grader reads {text!r}")
        self.next += 1
        if i < len(self.values):
            return self.values[i]
        if self.failure is None:
            nonsense(f"no result for {text}")
        if i > len(self.values):
            raise RuntimeError(f"grader bug: {text} was not run (an earlier call raised)")
        if self.error is None:
            self.error = reraised(self.failure)
        raise self.error


def reraised(raised) -> BaseException:
    """The student's exception kept in the sandbox (a ``sandbox_helpers.Raised`` handle), as a StudentError."""
    try:
        raised()
    except RemoteError:
        raise                                    # the student's process died: not an exception of theirs
    except Exception as exc:  # noqa: BLE001 - exactly what the call raised
        return exc
    nonsense("a kept exception did not raise")


class Observation:
    """The result of :func:`observe`: ``before`` and ``after`` (:class:`Results`), and the operation's
    :meth:`outcome`."""

    def __init__(self, reply, before: Calls, after_returned: Calls, after_raised: Calls, has_call: bool) -> None:
        if not isinstance(reply, list) or len(reply) != 4:
            nonsense("not a 4-item list")
        before_values, outcome, after_values, failure = reply
        if not (isinstance(before_values, list) and isinstance(after_values, list)):
            nonsense("malformed results")
        self.ran = outcome is not None
        stopped = failure is not None and len(before_values) < len(before)   # a call before the operation raised
        if (stopped and (self.ran or after_values)) or (not stopped and len(before_values) != len(before)) \
                or (has_call and not self.ran and not stopped) or (self.ran and not has_call):
            nonsense("calls made or left out out of order")
        if self.ran and not (isinstance(outcome, list) and len(outcome) == 2 and isinstance(outcome[0], bool)):
            nonsense("a malformed outcome")
        self.returned = bool(outcome[0]) if self.ran else None
        self._outcome = outcome
        self._error: BaseException | None = None
        self.before = Results(before, before_values, failure if stopped else None)
        self.after = Results(after_raised if self.ran and not self.returned else after_returned,
                             after_values, None if stopped else failure)

    def outcome(self):
        """``(value, None)`` or ``(None, the student's exception)``, as ``try: value = call()`` would give."""
        if not self.ran:
            raise RuntimeError("grader bug: the operation was not run (a call before it raised)")
        if self.returned:
            return self._outcome[1], None
        if self._error is None:
            self._error = reraised(self._outcome[1])
        return None, self._error


def observe(student, before: Calls | None = None, call: tuple | None = None, if_returned: Calls | None = None,
            if_raised: Calls | None = None, on_result: bool = False, call_kwargs: dict | None = None) -> Observation:
    """In one round trip: the ``before`` calls (stopping at the first that raises), then ``call``
    (``(obj, name, *args)`` and ``call_kwargs``; its exception is kept), then the calls of ``if_returned`` or ``if_raised``
    (stopping at the first that raises). ``on_result``: the calls of ``if_returned`` are made on what ``call``
    returned (their ``obj`` is ignored: give ``None``). The sandbox only makes the calls; all checks are here."""
    before, if_returned, if_raised = before or Calls(), if_returned or Calls(), if_raised or Calls()
    main = None if call is None else [call[0], call[1], list(call[2:])] + ([dict(call_kwargs)] if call_kwargs else [])
    groups = [before.steps, if_raised.steps] + ([] if on_result else [if_returned.steps])
    objs = {id(s[0]): s[0] for group in groups for s in group}
    if main is not None:
        objs[id(main[0])] = main[0]
    target = next(iter(objs.values())) if len(objs) == 1 else None
    compact = target is not None                  # all on one object: send it once

    def strip(steps, yes):
        return [s[1:] for s in steps] if yes else steps
    reply = sandbox_function(student, "observe")(
        strip(before.steps, compact), None if main is None else (main[1:] if compact else main),
        strip(if_returned.steps, compact or on_result), strip(if_raised.steps, compact),
        target=target, on_result=on_result)
    return Observation(reply, before, if_returned, if_raised, call is not None)


def repeat(student, owner, name: str, rows: list, tail=(), fresh: bool = True, kwargs=None, row_kwargs=None,
           first: int = 16, growth: int = 4):
    """``owner.<name>(*row, *tail, **kwargs, **row_kwargs[i])`` for each ``row``, in order, made in the sandbox
    in chunks of growing size (``first``, then ``growth`` times more each time: few round trips, and little
    work wasted after a call whose result fails a check). Yields ``(value, None)`` per call and, for the call
    that raised, ``(None, the student's exception)``, then stops. ``fresh`` and the values as for
    ``sandbox_helpers.repeat_calls`` (a call gets its own copy of ``tail``, or ``[result, tail afterwards]``)."""
    fn = sandbox_function(student, "repeat_calls")
    start, size = 0, max(1, first)
    while start < len(rows):
        chunk = rows[start:start + size]
        extra = None if row_kwargs is None else row_kwargs[start:start + size]
        reply = fn(owner, name, chunk, list(tail), fresh, kwargs, extra)
        if not (isinstance(reply, list) and len(reply) == 2 and isinstance(reply[0], list)) \
                or len(reply[0]) > len(chunk) or (reply[1] is None and len(reply[0]) != len(chunk)) \
                or (reply[1] is not None and len(reply[0]) == len(chunk)):
            nonsense("not one result per call")
        values, failure = reply
        for value in values:
            yield value, None
        if failure is not None:
            yield None, reraised(failure)
            return
        start += len(chunk)
        size *= growth


def block_state_calls(bm, sids, num_blocks: int, calls: Calls | None = None) -> Calls:
    """The whole state of a paged block manager (the Lab 2.1 contract, which Lab 2.2's prefix cache keeps), as
    calls on ``bm`` (``None``: the result of the batch's call): ``block_table`` and ``num_tokens`` of each live
    sequence in ``sids`` (in this order), ``ref_count`` of every block, then ``num_free_blocks``."""
    calls = calls or Calls()
    for sid in sids:
        calls.add(f"block_table({sid})", bm, "block_table", sid)
        calls.add(f"num_tokens({sid})", bm, "num_tokens", sid)
    for b in range(num_blocks):
        calls.add(f"ref_count({b})", bm, "ref_count", b)
    return calls.add("num_free_blocks()", bm, "num_free_blocks")
