# Generated from source/lab2_3_fastapi_service/01-Basic_API.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab23_nb01 ---
# Shared by the exercises of this notebook: FastAPI, Pydantic and the course's model backend.
# Trusted course code: at grading time this cell is taken from the course's copy of the notebook.
import asyncio
import base64
import struct
import time
import uuid
from contextlib import asynccontextmanager
from typing import Literal, Optional, Union

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from labkit.engine import LLMEngine, SamplingParams
from labkit.engine.async_engine import AsyncLLMEngine

torch.set_num_threads(1)   # two CPU cores shared with other work: keep the model on one thread


class ModelBackend:
    """Everything the service needs from the model, loaded once (several seconds on a real model).

    - ``engine``: a ``labkit`` ``AsyncLLMEngine`` (continuous batching): ``await engine.generate(prompt, params)``
      returns a ``RequestOutput`` (``.text``, ``.token_ids``, ``.finish_reason``, ``.prompt_token_ids``);
      a prompt longer than ``max_model_len`` raises ``ValueError``.
    - ``chat_prompt(messages)``: the model's chat template applied to ``[{"role", "content"}, ...]``.
    - ``embed(texts)``: one L2-normalised vector per text (mean of the last hidden states), plus the token count.
    - ``shutdown()``: stops the engine's stepping thread.
    """

    def __init__(self, model_path, *, max_model_len: int = 512, kv_cache_memory_bytes: int = 32 << 20,
                 max_num_seqs: int = 32):
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.model_path = str(model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch.float32).eval()
        self.max_model_len = int(max_model_len)
        self.engine = AsyncLLMEngine(LLMEngine(self.model, tokenizer=self.tokenizer, max_model_len=self.max_model_len,
                                               kv_cache_memory_bytes=kv_cache_memory_bytes, max_num_seqs=max_num_seqs))
        self.embedding_dim = int(self.model.config.hidden_size)
        self.is_shut_down = False

    def chat_prompt(self, messages) -> str:
        msgs = [m if isinstance(m, dict) else {"role": m.role, "content": m.content} for m in messages]
        return self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    @torch.inference_mode()
    def embed(self, texts: list) -> tuple:
        """(vectors, number of tokens): one list of floats per text, in the order of ``texts``."""
        vectors, total = [], 0
        for text in texts:
            ids = self.tokenizer(text, return_tensors="pt")["input_ids"][:, : self.max_model_len]
            hidden = self.model.model(input_ids=ids).last_hidden_state[0]     # (tokens, hidden)
            vec = torch.nn.functional.normalize(hidden.mean(dim=0), dim=0)
            vectors.append([float(x) for x in vec])
            total += int(ids.shape[1])
        return vectors, total

    def shutdown(self) -> None:
        self.engine.shutdown()
        self.is_shut_down = True


def load_backend(model_path, **kwargs) -> ModelBackend:
    """Load the model, tokenizer and engine (call it once, in the app's lifespan)."""
    return ModelBackend(model_path, **kwargs)


def floats_to_base64(vector) -> str:
    """The OpenAI ``encoding_format="base64"`` encoding: little-endian float32 bytes, base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")

# --- cell: create_app ---
def create_app(model_path, *, served_model_name: str = "lab-model", max_model_len: int = 512,
               kv_cache_memory_bytes: int = 32 << 20) -> FastAPI:
    def error(status: int, message: str, type_: str, param: Optional[str] = None) -> JSONResponse:
        body = ErrorResponse(error=ErrorInfo(message=message, type=type_, param=param, code=status))
        return JSONResponse(body.model_dump(), status_code=status)

    def check_model(name: str):
        if name != served_model_name:
            return error(404, f"The model `{name}` does not exist.", "NotFoundError", "model")
        return None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.backend = load_backend(model_path, max_model_len=max_model_len,
                                         kv_cache_memory_bytes=kv_cache_memory_bytes)
        try:
            yield
        finally:
            app.state.backend.shutdown()

    app = FastAPI(title="Lab 2.3 LLM service", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        where = ".".join(loc)
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid request")
        return error(400, message, "BadRequestError", where or None)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        kind = {404: "NotFoundError", 405: "MethodNotAllowedError"}.get(exc.status_code, "HTTPError")
        return error(exc.status_code, str(exc.detail), kind)

    async def run(prompt: str, max_tokens: int, temperature: float, top_p: float, seed):
        params = SamplingParams(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed)
        return await app.state.backend.engine.generate(prompt, params)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.post("/generate", response_model=GenerateResponse)
    async def generate(req: GenerateRequest):
        try:
            out = await run(req.prompt, req.max_tokens, req.temperature, req.top_p, req.seed)
        except ValueError as exc:
            return error(400, str(exc), "BadRequestError", "prompt")
        return GenerateResponse(text=out.text, finish_reason=out.finish_reason,
                                prompt_tokens=len(out.prompt_token_ids), completion_tokens=len(out.token_ids))

    @app.post("/v1/chat/completions", response_model=ChatCompletionResponse)
    async def chat_completions(req: ChatCompletionRequest):
        if (bad := check_model(req.model)) is not None:
            return bad
        if req.stream:
            return error(400, "stream=true is not supported by this server yet", "BadRequestError", "stream")
        backend = app.state.backend
        prompt = backend.chat_prompt([m.model_dump() for m in req.messages])
        try:
            out = await run(prompt, req.max_tokens or 16, req.temperature, req.top_p, req.seed)
        except ValueError as exc:
            return error(400, str(exc), "BadRequestError", "messages")
        usage = UsageInfo(prompt_tokens=len(out.prompt_token_ids), completion_tokens=len(out.token_ids),
                          total_tokens=len(out.prompt_token_ids) + len(out.token_ids))
        return ChatCompletionResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=served_model_name,
            choices=[ChatChoice(index=0, message=ChatMessage(role="assistant", content=out.text),
                                finish_reason=out.finish_reason)],
            usage=usage)

    @app.post("/v1/embeddings", response_model=EmbeddingResponse)
    async def embeddings(req: EmbeddingRequest):
        if (bad := check_model(req.model)) is not None:
            return bad
        texts = [req.input] if isinstance(req.input, str) else list(req.input)
        vectors, num_tokens = await asyncio.to_thread(app.state.backend.embed, texts)
        data = [EmbeddingData(index=i, embedding=floats_to_base64(v) if req.encoding_format == "base64" else v)
                for i, v in enumerate(vectors)]
        return EmbeddingResponse(data=data, model=served_model_name,
                                 usage=UsageInfo(prompt_tokens=num_tokens, total_tokens=num_tokens))

    return app
