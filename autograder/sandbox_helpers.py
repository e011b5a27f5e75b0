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
def in_threads(fn, calls_per_thread: list, switch_interval: float | None = None, timeout_s: float = 120.0) -> list:
    """Start one thread per entry of ``calls_per_thread`` together (a barrier); thread ``i`` calls
    ``fn(*args)`` for each ``args`` in ``calls_per_thread[i]``, in order. ``switch_interval``: the
    interpreter's thread switch interval meanwhile (tiny values make races show up). Returns, per thread,
    ``None`` or the repr of the first exception it raised (``"Timeout"`` for a thread still running)."""
    import sys
    calls = [[tuple(a) for a in thread_calls] for thread_calls in calls_per_thread]
    barrier = threading.Barrier(len(calls))
    errors: list = [None] * len(calls)

    def work(i):
        try:
            barrier.wait()
            for args in calls[i]:
                fn(*args)
        except Exception as exc:  # noqa: BLE001 - an observation
            errors[i] = repr(exc)[:500]

    old = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(float(switch_interval))
    try:
        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(calls))]
        for th in threads:
            th.start()
        deadline = time.monotonic() + timeout_s
        for i, th in enumerate(threads):
            th.join(max(0.0, deadline - time.monotonic()))
            if th.is_alive():
                errors[i] = "Timeout"
    finally:
        sys.setswitchinterval(old)
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
