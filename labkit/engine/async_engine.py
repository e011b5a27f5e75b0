"""AsyncLLMEngine: stream tokens to asyncio code while a background thread drives ``step()``.

    engine = AsyncLLMEngine(LLMEngine(path))
    async for delta in engine.generate_stream("Hello", SamplingParams(max_tokens=32)):
        print(delta.text, end="")          # new text; delta.token_times for TTFT / ITL

Leaving the ``async for`` early, cancelling the task that runs it, or calling ``abort`` aborts
the request in the engine, which frees its KV blocks at once. Engine calls from the event loop
(add / abort) and from the stepping thread are serialised by one lock; a step holds it for one
forward pass, so the event loop never waits longer than that.
"""
from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field

from .engine import LLMEngine
from .sequence import RequestOutput, SamplingParams


@dataclass
class StreamDelta:
    """What one of a request's outputs gained since the previous delta."""
    request_id: str
    index: int                       # which of the n outputs
    token_ids: list[int]             # new tokens
    text: str                        # new text ("" without a tokenizer)
    token_times: list[float]         # time.monotonic() of each new token
    finished: bool
    finish_reason: str | None
    logprobs: list[dict[int, float]] | None = None
    arrival_time: float = 0.0
    first_token_time: float | None = None
    output: RequestOutput | None = field(default=None, repr=False)  # the cumulative output


class AsyncLLMEngine:
    def __init__(self, engine: LLMEngine | None = None, *args, **kwargs):
        self.engine = engine if engine is not None else LLMEngine(*args, **kwargs)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._streams: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.error: BaseException | None = None

    # ---- the stepping thread -------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="labkit-engine-loop", daemon=True)
            self._thread.start()

    def shutdown(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stopping:
            with self._lock:
                busy = self.engine.has_unfinished()
                if busy:
                    try:
                        outputs = self.engine.step()
                    except BaseException as exc:  # hand the failure to every waiting stream
                        self.error = exc
                        for rid in list(self._streams):
                            self.engine.abort(rid)
                            self._deliver(rid, exc)
                        outputs = []
            if not busy:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            for out in outputs:
                self._deliver(out.request_id, out)

    def _deliver(self, request_id: str, item) -> None:
        stream = self._streams.get(request_id)
        if stream is not None:
            loop, queue = stream
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the consumer's event loop is closed
                pass

    # ---- the asyncio side ----------------------------------------------------------------------
    def abort(self, request_id: str) -> None:
        """Abort a request (frees its blocks); its stream ends with finish_reason 'abort'."""
        with self._lock:
            out = self.engine.abort(request_id)
        if out is not None:
            self._deliver(str(request_id), out)

    def stats(self) -> dict:
        with self._lock:
            return self.engine.stats()

    async def generate_stream(self, prompt, sampling_params: SamplingParams | None = None,
                              request_id: str | None = None, priority: int = 0):
        """Yields a ``StreamDelta`` whenever an output of the request gains tokens."""
        self.start()
        request_id = str(request_id) if request_id is not None else f"stream-{next(self._ids)}"
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        if request_id in self._streams:
            raise ValueError(f"request id {request_id!r} is already streaming")
        self._streams[request_id] = (loop, queue)
        finished = False
        try:
            with self._lock:
                self.engine.add_request(request_id, prompt, sampling_params, priority)
            self._wake.set()
            seen: dict[int, tuple[int, str]] = {}  # output index -> (tokens sent, text sent)
            while not finished:
                item = await queue.get()
                if isinstance(item, BaseException):
                    finished = True
                    raise RuntimeError(f"the engine failed: {item!r}") from item
                finished = item.finished
                for delta in self._deltas(item, seen):
                    yield delta
        finally:
            self._streams.pop(request_id, None)
            if not finished:  # cancelled, or the consumer stopped early: free the blocks now
                with self._lock:
                    self.engine.abort(request_id)

    def _deltas(self, out: RequestOutput, seen: dict) -> list[StreamDelta]:
        tokenizer = self.engine.tokenizer
        deltas = []
        for comp in out.outputs:
            n_sent, text_sent = seen.get(comp.index, (0, ""))
            new = comp.token_ids[n_sent:]
            if not new and not comp.finished:
                continue
            text = ""
            if tokenizer is not None:
                full = comp.text
                if comp.finished or not full.endswith("\ufffd"):  # hold back half a character
                    text, text_sent = full[len(text_sent):], full
            seen[comp.index] = (len(comp.token_ids), text_sent)
            deltas.append(StreamDelta(
                request_id=out.request_id, index=comp.index, token_ids=list(new), text=text,
                token_times=comp.token_times[n_sent:], finished=comp.finished,
                finish_reason=comp.finish_reason,
                logprobs=comp.logprobs[n_sent:] if comp.logprobs is not None else None,
                arrival_time=out.arrival_time, first_token_time=out.first_token_time, output=out))
        return deltas

    async def generate(self, prompt, sampling_params: SamplingParams | None = None,
                       request_id: str | None = None, priority: int = 0) -> RequestOutput:
        """Run one request to completion; returns its final output."""
        last = None
        async for delta in self.generate_stream(prompt, sampling_params, request_id, priority):
            last = delta.output
        return last

    def __del__(self):
        self._stopping = True
        self._wake.set()

