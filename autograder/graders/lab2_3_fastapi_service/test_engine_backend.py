"""Hidden grader: the labkit adapter behind the Backend interface, and chat_completion over any backend
(Lab 2.3, notebook 03). The adapter runs a real labkit AsyncLLMEngine on the course's tiny model, built
inside the sandbox next to the student's code; the expected outputs come from the grader's own engine
(the same model and settings) streaming the same request."""
from __future__ import annotations

import asyncio
import contextlib

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from autograder.api import as_int, fail_with, points
from labkit.engine import LLMEngine, SamplingParams
from labkit.engine.async_engine import AsyncLLMEngine
from labkit.engine.parts import reference_parts

# Imported here, by the grader, before the submission is loaded (see test_create_app.py).
reference_parts()

EXERCISES = ["engine_backend"]
TIMEOUT_S = 240
TEST_TIMEOUT_S = 90
MEMORY_MB = 8192

_REF = {}
PROMPTS = ["The KV cache", "Continuous batching means", "A short story:", "Paged attention"]


def short(value, limit=160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ref():
    if not _REF:
        from labkit.models import tiny_models
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        torch.set_num_threads(1)
        path = str(tiny_models(verbose=False).target)
        _REF.update(tok=AutoTokenizer.from_pretrained(path),
                    hf=AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval())
    return _REF


def new_engine() -> AsyncLLMEngine:
    r = ref()
    return AsyncLLMEngine(LLMEngine(r["hf"], tokenizer=r["tok"], max_model_len=512, kv_cache_memory_bytes=32 << 20))


@contextlib.contextmanager
def engine():
    """The grader's own engine, for the expected outputs."""
    eng = new_engine()
    try:
        yield eng
    finally:
        eng.shutdown()


@contextlib.contextmanager
def sandbox_engine(student):
    """The same engine, built inside the sandbox (where the student's adapter runs); a handle to it."""
    from labkit.models import tiny_models
    sb = student.__sandbox__
    path = str(tiny_models(verbose=False).target)
    tf = sb.import_module("transformers")
    tok = tf.AutoTokenizer.from_pretrained(path)
    hf = tf.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    eng = sb.import_module("labkit.engine.async_engine").AsyncLLMEngine(
        sb.import_module("labkit.engine").LLMEngine(hf, tokenizer=tok, max_model_len=512, kv_cache_memory_bytes=32 << 20))
    try:
        yield eng
    finally:
        eng.shutdown()


def run(coro):
    return asyncio.run(coro)


async def direct(eng, prompt, sp):
    """(text, token ids, finish_reason, prompt tokens) straight from the engine."""
    text, ids, finish, n_prompt = "", [], None, 0
    async for d in eng.generate_stream(prompt, sp):
        text += d.text
        ids += list(d.token_ids)
        n_prompt = len(d.output.prompt_token_ids)
        if d.finished:
            finish = d.finish_reason
    return text, ids, finish, n_prompt


def stream_of(student, backend, prompt, params, rid):
    """backend.generate(...) (a handle), checked inside the sandbox to be an async iterator."""
    gen = backend.generate(prompt, params, rid)
    builtins = student.__sandbox__.import_module("builtins")
    if not builtins.hasattr(gen, "__anext__"):
        fail_with("LabkitBackend.generate(prompt, params, request_id) should be an async generator "
                  f"(async def with yield); it returned {builtins.type(gen).__name__}")
    return gen


def via_backend(student, backend, prompt, params, rid):
    """The chunks of one stream, read to its end on one event loop inside the sandbox."""
    helpers = student.__sandbox__.helpers
    return helpers.run_async(helpers.collect_async, stream_of(student, backend, prompt, params, rid))


def summarize(chunks, what):
    text, ids, finishes, prompts = "", [], [], set()
    for i, c in enumerate(chunks):
        for attr in ("text", "token_ids", "finish_reason", "prompt_tokens"):
            if not hasattr(c, attr):
                fail_with(f"{what}: chunk {i} has no attribute {attr!r} (yield GenChunk objects)")
        text += str(c.text)
        ids += [int(t) for t in c.token_ids]
        finish = c.finish_reason
        finishes.append(None if finish is None else str(finish))
        prompts.add(as_int(c.prompt_tokens, f"{what}: chunk {i}.prompt_tokens"))
    return text, ids, finishes, prompts


def backend_of(student, eng):
    try:
        cls = student.LabkitBackend
    except AttributeError:
        cls = None
    if cls is None:
        fail_with("your engine_backend cell defines no LabkitBackend")
    return cls(eng)


@points(3)
def test_greedy_stream_matches_the_engine(student):
    """LabkitBackend.generate streams the engine's greedy tokens and text, with the prompt length"""
    with engine() as eng, sandbox_engine(student) as sb_eng:
        b = backend_of(student, sb_eng)
        for i, prompt in enumerate(PROMPTS[:3]):
            want = run(direct(eng, prompt, SamplingParams(max_tokens=12, temperature=0, ignore_eos=True)))
            chunks = via_backend(student, b, prompt, student.GenParams(max_tokens=12, ignore_eos=True), f"g{i}")
            what = f"generate({prompt!r}, GenParams(max_tokens=12, ignore_eos=True))"
            text, ids, finishes, prompts = summarize(chunks, what)
            if ids != want[1]:
                fail_with(f"{what}: token ids {short(ids)}; the engine generates {short(want[1])} "
                          f"(each token exactly once, in order)")
            if text != want[0]:
                fail_with(f"{what}: the chunks' text joins to {text!r}; the engine's text is {want[0]!r}")
            if prompts != {want[3]}:
                fail_with(f"{what}: prompt_tokens {sorted(prompts)}; the prompt has {want[3]} tokens")


@points(2)
def test_finish_reason_and_params(student):
    """finish_reason only on the last chunk; max_tokens, temperature, seed and ignore_eos reach the engine"""
    with engine() as eng, sandbox_engine(student) as sb_eng:
        b = backend_of(student, sb_eng)
        for mt in (1, 5):
            chunks = via_backend(student, b, "Once", student.GenParams(max_tokens=mt, ignore_eos=True), "f")
            text, ids, finishes, _ = summarize(chunks, f"generate('Once', max_tokens={mt})")
            if len(ids) != mt:
                fail_with(f"generate('Once', GenParams(max_tokens={mt}, ignore_eos=True)) produced {len(ids)} "
                          f"tokens")
            if not finishes or finishes[-1] != "length" or any(f is not None for f in finishes[:-1]):
                fail_with(f"generate('Once', GenParams(max_tokens={mt}, ignore_eos=True)): finish_reason per "
                          f"chunk is {finishes}; expected None on every chunk but the last, 'length' there")
        for seed in (3, 11):
            want = run(direct(eng, "Hello", SamplingParams(max_tokens=10, temperature=1.0, seed=seed,
                                                           ignore_eos=True)))
            chunks = via_backend(student, b, "Hello", student.GenParams(
                max_tokens=10, temperature=1.0, seed=seed, ignore_eos=True), "s")
            _, ids, _, _ = summarize(chunks, "sampling")
            if ids != want[1]:
                fail_with(f"generate('Hello', GenParams(temperature=1.0, seed={seed}, max_tokens=10)) gave "
                          f"{ids}; the engine with the same temperature and seed gives {want[1]}: pass "
                          f"temperature and seed on to SamplingParams")


@points(2)
def test_concurrent_and_cancelled(student):
    """16 concurrent streams lose nothing; closing a stream early frees its KV blocks"""
    with engine() as eng, sandbox_engine(student) as sb_eng:
        b = backend_of(student, sb_eng)
        sb = student.__sandbox__
        helpers = sb.helpers
        prompts = [f"{PROMPTS[i % 4]} {i}" for i in range(16)]
        wants = [run(direct(eng, p, SamplingParams(max_tokens=8, temperature=0, ignore_eos=True)))
                 for p in prompts[:4]]
        params = student.GenParams(max_tokens=8, ignore_eos=True)
        # 16 streams as concurrent tasks on one event loop inside the sandbox (the engine batches them)
        outcomes = helpers.concurrently([[helpers.collect_async, [stream_of(student, b, p, params, f"c{i}")], {}, 0]
                                         for i, p in enumerate(prompts)], 80.0)
        results = []
        for i, out in enumerate(outcomes):
            if "value" not in out:
                fail_with(f"with 16 concurrent generate() calls, stream {i} failed: {out.get('error')}: "
                          f"{short(out.get('message'), 200)}")
            results.append(out["value"])
        for i in range(4):
            _, ids, _, _ = summarize(results[i], f"concurrent stream {i}")
            if ids != wants[i][1]:
                fail_with(f"with 16 concurrent generate() calls, stream {i} produced {ids}; alone the engine "
                          f"produces {wants[i][1]}")
        for i, r in enumerate(results):
            n = len(summarize(r, f"concurrent stream {i}")[1])
            if n != 8:
                fail_with(f"with 16 concurrent generate() calls, stream {i} got {n} tokens, not 8")
        total = sb_eng.stats()["num_blocks"]
        gen = stream_of(student, b, "Tell me a long story " * 4, student.GenParams(max_tokens=460, ignore_eos=True), "x")
        sb_asyncio = sb.import_module("asyncio")

        async def cancel():
            # Every step below runs on the sandbox's own event loop (it stays open between steps, like a server's).
            n = 0
            async for _ in gen:
                n += 1
                if n == 2:
                    break
            await gen.aclose()
            # A closed stream is aborted within aclose(); 0.3 s is far less than the ~460 steps it asked for.
            for _ in range(30):
                s = sb_eng.stats()
                if s["num_free_blocks"] == total and s["num_running"] + s["num_waiting"] == 0:
                    return None
                await sb_asyncio.sleep(0.01)      # the sandbox's loop runs meanwhile
            return sb_eng.stats()

        s = run(cancel())
        if s is not None:
            fail_with(f"after reading 2 chunks of a 460-token stream and calling aclose() on it, the engine still "
                      f"holds {s['num_running'] + s['num_waiting']} request(s) and {total - s['num_free_blocks']} "
                      f"KV blocks 0.3 s later (it keeps generating): iterate engine.generate_stream directly in your generator, so closing "
                      f"it aborts the request")


class FakeBackend:
    """A scripted backend: chunks with several tokens, empty text, and the finish reason on the last one."""
    name = "fake"

    def __init__(self, script, prompt_tokens, finish):
        self.script, self.prompt_tokens, self.finish = script, prompt_tokens, finish
        self.calls = []

    async def generate(self, prompt, params, request_id):
        self.calls.append((prompt, request_id))
        for i, (text, ids) in enumerate(self.script):
            await asyncio.sleep(0)
            last = i == len(self.script) - 1
            yield _chunk(text, ids, self.finish if last else None, self.prompt_tokens)


_GenChunk = None


def _chunk(*args):
    return _GenChunk(*args)


def expected_completion(rid, model, created, text, finish, n_prompt, n_out):
    return {"id": rid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}}


def plain_json(obj):
    import json
    try:
        return json.loads(json.dumps(obj))
    except (TypeError, ValueError) as exc:
        fail_with(f"chat_completion returned something that is not JSON-serialisable: {exc}")


@points(2)
def test_chat_completion_any_backend(student):
    """chat_completion builds the exact OpenAI chat.completion with usage from any Backend"""
    global _GenChunk
    _GenChunk = student.GenChunk
    cases = [
        ([("Hel", [1, 2]), ("", [3]), ("lo", [4]), ("!", [5, 6, 7])], 17, "stop"),
        ([("x", [9])], 3, "length"),
        ([("", [5]), ("", [6])], 40, "length"),
    ]
    for script, n_prompt, finish in cases:
        fb = FakeBackend(script, n_prompt, finish)
        # The scripted backend stays in the grader: the student's coroutine (run inside the sandbox) calls it back.
        got = student.__sandbox__.helpers.run_async(student.chat_completion, fb, "prompt!",
                                                    student.GenParams(max_tokens=8), model="lab-model",
                                                    request_id="chatcmpl-abc", created=1234)
        want = expected_completion("chatcmpl-abc", "lab-model", 1234, "".join(t for t, _ in script), finish,
                                   n_prompt, sum(len(ids) for _, ids in script))
        got = plain_json(got)
        if got != want:
            fail_with(f"chat_completion over a backend that yields chunks {script} (prompt_tokens={n_prompt}, "
                      f"finish_reason {finish!r} on the last) returned {short(got, 400)}; expected {short(want, 400)}")
        if fb.calls != [("prompt!", "chatcmpl-abc")]:
            fail_with(f"chat_completion should call backend.generate(prompt, params, request_id) once; calls: "
                      f"{fb.calls}")


@points(1)
def test_chat_completion_over_labkit(student):
    """chat_completion over LabkitBackend reports the engine's text and usage"""
    global _GenChunk
    _GenChunk = student.GenChunk
    with engine() as eng, sandbox_engine(student) as sb_eng:
        b = backend_of(student, sb_eng)
        want = run(direct(eng, "The scheduler", SamplingParams(max_tokens=9, temperature=0, ignore_eos=True)))
        got = plain_json(student.__sandbox__.helpers.run_async(
            student.chat_completion, b, "The scheduler", student.GenParams(max_tokens=9, ignore_eos=True),
            model="m", request_id="chatcmpl-1", created=5))
        exp = expected_completion("chatcmpl-1", "m", 5, want[0], "length", want[3], 9)
        if got != exp:
            fail_with(f"chat_completion(LabkitBackend(engine), 'The scheduler', max_tokens=9) returned "
                      f"{short(got, 400)}; expected {short(exp, 400)}")
