"""Hidden grader: the bounded priority request queue, in process and on Redis (Lab 2.3, notebook 02).

Orderings are checked against a model written here (sort by priority, then arrival). The Redis backend
runs against a real ``redis-server`` started by this grader on a free loopback port, with no persistence.
"""
from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

import redis.asyncio as aredis

from autograder.api import fail_with, free_port, points

EXERCISES = ["priority_queue"]
GRADING = "in-sandbox"   # not yet ported to handles: runs inside the sandbox with the student code
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40


def short(value, limit=160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def redis_server():
    exe = shutil.which("redis-server")
    if exe is None:
        fail_with("redis-server is not installed on the grading machine (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    fail_with("the grader could not start redis-server")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def make_memory(student, maxsize):
    try:
        return student.MemoryRequestQueue(maxsize)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"MemoryRequestQueue({maxsize}) raised {type(exc).__name__}: {short(str(exc))}")


def redis_factory(port):
    clients = []
    names = iter(range(10**6))

    def make(student, maxsize, name=None):
        client = aredis.Redis(host="127.0.0.1", port=port)
        clients.append(client)
        name = name or f"grader-queue-{next(names)}"
        try:
            return student.RedisRequestQueue(client, name, maxsize)
        except Exception as exc:  # noqa: BLE001
            fail_with(f"RedisRequestQueue(client, {name!r}, {maxsize}) raised {type(exc).__name__}: {short(str(exc))}")

    async def close():
        for c in clients:
            await c.aclose()
    return make, close


async def put(q, item, priority, what):
    try:
        await asyncio.wait_for(q.put(item, priority), 5)
    except asyncio.TimeoutError:
        fail_with(f"{what}: put({item!r}, {priority}) did not return within 5 s")


async def get(q, what, timeout=2.0):
    try:
        item = await asyncio.wait_for(q.get(timeout=timeout), timeout + 5)
    except asyncio.TimeoutError:
        fail_with(f"{what}: get(timeout={timeout}) hung past its timeout")
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ == "QueueTimeout":
            fail_with(f"{what}: get() raised QueueTimeout although requests were waiting")
        raise
    if isinstance(item, bytes):
        fail_with(f"{what}: get() returned bytes {short(item)}; return the str that was put")
    return item


async def ordering(student, make, label, seed):
    rng = random.Random(seed)
    q = make(student, 64)
    model, arrival, log = [], 0, []
    for step in range(40):
        if model and rng.random() < 0.35:
            want = min(model)
            model.remove(want)
            what = f"{label}, after {'; '.join(log[-6:])}"
            got = await get(q, what)
            log.append(f"get()->{got}")
            if got != want[2]:
                fail_with(f"{what}: get() returned {got!r}, expected {want[2]!r} (lower priority value first, "
                          "first in first out within a priority)")
        else:
            pr = rng.choice([0, 0, 1, 2, 5, -1])
            item = f"req{step}"
            await put(q, item, pr, label)
            model.append((pr, arrival, item))
            arrival += 1
            log.append(f"put({item!r}, {pr})")
    while model:
        want = min(model)
        model.remove(want)
        got = await get(q, f"{label}, draining")
        if got != want[2]:
            fail_with(f"{label}: while draining, get() returned {got!r}, expected {want[2]!r} (last operations: "
                      f"{'; '.join(log[-6:])})")


async def bounded(student, make, label):
    q = make(student, 3)
    for i, pr in enumerate([2, 0, 1]):
        await put(q, f"a{i}", pr, label)
    try:
        await asyncio.wait_for(q.put("extra", 0), 5)
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ != "QueueFull":
            fail_with(f"{label}: put() on a full queue (maxsize 3) raised {type(exc).__name__}, expected QueueFull")
    else:
        fail_with(f"{label}: put() on a full queue (maxsize 3, 3 waiting) succeeded; it must raise QueueFull")
    size = await q.qsize()
    if int(size) != 3:
        fail_with(f"{label}: qsize() is {short(size)} with 3 requests waiting")
    if await get(q, label) != "a1":
        fail_with(f"{label}: the first get() after the rejected put did not return the priority-0 request 'a1'")
    await put(q, "b", 1, label + " (after one get freed a place)")
    got = [await get(q, label) for _ in range(3)]
    if got != ["a2", "b", "a0"]:
        fail_with(f"{label}: after put('b', 1) the queue gave {got}, expected ['a2', 'b', 'a0']")


async def timeout_and_wakeup(student, make, label):
    q = make(student, 10)
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(q.get(timeout=0.3), 5)
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ != "QueueTimeout":
            fail_with(f"{label}: get(timeout=0.3) on an empty queue raised {type(exc).__name__}, expected QueueTimeout")
    else:
        fail_with(f"{label}: get(timeout=0.3) on an empty queue returned instead of raising QueueTimeout")
    waited = time.monotonic() - t0
    if not 0.2 <= waited <= 2.0:
        fail_with(f"{label}: get(timeout=0.3) raised QueueTimeout after {waited:.2f} s")

    async def late():
        await asyncio.sleep(0.2)
        await q.put("late", 3)
    task = asyncio.create_task(late())
    got = await get(q, label + ", a get() waiting for a put() 0.2 s later", timeout=5)
    await task
    if got != "late":
        fail_with(f"{label}: a waiting get() returned {got!r}, expected the request put 0.2 s later")

    items = [f"c{i}" for i in range(60)]

    async def producer(chunk):
        for i, it in enumerate(chunk):
            await q.put(it, i % 3)
            await asyncio.sleep(0)
    received = []

    async def consumer():
        while True:
            try:
                received.append(await q.get(timeout=0.5))
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ == "QueueTimeout":
                    return
                raise
    q = make(student, 100)
    await asyncio.gather(*[producer(items[i::4]) for i in range(4)], *[consumer() for _ in range(5)])
    if sorted(received) != sorted(items):
        lost = sorted(set(items) - set(received))
        dup = sorted({x for x in received if received.count(x) > 1})
        fail_with(f"{label}: 4 producers and 5 consumers moved 60 requests; lost {lost[:5]}, duplicated {dup[:5]}")


# ---------------------------------------------------------------------------------------- in process
@points(2)
def test_memory_priority_then_fifo(student):
    """MemoryRequestQueue: lower priority value first, FIFO within a priority (random put/get sequences)"""
    for seed in range(8):
        asyncio.run(ordering(student, make_memory, f"MemoryRequestQueue (sequence {seed})", seed))


@points(1)
def test_memory_bounded(student):
    """MemoryRequestQueue: QueueFull when maxsize requests wait; room again after a get"""
    asyncio.run(bounded(student, make_memory, "MemoryRequestQueue"))


@points(1)
def test_memory_timeout_and_concurrency(student):
    """MemoryRequestQueue: get(timeout) raises QueueTimeout, a waiting get wakes on put, nothing lost or duplicated"""
    asyncio.run(timeout_and_wakeup(student, make_memory, "MemoryRequestQueue"))


# ---------------------------------------------------------------------------------------- redis
def with_redis(fn):
    with redis_server() as port:
        make, close = redis_factory(port)

        async def go():
            try:
                await fn(make, port)
            finally:
                await close()
        asyncio.run(go())


@points(2)
def test_redis_same_contract(student):
    """RedisRequestQueue on a real redis-server: same ordering, bound and timeout as the in-process queue"""
    async def run(make, port):
        for seed in range(4):
            await ordering(student, make, f"RedisRequestQueue (sequence {seed})", seed)
        await bounded(student, make, "RedisRequestQueue")
        await timeout_and_wakeup(student, make, "RedisRequestQueue")
    with_redis(run)


@points(1)
def test_redis_shared_between_clients(student):
    """two RedisRequestQueue objects (separate clients) with the same name share one queue; other names do not"""
    async def run(make, port):
        t1 = make(student, 10, name="twins")
        t2 = make(student, 10, name="twins")
        await put(t1, '{"prompt": "hi"}', 0, "first queue object named 'twins'")
        await put(t2, '{"prompt": "hi"}', 0, "second queue object named 'twins'")
        size = int(await t1.qsize())
        if size != 2:
            fail_with(f"two API servers (two queue objects named 'twins') each put the same body; qsize() is {size}, "
                      "expected 2 (numbering requests per object makes their Redis members collide)")
        for who in (t1, t2):
            if await get(who, "queue 'twins'") != '{"prompt": "hi"}':
                fail_with("a body put by two API servers did not come back twice")
        a = make(student, 10, name="shared")
        b = make(student, 10, name="shared")
        other = make(student, 10, name="other")
        await put(a, "x1", 1, "queue A")
        await put(b, "x0", 0, "queue B")
        await put(other, "y", 0, "queue 'other'")
        got = [await get(b, "queue B"), await get(a, "queue A")]
        if got != ["x0", "x1"]:
            fail_with(f"two queue objects named 'shared' gave {got}, expected ['x0', 'x1'] (one queue in Redis)")
        if await get(other, "queue 'other'") != "y":
            fail_with("the queue named 'other' did not keep its own request")
        weird = 'text with "quotes", a colon: and 中文 \u2028'
        await put(a, weird, 0, "queue A")
        if await get(b, "queue B") != weird:
            fail_with("a request body with quotes, colons and non-ASCII text did not come back unchanged")
    with_redis(run)


@points(1)
def test_redis_bound_is_atomic(student):
    """40 concurrent puts from 4 clients into a queue of maxsize 10: exactly 10 accepted"""
    async def run(make, port):
        queues = [make(student, 10, name="bounded") for _ in range(4)]
        accepted = []

        async def try_put(q, i):
            try:
                await q.put(f"r{i}", i % 4)
                accepted.append(i)
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ != "QueueFull":
                    raise
        await asyncio.gather(*[try_put(queues[i % 4], i) for i in range(40)])
        size = int(await queues[0].qsize())
        if len(accepted) != 10 or size != 10:
            fail_with(f"40 concurrent puts into a queue of maxsize 10 accepted {len(accepted)} and left qsize()={size}; "
                      "check the size and add in one atomic step (a Lua script or MULTI/WATCH)")
    with_redis(run)
