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

# --- cell: stream_metrics ---
def stream_metrics(sent_at: float, events: list) -> dict:
    content_times, usage, n_chunks = [], None, 0
    end = sent_at
    for t, data in events:
        end = max(end, t)
        if data == "[DONE]":
            continue
        obj = json.loads(data)
        if obj.get("usage"):
            usage = obj["usage"]
        for choice in obj.get("choices") or []:
            if choice.get("delta", {}).get("content"):
                content_times.append(t)
                n_chunks += 1
    tokens = int(usage["completion_tokens"]) if usage else n_chunks
    e2e = end - sent_at
    return {"ttft": content_times[0] - sent_at if content_times else None,
            "itl": [b - a for a, b in zip(content_times, content_times[1:])],
            "e2e": e2e,
            "completion_tokens": tokens,
            "tokens_per_s": tokens / e2e if e2e > 0 else 0.0}
