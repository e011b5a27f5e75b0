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
