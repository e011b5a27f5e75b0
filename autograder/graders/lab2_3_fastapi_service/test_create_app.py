"""Hidden grader: the LLM service app (Lab 2.3, notebook 01), started for real.

The app runs inside the sandbox behind a real uvicorn server on a unix socket (its lifespan included);
the grader talks to it with httpx (plain, concurrent) and with the official ``openai`` client.
Expected outputs come from the course's tiny model run directly with ``labkit`` and ``transformers``
inside this grader (greedy decoding, so they are deterministic).
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import math
import struct
import time
from contextlib import contextmanager

import httpx
import openai
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from autograder.api import fail_with, points
from labkit.engine import LLMEngine, SamplingParams
from labkit.engine.parts import reference_parts

# Imported here, by the grader, before the submission is loaded: the libraries rebind some of their own names
# on first import, and the engine's reference parts live in solutions/, which a submission may not import.
reference_parts()

EXERCISES = ["api_models", "create_app"]
TIMEOUT_S = 300
TEST_TIMEOUT_S = 100
MEMORY_MB = 8192

MAX_MODEL_LEN = 256
KV_BYTES = 16 << 20
_REF = {}


def short(value, limit=100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------- reference
def model_path() -> str:
    from labkit.models import tiny_models
    return str(tiny_models(verbose=False).target)


def reference():
    """Tokenizer, HF model and a synchronous labkit engine for the expected outputs (built once)."""
    if not _REF:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        torch.set_num_threads(1)
        path = model_path()
        tok = AutoTokenizer.from_pretrained(path)
        hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        _REF.update(tok=tok, hf=hf, engine=LLMEngine(hf, tokenizer=tok, max_model_len=MAX_MODEL_LEN,
                                                     kv_cache_memory_bytes=KV_BYTES))
    return _REF


def greedy(prompt: str, max_tokens: int):
    out = reference()["engine"].generate([prompt], SamplingParams(max_tokens=max_tokens, temperature=0))[0]
    return out.text, out.finish_reason, len(out.prompt_token_ids), len(out.token_ids)


def chat_prompt(messages) -> str:
    return reference()["tok"].apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def ref_embedding(text: str):
    ref = reference()
    with torch.inference_mode():
        ids = ref["tok"](text, return_tensors="pt")["input_ids"][:, :MAX_MODEL_LEN]
        vec = torch.nn.functional.normalize(ref["hf"].model(input_ids=ids).last_hidden_state[0].mean(0), dim=0)
    return [float(x) for x in vec], int(ids.shape[1])


# ---------------------------------------------------------------------------------------- the app
def make_app(student, **kwargs):
    kwargs.setdefault("max_model_len", MAX_MODEL_LEN)
    kwargs.setdefault("kv_cache_memory_bytes", KV_BYTES)
    try:
        app = student.create_app(model_path(), **kwargs)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"create_app(model_path, **{kwargs}) raised {type(exc).__name__}: {short(str(exc), 200)}")
    if not student.__sandbox__.import_module("builtins").callable(app):     # asked where the app lives
        fail_with(f"create_app(...) returned {short(app)}, expected a FastAPI app")
    return app


_SOCKETS = itertools.count()


@contextmanager
def served(student, app):
    """``app`` behind uvicorn inside the sandbox, on a unix socket; yields the socket's path as the grader sees
    it. Started and stopped without blocking the sandbox's main thread, so that the app's lifespan may call the
    grader's callables (a monkeypatched ``load_backend``) and they may call the student's code in turn."""
    sb = student.__sandbox__
    helpers = sb.helpers
    name = f"create-app-{next(_SOCKETS)}.sock"
    watch = helpers.LifespanWatch(app)
    srv = helpers.AppServer(watch, sb.inside_tmp(name), log_level="critical", access_log=False, lifespan="on")
    srv.thread.start()
    deadline = time.monotonic() + 60
    while not srv.server.started:
        if not srv.thread.is_alive():
            err = watch.report()["startup_error"]
            if err:
                fail_with(f"starting the app (its lifespan) raised {err[0]}: {short(err[1], 200)}")
            fail_with("uvicorn stopped while starting your app (did the lifespan raise?)")
        if time.monotonic() > deadline:
            fail_with("uvicorn did not finish starting your app within 60 s")
        time.sleep(0.05)
    try:
        yield sb.socket_path(name)
    finally:
        srv.server.should_exit = True
        deadline = time.monotonic() + 30
        while srv.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        err = watch.report()["shutdown_error"]
        if err:
            fail_with(f"stopping the app (the end of its lifespan) raised {err[0]}: {short(err[1])}")


def http_client(uds, timeout=90) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=uds), base_url="http://svc", timeout=timeout)


@contextmanager
def client(student, **kwargs):
    app = make_app(student, **kwargs)
    with served(student, app) as uds, http_client(uds) as tc:
        yield tc


@contextmanager
def uvicorn_server(student, **kwargs):
    """The app behind a real uvicorn server (in the sandbox); yields the unix socket's path."""
    app = make_app(student, **kwargs)
    with served(student, app) as uds:
        yield uds


def json_of(resp, what):
    try:
        return resp.json()
    except Exception:  # noqa: BLE001
        fail_with(f"{what} answered {resp.status_code} with a body that is not JSON: {short(resp.text)}")


def ok_json(resp, what):
    data = json_of(resp, what)
    if resp.status_code != 200:
        fail_with(f"{what} answered {resp.status_code} {short(data, 200)}, expected 200")
    return data


def check_error(resp, status: int, what: str):
    data = json_of(resp, what)
    if resp.status_code != status:
        fail_with(f"{what} answered {resp.status_code} {short(data, 200)}, expected {status}")
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        fail_with(f"{what} answered {status} with {short(data, 200)}; expected the OpenAI error shape "
                  '{"error": {"message", "type", "param", "code"}}')
    missing = {"message", "type", "param", "code"} - set(err)
    if missing:
        fail_with(f"{what}: the error object {short(err, 200)} has no key(s) {sorted(missing)}")
    if not (isinstance(err["message"], str) and err["message"]):
        fail_with(f"{what}: error.message should be a non-empty string, got {short(err['message'])}")
    if not (isinstance(err["type"], str) and err["type"]):
        fail_with(f"{what}: error.type should be a non-empty string such as 'BadRequestError', got {short(err['type'])}")
    if not (err["param"] is None or isinstance(err["param"], str)):
        fail_with(f"{what}: error.param should be a string or null, got {short(err['param'])}")
    if type(err["code"]) is not int or err["code"] != status:
        fail_with(f"{what}: error.code is {short(err['code'])}, expected the HTTP status {status} as an integer")


CHAT = [{"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is a KV cache?"}]


# ---------------------------------------------------------------------------------------- tests
@points(2)
def test_model_loaded_once_in_lifespan(student):
    """the model is loaded once, when the app starts (lifespan), not per request; it is shut down at the end"""
    real = student.load_backend
    loaded = []

    def counting_load(*args, **kwargs):
        backend = real(*args, **kwargs)
        stop = backend.shutdown
        record = {"shutdown": 0}

        def counting_shutdown():
            record["shutdown"] += 1
            return stop()
        backend.shutdown = counting_shutdown
        loaded.append(record)
        return backend

    student.load_backend = counting_load
    try:
        app = make_app(student)
        if loaded:
            fail_with(f"create_app(...) called load_backend {len(loaded)} time(s) itself; load the model in the "
                      "app's lifespan (when the server starts), not when the app object is built")
        with served(student, app) as uds, http_client(uds) as tc:
            if len(loaded) != 1:
                fail_with(f"after the app started (lifespan startup), load_backend had been called {len(loaded)} "
                          "time(s), expected exactly once")
            for _ in range(2):
                ok_json(tc.post("/generate", json={"prompt": "Hello", "max_tokens": 2, "temperature": 0}),
                        "POST /generate")
                ok_json(tc.post("/v1/chat/completions", json={"model": "lab-model", "messages": CHAT[1:],
                                                              "max_tokens": 2, "temperature": 0}),
                        "POST /v1/chat/completions")
            if len(loaded) != 1:
                fail_with(f"after 4 requests load_backend had been called {len(loaded)} times; load it once at "
                          "startup and reuse it")
            if loaded[0]["shutdown"]:
                fail_with("the backend was shut down while the app was still running")
        if loaded[0]["shutdown"] != 1:
            fail_with(f"when the app stopped, backend.shutdown() was called {loaded[0]['shutdown']} times, expected "
                      "once (after the lifespan's yield)")
    finally:
        student.load_backend = real


@points(1)
def test_health(student):
    """GET /health answers 200 with a JSON body once the app has started"""
    with client(student) as tc:
        ok_json(tc.get("/health"), "GET /health")


@points(2)
def test_generate_matches_the_engine(student):
    """POST /generate: greedy text, finish_reason and token counts equal the engine's own output"""
    with client(student) as tc:
        for prompt, n in [("Hello", 6), ("The scheduler picks", 10), ("KV", 1)]:
            data = ok_json(tc.post("/generate", json={"prompt": prompt, "max_tokens": n, "temperature": 0}),
                           f"POST /generate {{'prompt': {prompt!r}, 'max_tokens': {n}, 'temperature': 0}}")
            text, finish, n_prompt, n_out = greedy(prompt, n)
            want = {"text": text, "finish_reason": finish, "prompt_tokens": n_prompt, "completion_tokens": n_out}
            if not isinstance(data, dict) or {k: data.get(k) for k in want} != want:
                fail_with(f"POST /generate with prompt {prompt!r}, max_tokens {n}, temperature 0 returned "
                          f"{short(data, 250)}, expected {short(want, 250)}")


@points(2)
def test_chat_completion_format(student):
    """POST /v1/chat/completions: the OpenAI chat.completion object, greedy content, served model name, usage"""
    with client(student, served_model_name="grader-model") as tc:
        body = {"model": "grader-model", "messages": CHAT, "max_tokens": 7, "temperature": 0}
        data = ok_json(tc.post("/v1/chat/completions", json=body), "POST /v1/chat/completions")
        keys = {"id", "object", "created", "model", "choices", "usage"}
        if not isinstance(data, dict) or not keys <= set(data):
            fail_with(f"the chat completion {short(data, 250)} lacks key(s) {sorted(keys - set(data or {}))}")
        if data["object"] != "chat.completion":
            fail_with(f"object is {short(data['object'])}, expected 'chat.completion'")
        if not (isinstance(data["id"], str) and data["id"].startswith("chatcmpl-")):
            fail_with(f"id is {short(data['id'])}, expected a string starting with 'chatcmpl-'")
        if type(data["created"]) is not int or abs(data["created"] - time.time()) > 600:
            fail_with(f"created is {short(data['created'])}, expected the Unix time (integer seconds) of the request")
        if data["model"] != "grader-model":
            fail_with(f"model is {short(data['model'])}; expected the served_model_name given to create_app "
                      "('grader-model')")
        text, finish, n_prompt, n_out = greedy(chat_prompt(CHAT), 7)
        want_choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        choices = data["choices"]
        if not (isinstance(choices, list) and len(choices) == 1 and isinstance(choices[0], dict)):
            fail_with(f"choices is {short(choices, 250)}, expected a list with one choice")
        got = {k: choices[0].get(k) for k in want_choice}
        if got != want_choice:
            fail_with(f"choices[0] is {short(got, 250)}, expected {short(want_choice, 250)} (the chat template "
                      "applied with backend.chat_prompt, greedy decoding)")
        want_usage = {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}
        usage = data["usage"]
        if not isinstance(usage, dict) or {k: usage.get(k) for k in want_usage} != want_usage:
            fail_with(f"usage is {short(usage, 200)}, expected {want_usage}")
        second = ok_json(tc.post("/v1/chat/completions", json=body), "a second identical POST /v1/chat/completions")
        if second.get("id") == data["id"]:
            fail_with(f"two requests got the same id {data['id']!r}; every completion needs a unique id")


@points(2)
def test_embeddings(student):
    """POST /v1/embeddings: one normalised vector per input in order, float and base64 encodings, usage"""
    texts = ["paged attention", "a", "continuous batching keeps the GPU busy"]
    refs = [ref_embedding(t) for t in texts]
    with client(student) as tc:
        data = ok_json(tc.post("/v1/embeddings", json={"model": "lab-model", "input": texts}),
                       "POST /v1/embeddings with a list of 3 texts")
        items = data.get("data") if isinstance(data, dict) else None
        if data.get("object") != "list" or not isinstance(items, list) or len(items) != 3:
            fail_with(f"the answer {short(data, 200)} should be an object 'list' with 3 items in 'data'")
        for i, (item, (vec, _)) in enumerate(zip(items, refs)):
            if item.get("object") != "embedding" or item.get("index") != i:
                fail_with(f"data[{i}] has object={short(item.get('object'))}, index={short(item.get('index'))}; "
                          f"expected 'embedding' and {i} (items in the order of the inputs)")
            emb = item.get("embedding")
            if not (isinstance(emb, list) and len(emb) == len(vec)):
                fail_with(f"data[{i}].embedding should be a list of {len(vec)} floats, got {short(emb)}")
            err = max(abs(float(a) - b) for a, b in zip(emb, vec))
            if err > 1e-4:
                fail_with(f"data[{i}].embedding (for {texts[i]!r}) differs from backend.embed by up to {err:.3g}")
        want_tokens = sum(n for _, n in refs)
        usage = data.get("usage") or {}
        if usage.get("prompt_tokens") != want_tokens or usage.get("total_tokens") != want_tokens:
            fail_with(f"usage is {short(usage)}, expected prompt_tokens = total_tokens = {want_tokens} (the tokens "
                      "of all inputs)")
        one = ok_json(tc.post("/v1/embeddings", json={"model": "lab-model", "input": texts[0],
                                                      "encoding_format": "base64"}),
                      "POST /v1/embeddings with one string and encoding_format 'base64'")
        items = one.get("data") if isinstance(one, dict) else None
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0].get("embedding"), str):
            fail_with(f"with encoding_format 'base64' the answer {short(one, 200)} should hold one item whose "
                      "embedding is a base64 string")
        try:
            raw = base64.b64decode(items[0]["embedding"])
            vec = struct.unpack(f"<{len(raw) // 4}f", raw)
        except Exception:  # noqa: BLE001
            fail_with(f"the base64 embedding {short(items[0]['embedding'])} does not decode to float32 values")
        if len(vec) != len(refs[0][0]) or max(abs(a - b) for a, b in zip(vec, refs[0][0])) > 1e-4:
            fail_with("the base64 embedding does not decode (little-endian float32) to the same vector as the "
                      "float encoding")
        if not math.isclose(math.fsum(v * v for v in vec), 1.0, rel_tol=1e-3):
            fail_with("the decoded embedding is not L2-normalised")


BAD_REQUESTS = [
    ("POST", "/generate", {"prompt": "x", "temperature": -1}, 400, "a negative temperature"),
    ("POST", "/generate", {"prompt": "x", "max_tokens": 0}, 400, "max_tokens 0"),
    ("POST", "/generate", {"max_tokens": 4}, 400, "a body without prompt"),
    ("POST", "/generate", b'{"prompt": "x",', 400, "a body that is not valid JSON"),
    ("POST", "/v1/chat/completions", {"model": "lab-model", "messages": []}, 400, "an empty messages list"),
    ("POST", "/v1/chat/completions", {"model": "lab-model", "messages": [{"role": "robot", "content": "x"}]}, 400,
     "a message with role 'robot'"),
    ("POST", "/v1/chat/completions", {"model": "lab-model", "messages": CHAT, "top_p": 7}, 400, "top_p 7"),
    ("POST", "/v1/embeddings", {"model": "lab-model", "input": []}, 400, "an empty input list"),
]


def send(tc, method, path, body):
    if isinstance(body, bytes):
        return tc.request(method, path, content=body, headers={"content-type": "application/json"})
    return tc.request(method, path, json=body)


@points(2)
def test_invalid_input_gets_400_openai_errors(student):
    """invalid bodies (bounds, missing fields, bad JSON) are answered 400 in the OpenAI error shape"""
    with client(student) as tc:
        for method, path, body, status, what in BAD_REQUESTS:
            check_error(send(tc, method, path, body), status, f"{method} {path} with {what}")
        data = ok_json(tc.post("/generate", json={"prompt": "Hello", "max_tokens": 3, "temperature": 0}),
                       "POST /generate after the bad requests")
        if data.get("text") != greedy("Hello", 3)[0]:
            fail_with(f"after the bad requests POST /generate returned {short(data)}, not the engine's output")


@points(1)
def test_unknown_model_route_and_too_long_prompt(student):
    """an unknown model is 404, an unknown route is 404, a prompt longer than max_model_len is 400 (OpenAI shape)"""
    with client(student) as tc:
        check_error(tc.post("/v1/chat/completions", json={"model": "gpt-17", "messages": CHAT}), 404,
                    "POST /v1/chat/completions with model 'gpt-17' (not the served model)")
        check_error(tc.post("/v1/embeddings", json={"model": "gpt-17", "input": "x"}), 404,
                    "POST /v1/embeddings with model 'gpt-17'")
        check_error(tc.get("/v1/nothing-here"), 404, "GET /v1/nothing-here")
        long_prompt = "hello " * (2 * MAX_MODEL_LEN)
        check_error(tc.post("/generate", json={"prompt": long_prompt, "max_tokens": 2}), 400,
                    f"POST /generate with a prompt longer than max_model_len={MAX_MODEL_LEN}")
        check_error(tc.post("/v1/chat/completions", json={"model": "lab-model", "max_tokens": 2,
                                                          "messages": [{"role": "user", "content": long_prompt}]}),
                    400, f"POST /v1/chat/completions with a message longer than max_model_len={MAX_MODEL_LEN}")


@points(1)
def test_concurrent_requests_on_a_real_server(student):
    """16 concurrent requests to a real uvicorn server all get their own, correct greedy answers"""
    prompts = [f"Request {i}: the engine" for i in range(16)]
    lengths = [4 + i % 5 for i in range(16)]
    want = [greedy(p, n)[0] for p, n in zip(prompts, lengths)]

    async def go(uds):
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=uds), base_url="http://svc",
                                     timeout=60) as ac:
            calls = [ac.post("/generate", json={"prompt": p, "max_tokens": n, "temperature": 0})
                     for p, n in zip(prompts, lengths)]
            return await asyncio.gather(*calls)

    with uvicorn_server(student) as url:
        responses = asyncio.run(go(url))
    for i, resp in enumerate(responses):
        data = ok_json(resp, f"concurrent POST /generate #{i}")
        if data.get("text") != want[i]:
            fail_with(f"with 16 concurrent requests, request #{i} ({prompts[i]!r}) got {short(data.get('text'))}, "
                      f"expected {short(want[i])}")


@points(2)
def test_official_openai_client(student):
    """the official openai client works against a real uvicorn server: chat, embeddings, and its error classes"""
    with uvicorn_server(student) as url:
        cl = openai.OpenAI(base_url="http://svc/v1", api_key="not-needed", max_retries=0, timeout=60,
                           http_client=http_client(url, 60))
        try:
            resp = cl.chat.completions.create(model="lab-model", messages=CHAT, max_tokens=5, temperature=0)
        except Exception as exc:  # noqa: BLE001
            fail_with(f"client.chat.completions.create(...) raised {type(exc).__name__}: {short(str(exc), 200)}")
        text = greedy(chat_prompt(CHAT), 5)[0]
        if resp.choices[0].message.content != text or resp.usage is None or resp.usage.completion_tokens is None:
            fail_with(f"the openai client got content {short(resp.choices[0].message.content)} and usage "
                      f"{short(resp.usage)}; expected content {short(text)} with usage")
        try:
            emb = cl.embeddings.create(model="lab-model", input=["paged attention", "a"])
        except Exception as exc:  # noqa: BLE001
            fail_with(f"client.embeddings.create(...) (which asks for encoding_format='base64') raised "
                      f"{type(exc).__name__}: {short(str(exc), 200)}")
        vec = ref_embedding("a")[0]
        got = list(emb.data[1].embedding)
        if len(got) != len(vec) or max(abs(a - b) for a, b in zip(got, vec)) > 1e-4:
            fail_with("client.embeddings.create(input=['paged attention', 'a']).data[1].embedding is not the "
                      "embedding of 'a'")
        for kwargs, cls, what in [(dict(model="lab-model", messages=CHAT, temperature=-1), openai.BadRequestError,
                                   "temperature=-1"),
                                  (dict(model="gpt-17", messages=CHAT), openai.NotFoundError, "model='gpt-17'")]:
            try:
                cl.chat.completions.create(**kwargs)
            except cls as exc:
                if not (isinstance(exc.body, dict) and exc.body.get("message")):
                    fail_with(f"{cls.__name__} for {what} carries no error message (body {short(exc.body)})")
            except Exception as exc:  # noqa: BLE001
                fail_with(f"client.chat.completions.create({what}) raised {type(exc).__name__}, expected "
                          f"openai.{cls.__name__}")
            else:
                fail_with(f"client.chat.completions.create({what}) succeeded; expected openai.{cls.__name__}")
