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

# --- cell: usage_tracker ---
class UsageTracker:
    def __init__(self):
        self._lock = threading.Lock()
        self._totals = {}

    def record(self, api_key: str, prompt_tokens: int, completion_tokens: int) -> dict:
        prompt_tokens, completion_tokens = int(prompt_tokens), int(completion_tokens)
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError("token counts must be >= 0")
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        with self._lock:
            t = self._totals.setdefault(api_key, {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                                  "total_tokens": 0})
            t["requests"] += 1
            for k, v in usage.items():
                t[k] += v
        return usage

    def totals(self, api_key: str) -> dict:
        with self._lock:
            t = self._totals.get(api_key)
            return dict(t) if t else {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    def snapshot(self) -> dict:
        with self._lock:
            return {k: dict(v) for k, v in self._totals.items()}
