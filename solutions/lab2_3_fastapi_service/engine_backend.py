# Generated from source/lab2_3_fastapi_service/03-Integration_with_vLLM.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab23_nb03 ---
# Shared by the exercises of this notebook: one interface for every engine (trusted course code).
import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import AsyncIterator, Optional, Protocol

from labkit.engine import SamplingParams      # labkit's own sampling parameters (for the labkit adapter)


@dataclass
class GenParams:
    """The sampling parameters every backend understands (the subset of the OpenAI request we serve)."""
    max_tokens: int = 16
    temperature: float = 0.0
    seed: Optional[int] = None
    ignore_eos: bool = False           # a vLLM extension: keep generating past the end-of-sequence token


@dataclass
class GenChunk:
    """What one request gained since its previous chunk."""
    text: str                          # new text ("" is allowed)
    token_ids: list                    # new token ids
    finish_reason: Optional[str]       # "stop" / "length" on the request's last chunk, None before it
    prompt_tokens: int                 # the prompt's length in tokens (the same on every chunk)


class Backend(Protocol):
    """An engine behind the service: labkit's AsyncLLMEngine, vLLM's AsyncLLM, ..."""
    name: str

    def generate(self, prompt: str, params: GenParams, request_id: str) -> AsyncIterator[GenChunk]:
        """An async generator of GenChunk; closing it early aborts the request in the engine."""
        ...

# --- cell: engine_backend ---
class LabkitBackend:
    name = "labkit"

    def __init__(self, engine):
        self.engine = engine

    async def generate(self, prompt: str, params: GenParams, request_id: str):
        sp = SamplingParams(max_tokens=params.max_tokens, temperature=params.temperature, seed=params.seed,
                            ignore_eos=params.ignore_eos)
        async for delta in self.engine.generate_stream(prompt, sp, request_id=request_id):
            yield GenChunk(text=delta.text, token_ids=list(delta.token_ids),
                           finish_reason=delta.finish_reason if delta.finished else None,
                           prompt_tokens=len(delta.output.prompt_token_ids))


async def chat_completion(backend, prompt: str, params: GenParams, *, model: str, request_id: str,
                          created: int) -> dict:
    text, completion_tokens, prompt_tokens, finish_reason = [], 0, 0, None
    async for chunk in backend.generate(prompt, params, request_id):
        text.append(chunk.text)
        completion_tokens += len(chunk.token_ids)
        prompt_tokens = chunk.prompt_tokens
        if chunk.finish_reason is not None:
            finish_reason = chunk.finish_reason
    return {"id": request_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(text)},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
