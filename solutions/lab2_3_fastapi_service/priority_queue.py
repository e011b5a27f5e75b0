# Generated from source/lab2_3_fastapi_service/02-Async_Processing.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab23_nb02_queue ---
# The queue exercise: two exceptions the service maps to HTTP answers (trusted course code).
import asyncio
import heapq
import itertools
from typing import Optional


class QueueFull(Exception):
    """The queue already holds maxsize waiting requests: the service answers 429."""


class QueueTimeout(Exception):
    """get(timeout) found no request in time."""

# --- cell: setup_lab23_nb02 ---
# Shared by the exercises of this notebook: the streaming service around your generator.
# Trusted course code: at grading time this cell is taken from the course's copy of the notebook.
import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager
from typing import AsyncIterator, Literal, Optional

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from labkit.engine import LLMEngine, SamplingParams
from labkit.engine.async_engine import AsyncLLMEngine

torch.set_num_threads(1)   # two CPU cores shared with other work: keep the model on one thread


class StreamBackend:
    """The tokenizer and the labkit AsyncLLMEngine, loaded once (the app's lifespan)."""

    def __init__(self, model_path, *, max_model_len: int = 512, kv_cache_memory_bytes: int = 32 << 20,
                 max_num_seqs: int = 64):
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float32).eval()
        self.engine = AsyncLLMEngine(LLMEngine(model, tokenizer=self.tokenizer, max_model_len=max_model_len,
                                               kv_cache_memory_bytes=kv_cache_memory_bytes,
                                               max_num_seqs=max_num_seqs))

    def chat_prompt(self, messages) -> str:
        return self.tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False,
                                                  add_generation_prompt=True)

    def kv_stats(self) -> dict:
        """Free and total KV blocks, and the requests the engine still holds."""
        s = self.engine.stats()
        return {"num_free_blocks": s["num_free_blocks"], "num_blocks": s["num_blocks"],
                "num_requests": s["num_waiting"] + s["num_running"]}

    def shutdown(self) -> None:
        self.engine.shutdown()


class StreamOptions(BaseModel):
    include_usage: bool = False


class StreamChatRequest(BaseModel):
    model: str
    messages: list[dict] = Field(min_length=1)
    max_tokens: int = Field(16, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    seed: Optional[int] = None
    ignore_eos: bool = False              # a vLLM extension: keep generating past the end-of-sequence token
    stream: bool = False
    stream_options: Optional[StreamOptions] = None


def make_stream_app(model_path, stream_fn, *, served_model_name: str = "lab-model", max_model_len: int = 512,
                    kv_cache_memory_bytes: int = 32 << 20) -> FastAPI:
    """POST /v1/chat/completions with stream=true answered by ``stream_fn`` (your generator) as SSE."""

    @asynccontextmanager
    async def lifespan(app):
        app.state.backend = StreamBackend(model_path, max_model_len=max_model_len,
                                          kv_cache_memory_bytes=kv_cache_memory_bytes)
        try:
            yield
        finally:
            app.state.backend.shutdown()

    app = FastAPI(lifespan=lifespan)

    def error(status, message, param=None):
        kind = {400: "BadRequestError", 404: "NotFoundError"}.get(status, "InternalServerError")
        return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": status}},
                            status_code=status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request, exc):
        return error(400, str(exc.errors()[0].get("msg")) if exc.errors() else "invalid request")

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/kv")
    async def kv():
        return app.state.backend.kv_stats()

    @app.post("/v1/chat/completions")
    async def chat(req: StreamChatRequest):
        if req.model != served_model_name:
            return error(404, f"The model `{req.model}` does not exist.", "model")
        if not req.stream:
            return error(400, "this service only streams: send stream=true", "stream")
        backend = app.state.backend
        prompt = backend.chat_prompt(req.messages)
        if len(backend.tokenizer(prompt)["input_ids"]) >= max_model_len:
            return error(400, f"the prompt is longer than max_model_len={max_model_len}", "messages")
        params = SamplingParams(max_tokens=req.max_tokens, temperature=req.temperature, seed=req.seed,
                                ignore_eos=req.ignore_eos)
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        events = stream_fn(backend.engine, prompt, params, model=served_model_name,
                           request_id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()),
                           include_usage=include_usage)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app

# --- cell: setup_lab23_nb02_retry ---
# The retry exercise: what counts as a transient failure (trusted course code).
import asyncio
import random

import httpx

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
RETRYABLE_EXCEPTIONS = (asyncio.TimeoutError, httpx.TransportError, ConnectionError)

# --- cell: priority_queue ---
class MemoryRequestQueue:
    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._heap = []
        self._seq = itertools.count()
        self._cond = asyncio.Condition()

    async def put(self, item: str, priority: int = 0) -> None:
        async with self._cond:
            if len(self._heap) >= self.maxsize:
                raise QueueFull(f"the queue already holds {self.maxsize} requests")
            heapq.heappush(self._heap, (priority, next(self._seq), item))
            self._cond.notify()

    async def get(self, timeout: Optional[float] = None) -> str:
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: self._heap), timeout)
            except asyncio.TimeoutError:
                raise QueueTimeout(f"no request within {timeout} s") from None
            return heapq.heappop(self._heap)[2]

    async def qsize(self) -> int:
        return len(self._heap)


class RedisRequestQueue:
    _PUT = """
    if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
    local seq = redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) * 4294967296 + seq, seq .. ':' .. ARGV[3])
    return 1
    """

    def __init__(self, client, name: str, maxsize: int):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.client, self.name, self.maxsize = client, name, maxsize
        self._put = client.register_script(self._PUT)

    async def put(self, item: str, priority: int = 0) -> None:
        ok = await self._put(keys=[self.name, self.name + ":seq"], args=[self.maxsize, int(priority), item])
        if not int(ok):
            raise QueueFull(f"the queue {self.name!r} already holds {self.maxsize} requests")

    async def get(self, timeout: Optional[float] = None) -> str:
        if timeout is not None and timeout <= 0:
            popped = await self.client.zpopmin(self.name)
            found = popped[0] if popped else None
        else:
            res = await self.client.bzpopmin(self.name, timeout=0 if timeout is None else timeout)
            found = (res[1], res[2]) if res else None
        if found is None:
            raise QueueTimeout(f"no request within {timeout} s")
        member = found[0].decode() if isinstance(found[0], bytes) else found[0]
        return member.split(":", 1)[1]

    async def qsize(self) -> int:
        return int(await self.client.zcard(self.name))
