# Generated from source/lab2_3_fastapi_service/04-Monitoring_and_Deploy.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab23_nb04 ---
# Shared by the exercises of this notebook: FastAPI, prometheus_client and a scripted stand-in engine.
# Trusted course code: at grading time this cell is taken from the course's copy of the notebook.
import asyncio
import json
import re
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Callable, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field

# vLLM's bucket bounds (vllm/engine/metrics.py), with the longest ones cut off for a CPU teaching service
TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5]


class FakeClock:
    """A clock that only moves when told to: ``clock()`` reads it, ``clock.advance(dt)`` moves it."""

    def __init__(self, start: float = 1000.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += float(seconds)


@dataclass
class TokenEvent:
    text: str
    finish_reason: Optional[str] = None     # "stop" or "length" on the last token, else None


class ScriptedEngine:
    """Stand-in for the model engine with scripted timing (so metrics can be checked exactly).

    - ``count_tokens(prompt)``: the prompt's token count (whitespace-separated words).
    - ``async for event in engine.stream(prompt, max_tokens)``: yields ``TokenEvent``s; the first token comes
      ``ttft`` seconds after the call, each next one ``itl`` seconds after the previous one. The request stops
      with ``finish_reason="stop"`` after ``output_len`` tokens, or ``"length"`` when ``max_tokens`` comes first.
      With ``fail_after=k`` it raises ``RuntimeError`` after yielding ``k`` tokens.
    - ``clock``: a ``FakeClock`` is advanced instead of sleeping (no real waiting); ``None`` sleeps for real.
    - ``probe``: optional callable run just before each token is yielded (graders look at gauges there).
    ``ttft``, ``itl``, ``output_len`` and ``fail_after`` are plain attributes and may be changed between requests.
    """

    def __init__(self, *, ttft: float = 0.05, itl: float = 0.02, output_len: int = 8, fail_after=None,
                 clock: Optional[FakeClock] = None, probe: Optional[Callable[[], None]] = None):
        self.ttft, self.itl, self.output_len, self.fail_after = ttft, itl, output_len, fail_after
        self.clock, self.probe = clock, probe

    def count_tokens(self, prompt: str) -> int:
        return len(prompt.split())

    async def _wait(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds)

    async def stream(self, prompt: str, max_tokens: int):
        ttft, itl, output_len, fail_after = self.ttft, self.itl, self.output_len, self.fail_after
        n = min(int(max_tokens), int(output_len))
        for i in range(n):
            if fail_after is not None and i >= fail_after:
                raise RuntimeError(f"engine failure after {i} tokens")
            await self._wait(ttft if i == 0 else itl)
            if self.probe is not None:
                self.probe()
            last = i == n - 1
            reason = None if not last else ("length" if n == int(max_tokens) else "stop")
            yield TokenEvent(text=f"tok{i} ", finish_reason=reason)


class GenerateBody(BaseModel):
    """Body of the exercises' ``POST /generate``."""
    prompt: str = Field(min_length=1)
    max_tokens: int = Field(16, ge=1)

# --- cell: readiness_probes ---
def create_probe_app(load_model) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.phase = "loading"

        async def load():
            try:
                app.state.model = await load_model()
            except Exception:
                app.state.phase = "failed"
                return
            if app.state.phase == "loading":
                app.state.phase = "ready"

        task = asyncio.create_task(load())
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/live")
    async def live(request: Request):
        failed = request.app.state.phase == "failed"
        return JSONResponse({"status": "failed" if failed else "alive"}, status_code=503 if failed else 200)

    @app.get("/health/ready")
    async def ready(request: Request):
        phase = request.app.state.phase
        return JSONResponse({"status": phase}, status_code=200 if phase == "ready" else 503)

    @app.post("/admin/drain")
    async def drain(request: Request):
        request.app.state.phase = "draining"
        return {"status": "draining"}

    return app
