"""Batched calls (``autograder/graders/batched.py`` + ``sandbox_helpers.observe``/``repeat_calls``) observe
exactly what the same calls made one by one observe: the same values, and the student's exceptions as the
same StudentError (class, message, args, location), at the same step."""
from __future__ import annotations

import pytest

from autograder.graders.batched import Calls, observe, repeat
from autograder.remote import StudentError
from autograder.student_proxy import StudentProcess

CODE = '''
class PoolError(RuntimeError):
    pass


class Pool:
    def __init__(self, n):
        self.items = list(range(n))
        self.calls = 0

    def table(self):
        self.calls += 1
        return self.items              # the live list: a later call changes it

    def take(self):
        self.calls += 1
        if not self.items:
            raise PoolError("empty pool")
        return self.items.pop()

    def lookup(self, key):
        self.calls += 1
        return {"a": 1}[key]

    def count(self):
        return self.calls


def bump(values, by=1):
    values.append(len(values) * by)
    return sum(values)
'''


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    path = tmp_path_factory.mktemp("batched") / "student_submission.py"
    path.write_text(CODE)
    process = StudentProcess(str(path), None, None, 2048, 64, 600, 60)
    module = process.start()
    assert module is not None, process.load_error
    yield module
    process.stop()


def same_error(a: BaseException, b: BaseException) -> None:
    assert isinstance(a, StudentError) and isinstance(b, StudentError)
    assert type(a) is type(b)
    assert (a.remote_type, a.message_text, a.args, a.where, str(a)) == (b.remote_type, b.message_text, b.args,
                                                                        b.where, str(b))


def caught(fn, *args):
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not raise")


def test_values_and_exceptions_as_if_called_one_by_one(student):
    direct, batched = student.Pool(1), student.Pool(1)
    seen = observe(student, call=(batched, "take"),
                   if_returned=Calls().add("table", batched, "table").add("take", batched, "take")
                   .add("count", batched, "count"))
    assert seen.outcome() == (direct.take(), None)
    assert seen.after.take("table") == direct.table() == []
    with pytest.raises(student.PoolError) as got:
        seen.after.take("take")
    same_error(got.value, caught(direct.take))
    with pytest.raises(RuntimeError, match="not run"):
        seen.after.take("count")             # the batch stopped at the call that raised
    assert batched.count() == direct.count() == 3
    # the operation's own exception is kept, and the calls for that case are made
    seen = observe(student, call=(batched, "lookup", "b"), if_raised=Calls().add("count", batched, "count"))
    value, exc = seen.outcome()
    assert value is None and isinstance(exc, KeyError)
    same_error(exc, caught(direct.lookup, "b"))
    assert seen.after.take("count") == direct.count() == 4


def test_values_are_taken_when_each_call_returns(student):
    pool = student.Pool(3)
    seen = observe(student, before=Calls().add("table", pool, "table"), call=(pool, "take"),
                   if_returned=Calls().add("table", pool, "table"))
    assert seen.before.take("table") == [0, 1, 2]        # not the list as it is at the end of the batch
    assert seen.outcome() == (2, None)
    assert seen.after.take("table") == [0, 1]


def test_before_calls_stop_the_batch_and_new_objects_can_be_observed(student):
    seen = observe(student, before=Calls().read("Pool", student, "Pool").read("Missing", student, "Missing"),
                   call=(student, "Pool", 2))
    assert isinstance(seen.before.take("Pool"), type)
    with pytest.raises(AttributeError):
        seen.before.take("Missing")
    assert not seen.ran
    seen = observe(student, call=(student, "Pool", 2), on_result=True,
                   if_returned=Calls().add("table", None, "table").add("take", None, "take"))
    pool, exc = seen.outcome()
    assert exc is None and seen.after.take("table") == [0, 1] and seen.after.take("take") == 1
    assert pool.table() == [0]


def test_repeat_calls_fresh_copies_and_shared_arguments(student):
    rows = [[] for _ in range(40)]
    got = list(repeat(student, student, "bump", rows, tail=[[5]], kwargs={"by": 2}, first=3, growth=2))
    assert got == [(5 + 2, None)] * 40                     # each call on its own copy of [5]
    got = list(repeat(student, student, "bump", rows[:4], tail=[[5]], fresh=False, kwargs={"by": 2}, first=10))
    assert [v for v, _ in got] == [[7, [[5, 2]]], [11, [[5, 2, 4]]], [17, [[5, 2, 4, 6]]],
                                   [25, [[5, 2, 4, 6, 8]]]]
    got = list(repeat(student, student, "bump", [[None]] * 5, first=2))
    (value, exc), = got                                     # bump(None) raises at the first call
    assert value is None
    same_error(exc, caught(student.bump, None))


def test_module_functions_are_one_round_trip_and_survive_rebinding(student):
    # student.<function>(...) is called by name in the sandbox; a grader that keeps the original and rebinds
    # the name (the usual wrap-and-count pattern) still calls the original through what it kept.
    real = student.bump
    assert real([1]) == 2 and real is student.bump
    calls = []

    def wrapper(values, by=1):
        calls.append(values)
        return real(values, by)
    student.bump = wrapper
    try:
        assert student.bump([1, 1]) == 4 and calls == [[1, 1]]      # the module now calls the grader's wrapper
        assert real([5]) == 6 and len(calls) == 1                    # ... and the kept original is the original
        import inspect
        assert list(inspect.signature(real).parameters) == ["values", "by"]
    finally:
        student.bump = real                                          # handed back: the sandbox's own function
    assert student.bump([2]) == 3 and len(calls) == 1
