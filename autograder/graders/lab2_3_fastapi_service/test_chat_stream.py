"""Hidden grader: the OpenAI chat.completion.chunk stream (Lab 2.3, notebook 02), served for real.

The student's generator is served by the course's streaming app (the notebook's setup cell) behind a real
uvicorn server inside the sandbox, on a unix socket that the grader's HTTP clients connect to. Every stream is compared event by event with the reference format, built here from the
labkit engine's own per-token deltas (greedy decoding, so they are deterministic).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from contextlib import contextmanager

import httpx
import openai
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from autograder.api import fail_with, points
from labkit.engine import LLMEngine, SamplingParams
from labkit.engine.async_engine import AsyncLLMEngine
from labkit.engine.parts import reference_parts

# Imported here, by the grader, before the submission is loaded (see test_create_app.py).
reference_parts()

EXERCISES = ["chat_stream"]
TIMEOUT_S = 300
TEST_TIMEOUT_S = 100
MEMORY_MB = 8192

MAX_MODEL_LEN = 2048   # the tiny model's full context: the disconnect test needs streams far longer than the wait
LONG_STREAM = 1900     # tokens; ~4 s of generation even on an idle machine, so a leaked generation is still running
KV_BYTES = 32 << 20
MSGS = [{"role": "user", "content": "What does the scheduler do?"}]
_REF = {}


def short(value, limit=160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def model_path() -> str:
    from labkit.models import tiny_models
    return str(tiny_models(verbose=False).target)


def reference():
    if not _REF:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        torch.set_num_threads(1)
        tok = AutoTokenizer.from_pretrained(model_path())
        hf = AutoModelForCausalLM.from_pretrained(model_path(), dtype=torch.float32).eval()
        _REF.update(tok=tok, hf=hf)
    return _REF


def new_engine() -> AsyncLLMEngine:
    ref = reference()
    return AsyncLLMEngine(LLMEngine(ref["hf"], tokenizer=ref["tok"], max_model_len=MAX_MODEL_LEN,
                                    kv_cache_memory_bytes=KV_BYTES))


def chat_prompt(messages) -> str:
    return reference()["tok"].apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def reference_deltas(messages, max_tokens):
    """(content pieces, finish_reason, prompt_tokens, completion_tokens) of a greedy run, one piece per delta."""
    key = (json.dumps(messages), max_tokens)
    if key not in _REF:
        engine = new_engine()

        async def go():
            pieces, finish, n_prompt, n_out = [], None, 0, 0
            async for d in engine.generate_stream(chat_prompt(messages), SamplingParams(max_tokens=max_tokens,
                                                                                         temperature=0)):
                n_prompt = len(d.output.prompt_token_ids)
                n_out += len(d.token_ids)
                if d.text:
                    pieces.append(d.text)
                if d.finished:
                    finish = d.finish_reason
            return pieces, finish, n_prompt, n_out
        try:
            _REF[key] = asyncio.run(go())
        finally:
            engine.shutdown()
    return _REF[key]


def expected_events(messages, max_tokens, include_usage):
    pieces, finish, n_prompt, n_out = reference_deltas(messages, max_tokens)

    def chunk(delta, fr=None):
        obj = {"object": "chat.completion.chunk", "model": "lab-model",
               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": fr}]}
        if include_usage:
            obj["usage"] = None
        return obj
    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in pieces]
    events.append(chunk({}, finish))
    if include_usage:
        events.append({"object": "chat.completion.chunk", "model": "lab-model", "choices": [],
                       "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_out,
                                 "total_tokens": n_prompt + n_out}})
    return events


# ---------------------------------------------------------------------------------------- server
_SOCKETS = itertools.count()


@contextmanager
def server(student):
    """The course's streaming app serving the student's generator, behind uvicorn in the sandbox on a unix
    socket; yields (socket path as the grader sees it, handle to the app)."""
    try:
        fn = student.stream_chat_completion
    except AttributeError:
        fn = None
    if fn is None:
        fail_with("your chat_stream cell defines no stream_chat_completion")
    sb = student.__sandbox__
    app = student.make_stream_app(model_path(), fn, max_model_len=MAX_MODEL_LEN, kv_cache_memory_bytes=KV_BYTES)
    name = f"chat-stream-{next(_SOCKETS)}.sock"
    srv = sb.helpers.serve_app(app, sb.inside_tmp(name), 60.0, log_level="critical", access_log=False)
    if srv is None:
        fail_with("the streaming app did not start")
    try:
        yield sb.socket_path(name), app
    finally:
        srv.stop()


def async_client(uds, timeout, **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=uds, **kwargs), base_url="http://svc",
                             timeout=timeout)


def sandbox_engine(student):
    """A labkit AsyncLLMEngine on the tiny model, built inside the sandbox (where the student's generator runs)."""
    sb = student.__sandbox__
    tf = sb.import_module("transformers")
    tok = tf.AutoTokenizer.from_pretrained(model_path())
    hf = tf.AutoModelForCausalLM.from_pretrained(model_path(), dtype=torch.float32).eval()
    eng = sb.import_module("labkit.engine")
    return sb.import_module("labkit.engine.async_engine").AsyncLLMEngine(
        eng.LLMEngine(hf, tokenizer=tok, max_model_len=MAX_MODEL_LEN, kv_cache_memory_bytes=KV_BYTES))


def body(messages, max_tokens, include_usage=False):
    b = {"model": "lab-model", "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True}
    if include_usage:
        b["stream_options"] = {"include_usage": True}
    return b


async def fetch(ac, payload) -> str:
    async with ac.stream("POST", "/v1/chat/completions", json=payload) as resp:
        text = "".join([piece async for piece in resp.aiter_text()])
        if resp.status_code != 200:
            fail_with(f"the stream request answered {resp.status_code}: {short(text)}")
        return text


def get_stream(url, payload) -> str:
    async def go():
        async with async_client(url, 60) as ac:
            return await fetch(ac, payload)
    return asyncio.run(go())


def parse(text: str, what: str):
    """The JSON objects of an SSE body in the strict 'data: <json>\\n\\n' form, and whether [DONE] ended it."""
    if not text.endswith("data: [DONE]\n\n"):
        fail_with(f"{what}: the body should end with 'data: [DONE]' and a blank line; it ends with {short(text[-60:])}")
    blocks = text[: -len("data: [DONE]\n\n")].split("\n\n")
    if blocks and blocks[-1] == "":
        blocks.pop()
    events = []
    for k, block in enumerate(blocks):
        if not block.startswith("data: ") or "\n" in block:
            fail_with(f"{what}: event {k} is {short(block)}; every event is one line 'data: <json>' followed by a "
                      "blank line")
        payload = block[len("data: "):]
        if payload == "[DONE]":
            fail_with(f"{what}: [DONE] appears before the end of the stream (event {k})")
        try:
            events.append(json.loads(payload))
        except json.JSONDecodeError:
            fail_with(f"{what}: event {k} is not JSON: {short(payload)}")
    return events


def compare(events, want, what, include_usage):
    if not events:
        fail_with(f"{what}: the stream has no events before [DONE]")
    first = events[0]
    rid, created = first.get("id"), first.get("created")
    if not (isinstance(rid, str) and rid.startswith("chatcmpl-")):
        fail_with(f"{what}: the chunk id is {short(rid)}; expected the request id given to your generator")
    if type(created) is not int:
        fail_with(f"{what}: created is {short(created)}, expected the integer given to your generator")
    for k, ev in enumerate(events):
        if not isinstance(ev, dict):
            fail_with(f"{what}: event {k} is {short(ev)}, expected a JSON object")
        if ev.get("id") != rid or ev.get("created") != created:
            fail_with(f"{what}: event {k} has id {short(ev.get('id'))} and created {short(ev.get('created'))}; every "
                      "chunk of a stream carries the same id and created")
    got = [{k: v for k, v in ev.items() if k not in ("id", "created")} for ev in events]
    if not include_usage:
        got = [{k: v for k, v in ev.items() if not (k == "usage" and v is None)} for ev in got]
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            fail_with(f"{what}: event {k} is {short(g, 300)}, expected {short(w, 300)}")
    if len(got) != len(want):
        extra = got[len(want):] or want[len(got):]
        fail_with(f"{what}: {len(got)} events before [DONE], expected {len(want)} (role chunk, one chunk per "
                  f"engine delta with text, the finish_reason chunk{', the usage chunk' if include_usage else ''}); "
                  f"first difference: {short(extra[0], 200)}")


# ---------------------------------------------------------------------------------------- tests
@points(3)
def test_events_match_the_reference(student):
    """role chunk, one content chunk per engine delta, a finish_reason chunk, [DONE]: event by event"""
    with server(student) as (url, _):
        for msgs, n in [(MSGS, 12), ([{"role": "user", "content": "一個 KV cache block"}], 9)]:
            what = f"stream for {short(msgs[0]['content'], 40)} with max_tokens {n}"
            compare(parse(get_stream(url, body(msgs, n)), what), expected_events(msgs, n, False), what, False)


@points(2)
def test_include_usage(student):
    """stream_options.include_usage: usage null on every chunk, then a final chunk with no choices and the usage"""
    with server(student) as (url, _):
        what = "stream with stream_options.include_usage=true"
        events = parse(get_stream(url, body(MSGS, 10, True)), what)
        compare(events, expected_events(MSGS, 10, True), what, True)


@points(1)
def test_sse_framing_and_done(student):
    """each event is one 'data: <json>' line and a blank line; the stream ends with 'data: [DONE]'"""
    with server(student) as (url, _):
        text = get_stream(url, body(MSGS, 4))
        parse(text, "stream with max_tokens 4")
        if text.count("data: [DONE]") != 1:
            fail_with("the stream contains 'data: [DONE]' more than once")


@points(1)
def test_official_openai_client(student):
    """the official openai client reads the stream: same text, finish_reason and usage"""
    pieces, finish, n_prompt, n_out = reference_deltas(MSGS, 12)
    with server(student) as (url, _):
        http = httpx.Client(transport=httpx.HTTPTransport(uds=url), base_url="http://svc", timeout=60)
        cl = openai.OpenAI(base_url="http://svc/v1", api_key="x", max_retries=0, timeout=60, http_client=http)
        try:
            stream = cl.chat.completions.create(model="lab-model", messages=MSGS, max_tokens=12, temperature=0,
                                                stream=True, stream_options={"include_usage": True})
            text, fr, usage = "", None, None
            for ch in stream:
                if ch.choices:
                    text += ch.choices[0].delta.content or ""
                    fr = ch.choices[0].finish_reason or fr
                if ch.usage is not None:
                    usage = ch.usage
        except Exception as exc:  # noqa: BLE001
            fail_with(f"the openai client failed on your stream: {type(exc).__name__}: {short(str(exc))}")
    if text != "".join(pieces) or fr != finish:
        fail_with(f"the openai client read text {short(text)} and finish_reason {fr!r}; expected "
                  f"{short(''.join(pieces))} and {finish!r}")
    if usage is None or (usage.prompt_tokens, usage.completion_tokens) != (n_prompt, n_out):
        fail_with(f"the openai client read usage {short(usage)}, expected prompt_tokens={n_prompt}, "
                  f"completion_tokens={n_out}")


@points(2)
def test_32_concurrent_streams(student):
    """32 concurrent streams: every stream has exactly its own tokens, none lost or duplicated"""
    convs = [[{"role": "user", "content": f"Question {i}: how does paging work?"}] for i in range(32)]
    lengths = [6 + i % 7 for i in range(32)]
    wants = [expected_events(m, n, i % 2 == 1) for i, (m, n) in enumerate(zip(convs, lengths))]

    async def go(url):
        async with async_client(url, 120, limits=httpx.Limits(max_connections=64)) as ac:
            return await asyncio.gather(*[fetch(ac, body(m, n, i % 2 == 1))
                                          for i, (m, n) in enumerate(zip(convs, lengths))])

    with server(student) as (url, _):
        texts = asyncio.run(go(url))
    ids = set()
    for i, text in enumerate(texts):
        what = f"concurrent stream #{i} of 32"
        events = parse(text, what)
        compare(events, wants[i], what, i % 2 == 1)
        ids.add(events[0]["id"])
    if len(ids) != 32:
        fail_with(f"32 concurrent streams used only {len(ids)} distinct ids")


def wait_all_free(get_stats, seconds=2.0):
    deadline = time.monotonic() + seconds
    while True:
        s = get_stats()
        if s["num_requests"] == 0 and s["num_free_blocks"] == s["num_blocks"]:
            return None
        if time.monotonic() > deadline:
            return s
        time.sleep(0.05)


@points(2)
def test_disconnect_frees_kv_blocks(student):
    """a client that disconnects mid-stream (or a closed generator) stops generation and frees its KV blocks"""
    # 1. the generator on its own: aclose() after three events
    engine = sandbox_engine(student)     # next to the student's generator

    def stats():
        s = engine.stats()
        return {"num_free_blocks": s["num_free_blocks"], "num_blocks": s["num_blocks"],
                "num_requests": s["num_waiting"] + s["num_running"]}

    params = student.__sandbox__.import_module("labkit.engine").SamplingParams(max_tokens=LONG_STREAM, temperature=0,
                                                                              ignore_eos=True)

    try:
        gen = student.stream_chat_completion(engine, chat_prompt(MSGS), params,
                                             model="lab-model", request_id="chatcmpl-grader", created=1,
                                             include_usage=False)
        # On one event loop in the sandbox (run to its end, as asyncio.run does): three events, then aclose().
        student.__sandbox__.helpers.run_async(student.__sandbox__.helpers.collect_async, gen, 3)
        left = wait_all_free(stats, 1.0)
    finally:
        engine.shutdown()
    if left is not None:
        fail_with(f"after reading 3 events and closing your generator (max_tokens {LONG_STREAM}), the engine still holds "
                  f"{left['num_requests']} request(s) and {left['num_blocks'] - left['num_free_blocks']} KV block(s); "
                  "generation must stop when the consumer goes away")

    # 2. over HTTP: the client closes the connection after three events
    async def disconnect(url):
        async with async_client(url, 60) as ac:
            async with ac.stream("POST", "/v1/chat/completions", json={**body(MSGS, LONG_STREAM), "ignore_eos": True}) as resp:
                seen = 0
                async for line in resp.aiter_lines():
                    if line.startswith("data: "):
                        seen += 1
                        if seen == 3:
                            break
        # leaving the blocks closes the connection

    with server(student) as (url, app):
        asyncio.run(disconnect(url))
        left = wait_all_free(app.state.backend.kv_stats, 1.0)
    if left is not None:
        fail_with(f"1 s after the client disconnected from a stream with max_tokens {LONG_STREAM}, the engine still holds "
                  f"{left['num_requests']} request(s) and {left['num_blocks'] - left['num_free_blocks']} KV block(s)")
