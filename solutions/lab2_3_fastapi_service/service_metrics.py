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

# --- cell: service_metrics ---
class ServiceMetrics:
    """The service's Prometheus metrics, named as vLLM names them, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry, model_name: str = "lab-model"):
        self.model_name = model_name
        labels = ["model_name"]
        self.running = Gauge("vllm:num_requests_running", "Number of requests being generated.", labels,
                             registry=registry)
        self.success = Counter("vllm:request_success", "Count of successfully finished requests.",
                               labels + ["finished_reason"], registry=registry)
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Time to first token in seconds.", labels,
                              buckets=TTFT_BUCKETS, registry=registry)
        self.itl = Histogram("vllm:inter_token_latency_seconds", "Time between two output tokens in seconds.",
                             labels, buckets=ITL_BUCKETS, registry=registry)
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Number of prompt tokens processed.", labels,
                                     registry=registry)
        self.generation_tokens = Counter("vllm:generation_tokens", "Number of generated tokens.", labels,
                                         registry=registry)


def create_monitored_app(engine, *, registry: Optional[CollectorRegistry] = None, model_name: str = "lab-model",
                         clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    registry = CollectorRegistry() if registry is None else registry
    metrics = ServiceMetrics(registry, model_name)
    app = FastAPI(title="monitored service")
    app.state.metrics = metrics
    m = model_name

    @app.post("/generate")
    async def generate(body: GenerateBody):
        start = clock()
        metrics.running.labels(m).inc()
        try:
            metrics.prompt_tokens.labels(m).inc(engine.count_tokens(body.prompt))
            pieces, reason, last = [], None, None
            async for event in engine.stream(body.prompt, body.max_tokens):
                now = clock()
                if last is None:
                    metrics.ttft.labels(m).observe(now - start)
                else:
                    metrics.itl.labels(m).observe(now - last)
                last = now
                pieces.append(event.text)
                metrics.generation_tokens.labels(m).inc()
                reason = event.finish_reason or reason
        except Exception as exc:
            return JSONResponse({"error": {"message": str(exc), "type": "InternalServerError", "param": None,
                                           "code": 500}}, status_code=500)
        finally:
            metrics.running.labels(m).dec()
        metrics.success.labels(m, reason).inc()
        return {"text": "".join(pieces), "finish_reason": reason,
                "prompt_tokens": engine.count_tokens(body.prompt), "completion_tokens": len(pieces)}

    @app.get("/metrics")
    async def metrics_endpoint():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
