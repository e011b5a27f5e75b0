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

# --- cell: chat_stream ---
async def stream_chat_completion(engine, prompt: str, params: SamplingParams, *, model: str, request_id: str,
                                 created: int, include_usage: bool = False) -> AsyncIterator[str]:
    def event(obj) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    def chunk(delta: dict, finish_reason=None) -> dict:
        obj = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            obj["usage"] = None
        return obj

    yield event(chunk({"role": "assistant", "content": ""}))
    prompt_tokens = completion_tokens = 0
    finish_reason = None
    async for delta in engine.generate_stream(prompt, params, request_id=request_id):
        prompt_tokens = len(delta.output.prompt_token_ids)
        completion_tokens += len(delta.token_ids)
        if delta.text:
            yield event(chunk({"content": delta.text}))
        if delta.finished:
            finish_reason = delta.finish_reason
    yield event(chunk({}, finish_reason))
    if include_usage:
        yield event({"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                              "total_tokens": prompt_tokens + completion_tokens}})
    yield "data: [DONE]\n\n"
