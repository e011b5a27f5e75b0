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

# --- cell: api_models ---
class GenerateRequest(BaseModel):
    prompt: str = Field(min_length=1)
    max_tokens: int = Field(16, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: Optional[int] = None


class GenerateResponse(BaseModel):
    text: str
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatCompletionRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: Optional[int] = None
    stream: bool = False


class UsageInfo(BaseModel):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(0, ge=0)
    total_tokens: int = Field(ge=0)


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessage
    finish_reason: Literal["stop", "length"]


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: UsageInfo


class EmbeddingRequest(BaseModel):
    model: str
    input: Union[str, list[str]]
    encoding_format: Literal["float", "base64"] = "float"

    @field_validator("input")
    @classmethod
    def _non_empty(cls, value):
        texts = [value] if isinstance(value, str) else value
        if not texts:
            raise ValueError("input must not be an empty list")
        if any(not t for t in texts):
            raise ValueError("input must not contain empty strings")
        return value


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: Union[list[float], str]


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: UsageInfo


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: Optional[str] = None
    code: int


class ErrorResponse(BaseModel):
    error: ErrorInfo
