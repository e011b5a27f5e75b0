"""Hidden grader: the bounded priority request queue, in process and on Redis (Lab 2.3, notebook 02).

Orderings are checked against a model written here (sort by priority, then arrival). The Redis backend
runs against a real ``redis-server`` started by this grader on a unix socket in the temporary folder it shares
with the sandbox, with no persistence. The queues and their coroutines run on one event loop on a thread
inside the sandbox (``sandbox_helpers.LoopThread``), one call at a time or as concurrent tasks; every
expected result is computed here.
"""
from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from autograder.api import fail_with, points

EXERCISES = ["priority_queue"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40


def short(value, limit=160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Hung(Exception):
    """A call into the student's queue did not finish within its time limit."""


class Loop:
    """The sandbox's event loop thread: ``call`` runs one of the student's (async) calls on it and waits."""

    def __init__(self, student):
        self.student = student
        self.thread = student.__sandbox__.helpers.LoopThread()

    def call(self, fn, *args, limit, **kwargs):
        status, value = self.thread.call(fn, list(args), kwargs, limit)
        if status == "timeout":
            raise Hung()
        return value

    def close(self):
        try:
            self.thread.close()
        except Exception:  # noqa: BLE001
            pass


@contextmanager
def event_loop(student):
    loop = Loop(student)
    try:
        yield loop
    finally:
        loop.close()


@contextmanager
def redis_server():
    exe = shutil.which("redis-server")
    if exe is None:
        fail_with("redis-server is not installed on the grading machine (apt-get install redis-server)")
    folder = tempfile.mkdtemp(prefix="redis_")
    path = str(Path(folder) / "redis.sock")
    proc = subprocess.Popen([exe, "--port", "0", "--unixsocket", path, "--unixsocketperm", "777", "--save", "",
                             "--appendonly", "no", "--dir", folder],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.settimeout(0.2)
                    probe.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    fail_with("the grader could not start redis-server")
                time.sleep(0.05)
        yield path
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def make_memory(student, loop, maxsize):
    try:
        return loop.call(student.MemoryRequestQueue, maxsize, limit=30)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"MemoryRequestQueue({maxsize}) raised {type(exc).__name__}: {short(str(exc))}")


def redis_factory(student, loop, path):
    clients = []
    names = iter(range(10**6))
    redis_class = student.__sandbox__.import_module("redis.asyncio").Redis

    def make(student, loop, maxsize, name=None):
        client = loop.call(redis_class, unix_socket_path=path, limit=30)
        clients.append(client)
        name = name or f"grader-queue-{next(names)}"
        try:
            return loop.call(student.RedisRequestQueue, client, name, maxsize, limit=30)
        except Exception as exc:  # noqa: BLE001
            fail_with(f"RedisRequestQueue(client, {name!r}, {maxsize}) raised {type(exc).__name__}: {short(str(exc))}")

    def close():
        for c in clients:
            try:
                loop.call(c.aclose, limit=10)
            except Exception:  # noqa: BLE001
                pass
    return make, close


def put(loop, q, item, priority, what):
    try:
        loop.call(q.put, item, priority, limit=5)
    except Hung:
        fail_with(f"{what}: put({item!r}, {priority}) did not return within 5 s")


def get(loop, q, what, timeout=2.0):
    try:
        item = loop.call(q.get, timeout=timeout, limit=timeout + 5)
    except Hung:
        fail_with(f"{what}: get(timeout={timeout}) hung past its timeout")
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ == "QueueTimeout":
            fail_with(f"{what}: get() raised QueueTimeout although requests were waiting")
        raise
    if isinstance(item, bytes):
        fail_with(f"{what}: get() returned bytes {short(item)}; return the str that was put")
    return item


def ordering(student, loop, make, label, seed):
    rng = random.Random(seed)
    q = make(student, loop, 64)
    model, arrival, log = [], 0, []
    for step in range(40):
        if model and rng.random() < 0.35:
            want = min(model)
            model.remove(want)
            what = f"{label}, after {'; '.join(log[-6:])}"
            got = get(loop, q, what)
            log.append(f"get()->{got}")
            if got != want[2]:
                fail_with(f"{what}: get() returned {got!r}, expected {want[2]!r} (lower priority value first, "
                          "first in first out within a priority)")
        else:
            pr = rng.choice([0, 0, 1, 2, 5, -1])
            item = f"req{step}"
            put(loop, q, item, pr, label)
            model.append((pr, arrival, item))
            arrival += 1
            log.append(f"put({item!r}, {pr})")
    while model:
        want = min(model)
        model.remove(want)
        got = get(loop, q, f"{label}, draining")
        if got != want[2]:
            fail_with(f"{label}: while draining, get() returned {got!r}, expected {want[2]!r} (last operations: "
                      f"{'; '.join(log[-6:])})")


def bounded(student, loop, make, label):
    q = make(student, loop, 3)
    for i, pr in enumerate([2, 0, 1]):
        put(loop, q, f"a{i}", pr, label)
    try:
        loop.call(q.put, "extra", 0, limit=5)
    except Exception as exc:  # noqa: BLE001
        name = "TimeoutError" if isinstance(exc, Hung) else type(exc).__name__
        if name != "QueueFull":
            fail_with(f"{label}: put() on a full queue (maxsize 3) raised {name}, expected QueueFull")
    else:
        fail_with(f"{label}: put() on a full queue (maxsize 3, 3 waiting) succeeded; it must raise QueueFull")
    size = loop.call(q.qsize, limit=30)
    if int(size) != 3:
        fail_with(f"{label}: qsize() is {short(size)} with 3 requests waiting")
    if get(loop, q, label) != "a1":
        fail_with(f"{label}: the first get() after the rejected put did not return the priority-0 request 'a1'")
    put(loop, q, "b", 1, label + " (after one get freed a place)")
    got = [get(loop, q, label) for _ in range(3)]
    if got != ["a2", "b", "a0"]:
        fail_with(f"{label}: after put('b', 1) the queue gave {got}, expected ['a2', 'b', 'a0']")


def raised(outcome):
    """Fail with what a concurrent task of the student's code raised (as an uncaught exception would)."""
    fail_with(f"your code raised {outcome['error']}: {short(outcome['message'], 300)}")


def timeout_and_wakeup(student, loop, make, label):
    q = make(student, loop, 10)
    t0 = time.monotonic()
    try:
        loop.call(q.get, timeout=0.3, limit=5)
    except Exception as exc:  # noqa: BLE001
        name = "TimeoutError" if isinstance(exc, Hung) else type(exc).__name__
        if name != "QueueTimeout":
            fail_with(f"{label}: get(timeout=0.3) on an empty queue raised {name}, expected QueueTimeout")
    else:
        fail_with(f"{label}: get(timeout=0.3) on an empty queue returned instead of raising QueueTimeout")
    waited = time.monotonic() - t0
    if not 0.2 <= waited <= 2.0:
        fail_with(f"{label}: get(timeout=0.3) raised QueueTimeout after {waited:.2f} s")

    task = loop.thread.spawn(q.put, ["late", 3], {}, 0.2)
    got = get(loop, q, label + ", a get() waiting for a put() 0.2 s later", timeout=5)
    loop.thread.join(task, 10)
    if got != "late":
        fail_with(f"{label}: a waiting get() returned {got!r}, expected the request put 0.2 s later")

    items = [f"c{i}" for i in range(60)]
    q = make(student, loop, 100)
    q_put, q_get = q.put, q.get
    producers = [["seq", [[q_put, [it, i % 3], {}] for i, it in enumerate(items[k::4])]] for k in range(4)]
    consumers = [["repeat", [q_get, [], {"timeout": 0.5}], 1000] for _ in range(5)]
    outcomes = loop.thread.gather(producers + consumers, 60)
    received = []
    for out in outcomes[:4]:
        if out["error"] is not None:
            raised(out)
    for out in outcomes[4:]:
        if out["error"] not in ("QueueTimeout", None):
            raised(out)
        received += out["values"]
    if sorted(received) != sorted(items):
        lost = sorted(set(items) - set(received))
        dup = sorted({x for x in received if received.count(x) > 1})
        fail_with(f"{label}: 4 producers and 5 consumers moved 60 requests; lost {lost[:5]}, duplicated {dup[:5]}")


# ---------------------------------------------------------------------------------------- in process
@points(2)
def test_memory_priority_then_fifo(student):
    """MemoryRequestQueue: lower priority value first, FIFO within a priority (random put/get sequences)"""
    for seed in range(8):
        with event_loop(student) as loop:
            ordering(student, loop, make_memory, f"MemoryRequestQueue (sequence {seed})", seed)


@points(1)
def test_memory_bounded(student):
    """MemoryRequestQueue: QueueFull when maxsize requests wait; room again after a get"""
    with event_loop(student) as loop:
        bounded(student, loop, make_memory, "MemoryRequestQueue")


@points(1)
def test_memory_timeout_and_concurrency(student):
    """MemoryRequestQueue: get(timeout) raises QueueTimeout, a waiting get wakes on put, nothing lost or duplicated"""
    with event_loop(student) as loop:
        timeout_and_wakeup(student, loop, make_memory, "MemoryRequestQueue")


# ---------------------------------------------------------------------------------------- redis
def with_redis(student, fn):
    with redis_server() as path, event_loop(student) as loop:
        make, close = redis_factory(student, loop, path)
        try:
            fn(loop, make)
        finally:
            close()


@points(2)
def test_redis_same_contract(student):
    """RedisRequestQueue on a real redis-server: same ordering, bound and timeout as the in-process queue"""
    def run(loop, make):
        for seed in range(4):
            ordering(student, loop, make, f"RedisRequestQueue (sequence {seed})", seed)
        bounded(student, loop, make, "RedisRequestQueue")
        timeout_and_wakeup(student, loop, make, "RedisRequestQueue")
    with_redis(student, run)


@points(1)
def test_redis_shared_between_clients(student):
    """two RedisRequestQueue objects (separate clients) with the same name share one queue; other names do not"""
    def run(loop, make):
        t1 = make(student, loop, 10, name="twins")
        t2 = make(student, loop, 10, name="twins")
        put(loop, t1, '{"prompt": "hi"}', 0, "first queue object named 'twins'")
        put(loop, t2, '{"prompt": "hi"}', 0, "second queue object named 'twins'")
        size = int(loop.call(t1.qsize, limit=30))
        if size != 2:
            fail_with(f"two API servers (two queue objects named 'twins') each put the same body; qsize() is {size}, "
                      "expected 2 (numbering requests per object makes their Redis members collide)")
        for who in (t1, t2):
            if get(loop, who, "queue 'twins'") != '{"prompt": "hi"}':
                fail_with("a body put by two API servers did not come back twice")
        a = make(student, loop, 10, name="shared")
        b = make(student, loop, 10, name="shared")
        other = make(student, loop, 10, name="other")
        put(loop, a, "x1", 1, "queue A")
        put(loop, b, "x0", 0, "queue B")
        put(loop, other, "y", 0, "queue 'other'")
        got = [get(loop, b, "queue B"), get(loop, a, "queue A")]
        if got != ["x0", "x1"]:
            fail_with(f"two queue objects named 'shared' gave {got}, expected ['x0', 'x1'] (one queue in Redis)")
        if get(loop, other, "queue 'other'") != "y":
            fail_with("the queue named 'other' did not keep its own request")
        weird = 'text with "quotes", a colon: and 中文 \u2028'
        put(loop, a, weird, 0, "queue A")
        if get(loop, b, "queue B") != weird:
            fail_with("a request body with quotes, colons and non-ASCII text did not come back unchanged")
    with_redis(student, run)


@points(1)
def test_redis_bound_is_atomic(student):
    """40 concurrent puts from 4 clients into a queue of maxsize 10: exactly 10 accepted"""
    def run(loop, make):
        queues = [make(student, loop, 10, name="bounded") for _ in range(4)]
        puts = [q.put for q in queues]
        outcomes = loop.thread.gather([["seq", [[puts[i % 4], [f"r{i}", i % 4], {}]]] for i in range(40)], 30)
        accepted = []
        for i, out in enumerate(outcomes):
            if out["error"] is None:
                accepted.append(i)
            elif out["error"] != "QueueFull":
                raised(out)
        size = int(loop.call(queues[0].qsize, limit=30))
        if len(accepted) != 10 or size != 10:
            fail_with(f"40 concurrent puts into a queue of maxsize 10 accepted {len(accepted)} and left qsize()={size}; "
                      "check the size and add in one atomic step (a Lua script or MULTI/WATCH)")
    with_redis(student, run)
