"""Course code that graders run *inside* the sandbox, next to the student's objects.

Some checks need code beside the student's objects: a web server serving the student's app, several of
the student's coroutines running concurrently on one event loop. A grader reaches these helpers through
``student.__sandbox__.helpers`` and gets back observations (plain data) or handles; it never trusts them
more than the student's own return values: the expected values are computed in the grader's process.
Nothing here is secret (it is visible to the submission), and nothing here decides a score.
"""
from __future__ import annotations

import asyncio
import threading
import time


class AppServer:
    """uvicorn serving an ASGI app on a unix socket in the sandbox's /tmp, on a thread of its own."""

    def __init__(self, app, socket_path: str, **options) -> None:
        import uvicorn
        config = uvicorn.Config(app, uds=socket_path, log_level=options.pop("log_level", "warning"),
                                lifespan=options.pop("lifespan", "on"), **options)
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None
        self.socket_path = socket_path
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout_s: float = 60.0) -> bool:
        """True once the server accepts connections (its lifespan startup has run)."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.server.started:
                return True
            if not self.thread.is_alive():
                return False
            time.sleep(0.02)
        return False

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Ask the server to shut down (runs the app's lifespan shutdown); True if it did in time."""
        self.server.should_exit = True
        self.thread.join(timeout_s)
        return not self.thread.is_alive()


def serve_app(app, socket_path: str, timeout_s: float = 60.0, **options) -> AppServer | None:
    server = AppServer(app, socket_path, **options)
    return server if server.start(timeout_s) else None


def _outcome(start: float, value=None, error: BaseException | None = None) -> dict:
    out = {"start": start, "end": time.monotonic()}
    if error is None:
        out["value"] = value
    else:
        out["error"] = type(error).__name__
        out["message"] = str(error)[:500]
    return out


def concurrently(calls: list, timeout_s: float = 30.0) -> list[dict]:
    """Run ``calls`` (``[fn, args, kwargs, delay_s]`` each; ``fn`` sync or async) as concurrent tasks on one
    event loop; each outcome is ``{"value" | "error", "message", "start", "end"}`` (seconds since the call)."""
    t0 = time.monotonic()

    async def one(fn, args, kwargs, delay):
        if delay:
            await asyncio.sleep(delay)
        start = time.monotonic() - t0
        try:
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            out = _outcome(start, value=result)
        except Exception as exc:  # noqa: BLE001 - an observation, not an error of the helper
            out = _outcome(start, error=exc)
        out["end"] -= t0
        return out

    async def main():
        tasks = [asyncio.ensure_future(one(fn, list(args), dict(kwargs), float(delay)))
                 for fn, args, kwargs, delay in calls]
        done, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        return [t.result() if t in done and not t.cancelled() else {"error": "Timeout", "message": "did not finish"}
                for t in tasks]

    return asyncio.run(main())


def run_async(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` awaited on a fresh event loop (for a single coroutine)."""
    return asyncio.run(_call(fn, args, kwargs))


async def _call(fn, args, kwargs):
    result = fn(*args, **kwargs)
    return await result if asyncio.iscoroutine(result) else result


# ---------------------------------------------------------------------- Lab 2.3 helpers (generic)
def _threads_together(work, n: int, switch_interval: float | None, timeout_s: float) -> list[bool]:
    """Run ``work(i, barrier)`` on ``n`` threads that start together (each waits on ``barrier``), with the
    interpreter's switch interval set to ``switch_interval`` meanwhile (tiny values make races show up).
    Returns, per thread, whether it was still running at the deadline."""
    import sys
    barrier = threading.Barrier(n)
    old = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(float(switch_interval))
    try:
        threads = [threading.Thread(target=work, args=(i, barrier), daemon=True) for i in range(n)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + timeout_s
        for th in threads:
            th.join(max(0.0, deadline - time.monotonic()))
        return [th.is_alive() for th in threads]
    finally:
        sys.setswitchinterval(old)


def in_threads(fn, calls_per_thread: list, switch_interval: float | None = None, timeout_s: float = 120.0) -> list:
    """Start one thread per entry of ``calls_per_thread`` together (a barrier); thread ``i`` calls
    ``fn(*args)`` for each ``args`` in ``calls_per_thread[i]``, in order. ``switch_interval``: the
    interpreter's thread switch interval meanwhile (tiny values make races show up). Returns, per thread,
    ``None`` or the repr of the first exception it raised (``"Timeout"`` for a thread still running)."""
    calls = [[tuple(a) for a in thread_calls] for thread_calls in calls_per_thread]
    errors: list = [None] * len(calls)

    def work(i, barrier):
        try:
            barrier.wait()
            for args in calls[i]:
                fn(*args)
        except Exception as exc:  # noqa: BLE001 - an observation
            errors[i] = repr(exc)[:500]

    for i, alive in enumerate(_threads_together(work, len(calls), switch_interval, timeout_s)):
        if alive:
            errors[i] = "Timeout"
    return errors


class Held:
    """A value kept inside the sandbox (a call's result, not copied out), so that the grader can change it
    in place here and then look at what that did to the object it came from."""

    def __init__(self, value) -> None:
        self.value = value

    def get(self, *path):
        """``value[path[0]][path[1]]...`` (a copy crosses to the grader when it is plain data)."""
        v = self.value
        for key in path:
            v = v[key]
        return v

    def setitem(self, path: list, item) -> None:
        """``value[path[0]]...[path[-1]] = item``."""
        path = list(path)
        self.get(*path[:-1])[path[-1]] = item

    def call(self, path: list, method: str, *args, **kwargs):
        """``value[path...].<method>(*args, **kwargs)`` (e.g. ``call([], "pop", "b")``)."""
        return getattr(self.get(*list(path)), method)(*args, **kwargs)


def hold(fn, *args, **kwargs) -> Held:
    """``fn(*args, **kwargs)``'s result kept inside the sandbox (see :class:`Held`)."""
    return Held(fn(*args, **kwargs))


async def collect_async(aiterable, limit: int | None = None) -> list:
    """The items of an async iterable, in order (at most ``limit``; then ``aclose()`` is awaited)."""
    items = []
    async for item in aiterable:
        items.append(item)
        if limit is not None and len(items) >= limit:
            aclose = getattr(aiterable, "aclose", None)
            if aclose is not None:
                await aclose()
            break
    return items


# ------------------------------------------- scripted callables, event loops, fakes (generic; Lab 2.1/2.3/2.4)
async def _awaited_call(fn, args, kwargs):
    import inspect
    result = fn(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def describe_exception(exc: BaseException) -> dict:
    """An exception as plain data: its class name, the qualified names of its classes (MRO), repr and str."""
    return {"type": type(exc).__name__, "mro": [f"{k.__module__}.{k.__qualname__}" for k in type(exc).__mro__],
            "repr": repr(exc)[:500], "message": str(exc)[:500]}


def call_with_timeout(fn, args=(), kwargs=None, timeout_s: float = 10.0, capture: bool = False) -> list:
    """``fn(*args, **kwargs)`` (awaited when it gives an awaitable) as a task on a fresh event loop:
    ``["ok", value]``, or ``["timeout", None]`` when it was still running after ``timeout_s`` (then cancelled).
    An exception it raises propagates to the caller, or with ``capture`` comes back as
    ``["raised", describe_exception(exc)]``."""
    async def go():
        task = asyncio.ensure_future(_awaited_call(fn, tuple(args), dict(kwargs or {})))
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            task.cancel()
            return ["timeout", None]
        return ["ok", task.result()]
    if not capture:
        return asyncio.run(go())
    try:
        return asyncio.run(go())
    except Exception as exc:  # noqa: BLE001 - an observation
        return ["raised", describe_exception(exc)]


class ScriptedAsync:
    """An async callable to hand to the student's code. Each call records its arguments in ``calls``
    (``[args, kwargs]``) and plays the next step of ``script``: ``["return", value]``, ``["raise", exception]``
    or ``["hang"]`` (sleeps for an hour); past the end of the script it returns ``default``."""

    def __init__(self, script=(), default=None) -> None:
        self.script = [list(step) for step in script]
        self.default = default
        self.calls: list = []

    async def __call__(self, *args, **kwargs):
        self.calls.append([list(args), dict(kwargs)])
        i = len(self.calls) - 1
        step = self.script[i] if i < len(self.script) else ["return", self.default]
        if step[0] == "hang":
            await asyncio.sleep(3600)
        if step[0] == "raise":
            raise step[1]
        return step[1] if len(step) > 1 else None


class FakeResponse:
    """A minimal HTTP response: ``status_code`` and case-insensitive ``headers`` (httpx.Headers)."""

    def __init__(self, status_code: int, headers: dict | None = None) -> None:
        import httpx
        self.status_code = status_code
        self.headers = httpx.Headers(headers or {})

    def __repr__(self):
        extra = f", {dict(self.headers)}" if self.headers else ""
        return f"Resp({self.status_code}{extra})"


class LoopThread:
    """An event loop running on a thread of its own, kept across calls, so that the student's asyncio objects
    (bound to the loop they first ran on) stay usable from call to call; concurrent tasks share it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, coro, timeout_s: float):
        import concurrent.futures
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout_s + 30.0)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            return ["timeout", None]

    def call(self, fn, args=(), kwargs=None, timeout_s: float = 30.0) -> list:
        """Like :func:`call_with_timeout`, on this loop: ``["ok", value]`` or ``["timeout", None]``; errors propagate."""
        async def go():
            task = asyncio.ensure_future(_awaited_call(fn, tuple(args), dict(kwargs or {})))
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if not done:
                task.cancel()
                return ["timeout", None]
            return ["ok", task.result()]
        return self._run(go(), timeout_s)

    def spawn(self, fn, args=(), kwargs=None, delay_s: float = 0.0):
        """Start ``fn(*args, **kwargs)`` as a task on this loop after ``delay_s``; returns a handle for :meth:`join`."""
        async def go():
            if delay_s:
                await asyncio.sleep(delay_s)
            return await _awaited_call(fn, tuple(args), dict(kwargs or {}))
        return asyncio.run_coroutine_threadsafe(go(), self.loop)

    def join(self, future, timeout_s: float = 30.0) -> list:
        """A spawned task's ``["ok", value]`` or ``["timeout", None]``; its exception propagates."""
        import concurrent.futures
        try:
            return ["ok", future.result(timeout_s)]
        except concurrent.futures.TimeoutError:
            future.cancel()
            return ["timeout", None]

    def gather(self, programs: list, timeout_s: float = 30.0) -> list:
        """Run ``programs`` as concurrent tasks on this loop. A program is ``["seq", [[fn, args, kwargs], ...]]``
        (the calls in order, yielding to the loop after each) or ``["repeat", [fn, args, kwargs], max_calls]``
        (the call again and again). Each stops at its first exception. Returns per program
        ``{"values": [...], "error": exception class name or None, "message": str}`` (``"Timeout"`` when it
        had not finished after ``timeout_s``)."""
        async def one(program):
            out = {"values": [], "error": None, "message": ""}
            if program[0] == "seq":
                steps = [list(s) for s in program[1]]
            else:
                steps = [list(program[1])] * int(program[2])
            try:
                for fn, args, kwargs in steps:
                    out["values"].append(await _awaited_call(fn, tuple(args), dict(kwargs)))
                    if program[0] == "seq":
                        await asyncio.sleep(0)
            except Exception as exc:  # noqa: BLE001 - an observation
                out["error"], out["message"] = type(exc).__name__, str(exc)[:500]
            return out

        async def go():
            tasks = [asyncio.ensure_future(one(p)) for p in programs]
            done, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            return [t.result() if t in done else {"values": [], "error": "Timeout", "message": "did not finish"}
                    for t in tasks]
        return self._run(go(), timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Record:
    """A plain record of attributes that the student's code may read and set (``repr_format``: its repr,
    ``str.format``-ed with its attributes)."""

    def __init__(self, repr_format: str = "", **fields) -> None:
        object.__setattr__(self, "_repr_format", repr_format)
        self.__dict__.update(fields)

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items() if k != "_repr_format"}
        if self._repr_format:
            try:
                return self._repr_format.format(**fields)
            except Exception:  # noqa: BLE001
                pass
        return "Record(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def read_attrs(objs, names, missing=None) -> list:
    """``[[getattr(obj, name, missing) for name in names] for obj in objs]`` in one call."""
    return [[getattr(o, n, missing) for n in names] for o in objs]


def snapshot(value) -> list:
    """``list(value)`` (a copy of a list kept in the sandbox, its items as handles where not plain)."""
    return list(value)


class GatedLoader:
    """An async loading function for the student's app. Calling it counts the call (``calls``); the coroutine
    it returns waits until :meth:`open` is called, then raises ``RuntimeError(message)`` (``fail``) or
    returns ``result``."""

    def __init__(self, fail: bool = False, message: str = "weights not found", result="model") -> None:
        self.gate = threading.Event()
        self.calls = 0
        self.fail, self.message, self.result = fail, message, result

    def open(self) -> None:
        self.gate.set()

    def __call__(self):
        self.calls += 1
        return self._load()

    async def _load(self):
        while not self.gate.is_set():
            await asyncio.sleep(0.005)
        if self.fail:
            raise RuntimeError(self.message)
        return self.result


def enter_in_thread(cm, timeout_s: float = 3.0) -> list:
    """``cm.__enter__()`` on a thread with a time limit: ``["ok", value]`` or ``["timeout", None]`` (still
    running); its exception propagates."""
    box: dict = {}

    def enter():
        try:
            box["value"] = cm.__enter__()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc
    t = threading.Thread(target=enter, daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        return ["timeout", None]
    if "error" in box:
        raise box["error"]
    return ["ok", box["value"]]


def exit_in_thread(cm, timeout_s: float = 3.0) -> bool:
    """``cm.__exit__(None, None, None)`` on a thread; True if it returned within ``timeout_s``."""
    def leave():
        try:
            cm.__exit__(None, None, None)
        except BaseException:  # noqa: BLE001
            pass
    t = threading.Thread(target=leave, daemon=True)
    t.start()
    t.join(timeout_s)
    return not t.is_alive()


def asgi_requests(app, calls: list, concurrent: bool = True, raise_app_exceptions: bool = False,
                  base_url: str = "http://svc") -> list:
    """Send ``calls`` (``[method, url, kwargs]`` each, kwargs as for ``httpx.AsyncClient.request``) to an ASGI
    app in process (httpx over ASGITransport, no lifespan), all at once (``asyncio.gather``) or one after the
    other. Returns per call ``{"status": int, "headers": {lowercase name: value}, "text": str}``; an exception
    propagates."""
    import httpx

    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
            if concurrent:
                responses = await asyncio.gather(*[c.request(m, u, **dict(kw or {})) for m, u, kw in calls])
            else:
                responses = [await c.request(m, u, **dict(kw or {})) for m, u, kw in calls]
        return [{"status": r.status_code, "headers": {k.lower(): v for k, v in r.headers.items()}, "text": r.text}
                for r in responses]
    return asyncio.run(go())


def _substitute(value):
    import os
    if isinstance(value, str):
        return value.replace("{pid}", str(os.getpid())).replace("{tid}", str(threading.get_ident()))
    return value


def _slow_sqlite_connect(real, pause_s: float):
    import sqlite3

    class SlowReads(sqlite3.Connection):
        def execute(self, sql, *args, **kwargs):
            cur = super().execute(sql, *args, **kwargs)
            if str(sql).lstrip().upper().startswith("SELECT"):
                time.sleep(pause_s)
            return cur

    def connect(*args, **kwargs):
        kwargs.setdefault("factory", SlowReads)
        return real(*args, **kwargs)
    return connect


def method_calls_in_threads(make, make_args, method: str, calls_per_thread: list, switch_interval=None,
                            slow_sqlite_reads_s: float = 0.0, timeout_s: float = 60.0) -> list:
    """One thread per entry of ``calls_per_thread``: each makes its own object ``make(*make_args)``, waits for
    the others (a barrier), then calls ``obj.<method>(*args)`` for each ``args`` of its entry (``"{pid}"`` and
    ``"{tid}"`` in string arguments become the process and thread ids). ``switch_interval``: the thread switch
    interval meanwhile; ``slow_sqlite_reads_s``: ``sqlite3.connect`` meanwhile makes connections that pause
    after every SELECT. Returns per thread its results, ending with ``"Type: message"`` at its first error."""
    import sqlite3
    results: list = [[] for _ in calls_per_thread]

    def work(i, barrier):
        out = results[i]
        try:
            obj = make(*make_args)
            barrier.wait(30)
            for args in calls_per_thread[i]:
                out.append(getattr(obj, method)(*[_substitute(a) for a in args]))
        except Exception as exc:  # noqa: BLE001 - an observation
            out.append(f"{type(exc).__name__}: {exc}")

    real_connect = sqlite3.connect
    if slow_sqlite_reads_s:
        sqlite3.connect = _slow_sqlite_connect(real_connect, float(slow_sqlite_reads_s))
    try:
        _threads_together(work, len(calls_per_thread), switch_interval, timeout_s)
    finally:
        sqlite3.connect = real_connect
    return results


def method_calls_in_processes(make, make_args, method: str, calls_per_process: list, timeout_s: float = 50.0) -> list:
    """One forked process per entry of ``calls_per_process``, all at once: each makes ``make(*make_args)`` and
    calls ``obj.<method>(*args)`` for each ``args`` (``"{pid}"``/``"{tid}"`` substituted). Returns per process
    the results (ints, or ``"Type: message"`` at its first error), or ``None`` for a process that sent nothing."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")

    def child(calls, conn):
        out = []
        try:
            obj = make(*make_args)
            for args in calls:
                out.append(getattr(obj, method)(*[_substitute(a) for a in args]))
        except Exception as exc:  # noqa: BLE001 - an observation
            out.append(f"{type(exc).__name__}: {exc}")
        conn.send([x if isinstance(x, str) else int(x) for x in out])
        conn.close()

    pipes, procs = [], []
    for calls in calls_per_process:
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=child, args=([list(a) for a in calls], send))
        p.start()
        pipes.append(recv)
        procs.append(p)
    out = []
    for recv, p in zip(pipes, procs):
        got = None
        if recv.poll(timeout_s):
            try:
                got = recv.recv()
            except (EOFError, OSError):
                got = None
        out.append(got)
        p.join(5)
        if p.is_alive():
            p.kill()
    return out


# fake torch / package metadata for environment reports -----------------------------------------------------
class FakeProps:
    def __init__(self, name, total_memory, major, minor, sms=80):
        self.name, self.total_memory, self.major, self.minor = name, total_memory, major, minor
        self.multi_processor_count = sms

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2**20}MB, multi_processor_count={self.multi_processor_count})")


class FakeCuda:
    """Imitates torch.cuda: the calls a report plausibly makes, all consistent with each other."""

    def __init__(self, gpus):
        self._gpus = list(gpus)

    def _dev(self, device=None):
        if not self._gpus:
            raise AssertionError("Torch not compiled with CUDA enabled")
        if device is None:
            return self._gpus[0]
        if isinstance(device, str):
            device = int(device.split(":")[1]) if ":" in device else 0
        index = getattr(device, "index", device)
        return self._gpus[0 if index is None else int(index)]

    def is_available(self):
        return bool(self._gpus)

    def device_count(self):
        return len(self._gpus)

    def current_device(self):
        self._dev()
        return 0

    def get_device_name(self, device=None):
        return self._dev(device).name

    def get_device_properties(self, device=None):
        return self._dev(device)

    def get_device_capability(self, device=None):
        p = self._dev(device)
        return (p.major, p.minor)

    def mem_get_info(self, device=None):
        p = self._dev(device)
        return (int(p.total_memory * 0.97), p.total_memory)

    def is_initialized(self):
        return bool(self._gpus)


class FakeTorch:
    def __init__(self, version, gpus):
        self.__version__ = version
        self.cuda = FakeCuda(gpus)

        class _Version:
            cuda = "12.4" if gpus else None
        self.version = _Version()

    def device(self, spec):
        return spec

    def __repr__(self):
        return f"<fake torch {self.__version__} with {self.cuda.device_count()} GPU(s)>"


def fake_torch(version: str, gpus: list) -> FakeTorch:
    """A fake torch module of ``version`` whose ``cuda`` reports ``gpus`` (``[name, total_memory, major,
    minor, multi_processor_count]`` each; none: a CPU-only torch whose device queries raise)."""
    return FakeTorch(version, [FakeProps(*g) for g in gpus])


def fake_versions(installed: dict):
    """A ``version_of(dist)`` lookup over ``installed`` raising importlib.metadata.PackageNotFoundError."""
    import importlib.metadata

    def version_of(dist):
        if dist in installed:
            return installed[dist]
        raise importlib.metadata.PackageNotFoundError(dist)
    version_of.installed = installed
    return version_of


def construct(module: str, name: str, *args, **kwargs):
    """``module.name(*args, **kwargs)`` made inside the sandbox (e.g. an exception instance to be raised there:
    an exception class reached through a handle is mirrored in the grader, so calling it makes a grader object)."""
    import importlib
    return getattr(importlib.import_module(module), name)(*args, **kwargs)


def call_with_iterator(owner, name: str, items: list, *args, **kwargs):
    """``owner.<name>(iter(items), *args, **kwargs)``: the student's code gets a one-pass iterator made here
    (a grader's iterator would be a handle, and every ``next`` a round trip back to the grader)."""
    return getattr(owner, name)(iter(list(items)), *args, **kwargs)


def set_attrs(objs, names, rows) -> None:
    """``setattr(obj, name, value)`` for each object and its row of values, in one call."""
    for obj, row in zip(objs, rows):
        for name, value in zip(names, row):
            setattr(obj, name, value)


def call_in_place(fn, args, kwargs=None, mutable=()) -> list:
    """``fn(*args, **kwargs)`` where each positional argument whose index is in ``mutable`` is a list made here
    (from the items given), so that ``fn`` can change it in place (a list from the grader would be a copy).
    Returns ``[result, {index: that list's items afterwards}]``."""
    args = list(args)
    lists = {i: list(args[i]) for i in mutable}
    for i, lst in lists.items():
        args[i] = lst
    result = fn(*args, **dict(kwargs or {}))
    return [result, {i: list(lst) for i, lst in lists.items()}]


class LifespanWatch:
    """An ASGI app wrapped so that how its lifespan went is observable: ``report()`` is
    ``{"started": bool, "startup_error": [class name, message] | None, "shutdown_error": ... | None}``.
    Everything else passes straight through to the app."""

    def __init__(self, app) -> None:
        self.app = app
        self.started = False
        self.startup_error = None
        self.shutdown_error = None

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "lifespan":
            return await self.app(scope, receive, send)

        async def watched_send(message):
            if message.get("type") == "lifespan.startup.complete":
                self.started = True
            return await send(message)
        try:
            return await self.app(scope, receive, watched_send)
        except BaseException as exc:
            info = [type(exc).__name__, str(exc)[:500]]
            if self.started:
                self.shutdown_error = info
            else:
                self.startup_error = info
            raise

    def report(self) -> dict:
        return {"started": self.started, "startup_error": self.startup_error, "shutdown_error": self.shutdown_error}


class ManualClock:
    """A clock for the student's code: calling it returns ``now``, which only the grader moves."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class LineSink:
    """A log sink: ``append(line)`` keeps each line in ``lines``."""

    def __init__(self) -> None:
        self.lines: list = []

    def append(self, line) -> None:
        self.lines.append(line)


def request_probe_app(clock: ManualClock):
    """A small FastAPI app to wrap with middleware: ``GET /item/{i}?wait=&work=`` (advances ``clock`` by ``work``,
    sleeps ``wait`` s, answers ``{"i": i, "seen_id": request.state.request_id or None}``) and ``POST /boom``
    (raises KeyError("broken handler"))."""
    from fastapi import FastAPI, Request

    app = FastAPI()

    async def item(i, request, wait=0.0, work=0.0):
        clock.now += work
        if wait:
            await asyncio.sleep(wait)
        return {"i": i, "seen_id": getattr(request.state, "request_id", None)}
    item.__annotations__ = {"i": int, "request": Request, "wait": float, "work": float}

    async def boom():
        raise KeyError("broken handler")
    boom.__annotations__ = {}

    app.get("/item/{i}")(item)
    app.post("/boom")(boom)
    return app


def call_keeping_args(fn, args, kwargs=None) -> list:
    """``fn(*args, **kwargs)`` on arguments made here, then those arguments as they are afterwards (a function
    that changes its input in place shows it there; arguments from the grader are copies). Returns
    ``[result, [each positional argument afterwards], {each keyword argument afterwards}]``."""
    args, kwargs = list(args), dict(kwargs or {})
    result = fn(*args, **kwargs)
    return [result, args, kwargs]


class YieldingClock(ManualClock):
    """A :class:`ManualClock` that gives other threads a chance to run whenever it is read."""

    def __call__(self):
        time.sleep(0)
        return self.now


def results_in_threads(fn, calls_per_thread: list, switch_interval: float | None = None,
                       timeout_s: float = 120.0) -> list:
    """Like :func:`in_threads`, keeping what each call returned: per thread
    ``{"values": [fn(*args) for each args], "error": None | repr of its first exception | "Timeout"}``."""
    calls = [[tuple(a) for a in thread_calls] for thread_calls in calls_per_thread]
    out = [{"values": [], "error": None} for _ in calls]

    def work(i, barrier):
        try:
            barrier.wait()
            for args in calls[i]:
                out[i]["values"].append(fn(*args))
        except Exception as exc:  # noqa: BLE001 - an observation
            out[i]["error"] = repr(exc)[:500]

    for i, alive in enumerate(_threads_together(work, len(calls), switch_interval, timeout_s)):
        if alive:
            out[i]["error"] = "Timeout"
    return [{"values": list(o["values"]), "error": o["error"]} for o in out]


def truthy_counts_in_threads(fn, args_per_thread: list, duration_s: float, min_calls: int = 0,
                             switch_interval: float | None = None, timeout_s: float = 60.0) -> list:
    """One thread per entry of ``args_per_thread``, started together (a barrier): thread ``i`` calls
    ``fn(*args_per_thread[i])`` again and again until ``duration_s`` seconds have passed since the start and it
    has made at least ``min_calls`` calls. Returns per thread ``{"calls": int, "truthy": how many calls
    returned a true value, "error": None | repr of the exception that stopped it | "Timeout"}``."""
    arg_lists = [tuple(a) for a in args_per_thread]
    out = [{"calls": 0, "truthy": 0, "error": None} for _ in arg_lists]
    start: list = []

    def work(i, barrier):
        o = out[i]
        try:
            barrier.wait()
            if not start:
                start.append(time.monotonic())
            stop = start[0] + float(duration_s)
            while time.monotonic() < stop or o["calls"] < min_calls:
                o["truthy"] += bool(fn(*arg_lists[i]))
                o["calls"] += 1
        except Exception as exc:  # noqa: BLE001 - an observation
            o["error"] = repr(exc)[:500]

    for i, alive in enumerate(_threads_together(work, len(arg_lists), switch_interval, timeout_s)):
        if alive:
            out[i]["error"] = "Timeout"
    return [dict(o) for o in out]


# ---------------------------------------------------------------------- batched calls (observations only)
class Raised:
    """An exception that a call run by :func:`observe` or :func:`repeat_calls` raised, kept here: calling
    this object raises it again, so that the grader gets it exactly as if it had made that call itself (the
    same class, message and location)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __call__(self):
        raise self.exc


def _settled(value, depth: int = 0):
    """``value`` as it would have crossed the boundary had its call been made on its own (a list, dict,
    array, ... copied now, so that later calls of the same batch cannot change what the grader sees)."""
    if depth > 64:
        return value
    t = type(value)
    if t is list:
        return [_settled(v, depth + 1) for v in value]
    if t is dict:
        return {k: _settled(v, depth + 1) for k, v in value.items()}
    if t is tuple:
        return tuple(_settled(v, depth + 1) for v in value)
    if t in (set, frozenset):
        return t(value)
    if isinstance(value, tuple) and hasattr(t, "_fields"):
        try:
            return t._make(_settled(v, depth + 1) for v in value)
        except Exception:  # noqa: BLE001 - an odd named tuple: as it is
            return value
    import sys
    np, torch = sys.modules.get("numpy"), sys.modules.get("torch")
    if np is not None and isinstance(value, np.ndarray):
        return value.copy()
    if torch is not None and t in (torch.Tensor, torch.nn.Parameter) and value.device.type == "cpu":
        copy = value.detach().clone()
        if t is torch.nn.Parameter:
            return torch.nn.Parameter(copy, requires_grad=value.requires_grad)
        return copy.requires_grad_(True) if value.requires_grad and copy.is_floating_point() else copy
    return value


_NO_TARGET = object()


def _run(step, target=_NO_TARGET):
    if target is _NO_TARGET:
        obj, step = step[0], step[1:]
    else:
        obj = target
    name, args = step[0], step[1]
    if args is None:                        # an attribute read
        return _settled(getattr(obj, name))
    kwargs = dict(step[2]) if len(step) > 2 and step[2] else {}
    fn = getattr(obj, name) if name else obj
    return _settled(fn(*args, **kwargs))


def _run_all(steps, values: list, target=_NO_TARGET):
    for step in steps:
        try:
            values.append(_run(step, target))
        except Exception as exc:  # noqa: BLE001 - handed back to the grader, which raises it
            return Raised(exc)
    return None


def observe(before=(), call=None, if_returned=(), if_raised=(), target=None, on_result=False) -> list:
    """A grader's operation and the observations that follow it, in one round trip. Each call is
    ``[obj, name, args]`` or ``[obj, name, args, kwargs]``: ``obj.<name>(*args, **kwargs)`` (name ``""``:
    ``obj(*args, **kwargs)``; args ``None``: the attribute ``obj.<name>``). With ``target``, every call is on
    it and omits ``obj``; with ``on_result``, the calls of ``if_returned`` are on what ``call`` returned (a
    new object's first state) and omit ``obj``. They run in this order, as the grader would have made them
    one by one:

    * ``before``: in order, stopping at the first that raises (then nothing else runs);
    * ``call`` (optional): its exception is kept, not raised;
    * ``if_returned`` or ``if_raised`` (by how ``call`` ended): in order, stopping at the first that raises.

    Returns ``[before values, outcome, after values, failure]``: ``outcome`` is ``None`` (not run),
    ``[True, value]`` or ``[False, Raised]``; ``failure`` is ``None`` or the :class:`Raised` of the ``before``
    or ``after`` call that stopped the run (the one after the last value). Values are plain data or handles,
    as each call on its own would have returned them. Nothing here checks anything."""
    before_values: list = []
    after_values: list = []
    target = _NO_TARGET if target is None else target
    failure = _run_all(before, before_values, target)
    if failure is not None:
        return [before_values, None, after_values, failure]
    outcome = None
    after, after_target = if_returned, target
    if call is not None:
        try:
            value = _run(call, target)
            outcome = [True, value]
            if on_result:
                after_target = value
        except Exception as exc:  # noqa: BLE001
            outcome, after = [False, Raised(exc)], if_raised
    failure = _run_all(after, after_values, after_target)
    return [before_values, outcome, after_values, failure]


def repeat_calls(owner, name: str, rows: list, tail=(), fresh: bool = True, kwargs=None, row_kwargs=None) -> list:
    """``owner.<name>(*row, *tail, **kwargs, **row_kwargs[i])`` for each ``row`` of ``rows``, in order, stopping
    at the first call that raises; ``kwargs`` (e.g. a torch generator that advances from call to call) are the
    same objects for every call. ``fresh``: each call gets its own deep copy of ``tail`` (as if the grader had
    sent it anew); otherwise every call gets the same ``tail`` objects, and each value is ``[result, tail as
    it is after that call]`` (so that changes made in place show). Returns ``[values, None | the Raised of
    the call after the last value]``."""
    import copy
    values: list = []
    kwargs = dict(kwargs or {})
    tail = list(tail)
    for i, row in enumerate(rows):
        args = [*row, *(copy.deepcopy(tail) if fresh else tail)]
        extra = dict(row_kwargs[i]) if row_kwargs else {}
        try:
            out = _settled(getattr(owner, name)(*args, **kwargs, **extra))
        except Exception as exc:  # noqa: BLE001 - handed back to the grader, which raises it
            return [values, Raised(exc)]
        values.append(out if fresh else [out, _settled(tail)])
    return [values, None]


def seed_everything(seed: int) -> None:
    """Seed the sandbox's global random number generators (``random``, numpy's, torch's)."""
    import random
    import sys
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


# ---------------------------------------------------------------------- one scheduling step (Lab 2.1)
def make_records(repr_format: str, names, rows) -> list:
    """One :class:`Record` per row of values (``names`` its fields), in one call."""
    return [Record(repr_format, **dict(zip(names, row))) for row in rows]


class RelayedPool:
    """The grader's block pool as the student's scheduler sees it. A call of ``allocate``/``grow``/``free``
    goes to the grader in ONE call of ``dispatch(name, args, kwargs, fields)``, with the fields of the request
    record it names (its first argument, or ``req=``; ``None`` for anything but a :class:`Record`) sent along,
    so the grader needs no second round trip to read them; the answer is ``[value, {field: new value}]``, the
    updates applied to that record before the scheduler goes on. Every other attribute is the pool's own."""

    def __init__(self, pool, dispatch, fields) -> None:
        object.__setattr__(self, "_pool", pool)
        object.__setattr__(self, "_dispatch", dispatch)
        object.__setattr__(self, "_fields", list(fields))

    def _relay(self, name, args, kwargs):
        req = args[0] if args else kwargs.get("req")
        record = req if isinstance(req, Record) else None
        fields = None if record is None else [getattr(record, f, None) for f in self._fields]
        value, updates = self._dispatch(name, list(args), dict(kwargs), fields)
        if record is not None:
            for field, new in dict(updates).items():
                setattr(record, field, new)
        return value

    def allocate(self, *args, **kwargs):
        return self._relay("allocate", args, kwargs)

    def grow(self, *args, **kwargs):
        return self._relay("grow", args, kwargs)

    def free(self, *args, **kwargs):
        return self._relay("free", args, kwargs)

    def __getattr__(self, name):
        return getattr(self._pool, name)

    def __setattr__(self, name, value):
        setattr(self._pool, name, value)

    def __repr__(self):
        return repr(self._pool)


def scheduler_step(records, fields, rows, owner, name: str, lists, pool, dispatch, args=(), plan_attrs=(),
                   missing=None, strict: bool = False) -> list:
    """One scheduling step, as the grader would make it call by call: set the ``fields`` of the ``records``
    (``rows``), call ``owner.<name>(lists[0], lists[1], ..., RelayedPool(pool, dispatch, fields), *args)``
    where each of ``lists`` is a list made here (changed in place by the scheduler), read the records' fields
    back, and, if it returned, read ``plan_attrs`` of its result (``getattr(plan, a, missing)``; ``strict``:
    plain ``getattr``), stopping at the first read that raises. Returns ``[outcome, rows after, lists after
    (None if it raised), [plan attribute values, None | Raised]]``; ``outcome`` is ``[True, plan]`` or
    ``[False, Raised]``."""
    set_attrs(records, fields, rows)
    made = [list(items) for items in lists]
    lists_after = None
    try:
        fn = getattr(owner, name)
        outcome = [True, fn(*made, RelayedPool(pool, dispatch, fields), *args)]
        lists_after = [list(items) for items in made]
    except Exception as exc:  # noqa: BLE001 - handed back to the grader, which raises it
        outcome = [False, Raised(exc)]
    after = read_attrs(records, fields)
    reads: list = [[], None]
    if outcome[0]:
        for attr in plan_attrs:
            try:
                reads[0].append(getattr(outcome[1], attr) if strict else getattr(outcome[1], attr, missing))
            except Exception as exc:  # noqa: BLE001
                reads[1] = Raised(exc)
                break
    return [outcome, after, lists_after, reads]
