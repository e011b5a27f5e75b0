"""Hidden grader: the Pydantic request/response models of the LLM service (Lab 2.3, notebook 01).

Requests are validated the way a client's JSON body arrives (``Model.model_validate(dict)``);
responses are built from keyword arguments and dumped with ``model_dump()``, the dict FastAPI sends.
"""
from __future__ import annotations

import json

from autograder.api import fail_with, points
from autograder.remote import StudentError

EXERCISES = ["api_models"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30


def short(value, limit=90) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def model(student, name):
    try:
        cls = getattr(student, name)
    except AttributeError:
        cls = None
    if cls is None:
        fail_with(f"no class named {name} in your api_models cell")
    # Asked inside the sandbox, where the class lives: is it a class derived from pydantic's BaseModel?
    sb = student.__sandbox__
    builtins = sb.import_module("builtins")
    if not (builtins.isinstance(cls, builtins.type) and builtins.issubclass(cls, sb.import_module("pydantic").BaseModel)):
        fail_with(f"{name} should be a pydantic BaseModel subclass, got {short(cls)}")
    return cls


def is_validation_error(student, exc) -> bool:
    """Is ``exc`` (raised by the student's code) a pydantic ValidationError? Asked inside the sandbox about the
    original exception object (the grader-side copy of a pydantic error is not an instance of a mirror class)."""
    remote = exc.__dict__.get("remote") if isinstance(exc, StudentError) else None
    if remote is None:
        return False
    sb = student.__sandbox__
    return bool(sb.import_module("builtins").isinstance(remote, sb.import_module("pydantic").ValidationError))


def error_text(exc) -> str:
    return str(getattr(exc, "message_text", "") or exc)


def accepts(student, name, body):
    cls = model(student, name)
    try:
        return cls.model_validate(body)
    except Exception as exc:  # noqa: BLE001
        if not is_validation_error(student, exc):
            raise
        fail_with(f"{name}.model_validate({short(body)}) raised ValidationError on a valid body: "
                  f"{short(error_text(exc).splitlines()[1:3], 160)}")


def rejects(student, name, body, why):
    cls = model(student, name)
    try:
        obj = cls.model_validate(body)
    except Exception as exc:  # noqa: BLE001
        if is_validation_error(student, exc):
            return
        fail_with(f"{name}.model_validate({short(body)}) raised {type(exc).__name__}, expected a pydantic "
                  "ValidationError (FastAPI turns only that into a 4xx answer)")
    fail_with(f"{name}.model_validate({short(body)}) was accepted ({short(obj)}) but {why}")


def dumped(obj, what):
    try:
        data = obj.model_dump()
        return json.loads(json.dumps(data))
    except Exception as exc:  # noqa: BLE001
        fail_with(f"{what}.model_dump() could not be turned into JSON: {type(exc).__name__}: {short(str(exc))}")


def build(student, name, **kwargs):
    cls = model(student, name)
    try:
        return cls(**kwargs)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"{name}({', '.join(f'{k}={short(v, 40)}' for k, v in kwargs.items())}) raised "
                  f"{type(exc).__name__}: {short(str(exc), 200)}")


MSG = [{"role": "user", "content": "Hi"}]


@points(2)
def test_generate_request_defaults_and_bounds(student):
    """GenerateRequest: defaults (max_tokens 16, temperature 1, top_p 1, seed None) and the documented bounds"""
    req = accepts(student, "GenerateRequest", {"prompt": "Hello"})
    got = {k: getattr(req, k, "<missing>") for k in ("prompt", "max_tokens", "temperature", "top_p", "seed")}
    want = {"prompt": "Hello", "max_tokens": 16, "temperature": 1.0, "top_p": 1.0, "seed": None}
    if got != want:
        fail_with(f"GenerateRequest(prompt='Hello') has fields {got}, expected the defaults {want}")
    for body in [{"prompt": "x", "temperature": 0}, {"prompt": "x", "temperature": 2}, {"prompt": "x", "top_p": 1},
                 {"prompt": "x", "max_tokens": 1, "seed": 7}, {"prompt": "x", "top_p": 0.01}]:
        accepts(student, "GenerateRequest", body)
    for body, why in [({}, "prompt is required"), ({"prompt": ""}, "an empty prompt must be rejected"),
                      ({"prompt": "x", "max_tokens": 0}, "max_tokens must be at least 1"),
                      ({"prompt": "x", "max_tokens": -5}, "max_tokens must be at least 1"),
                      ({"prompt": "x", "temperature": -0.1}, "temperature must be >= 0"),
                      ({"prompt": "x", "temperature": 2.5}, "temperature must be <= 2"),
                      ({"prompt": "x", "top_p": 0}, "top_p must be > 0"),
                      ({"prompt": "x", "top_p": 1.5}, "top_p must be <= 1"),
                      ({"prompt": "x", "max_tokens": "many"}, "max_tokens must be an integer"),
                      ({"prompt": ["a", "b"]}, "prompt must be a string")]:
        rejects(student, "GenerateRequest", body, why)


@points(2)
def test_chat_request_validation(student):
    """ChatCompletionRequest: model and a non-empty messages list required, roles checked, same sampling bounds"""
    req = accepts(student, "ChatCompletionRequest", {"model": "m", "messages": MSG})
    for key, want in [("max_tokens", None), ("temperature", 1.0), ("top_p", 1.0), ("seed", None), ("stream", False)]:
        got = getattr(req, key, "<missing>")
        if got != want or type(got) is not type(want):
            fail_with(f"ChatCompletionRequest without {key} has {key}={short(got)}, expected {want!r}")
    msgs = getattr(req, "messages", None)
    try:
        first = msgs[0]
        role, content = first.role, first.content
    except Exception:  # noqa: BLE001
        fail_with(f"ChatCompletionRequest.messages should be a list of ChatMessage objects (.role, .content), "
                  f"got {short(msgs)}")
    if (role, content) != ("user", "Hi"):
        fail_with(f"messages[0] has role={role!r}, content={content!r}; expected 'user', 'Hi'")
    conv = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "More"}]
    accepts(student, "ChatCompletionRequest", {"model": "m", "messages": conv, "max_tokens": 1, "temperature": 0,
                                               "stream": True, "seed": 3})
    for body, why in [({"messages": MSG}, "model is required"),
                      ({"model": "m"}, "messages is required"),
                      ({"model": "m", "messages": []}, "messages must not be empty"),
                      ({"model": "m", "messages": [{"role": "robot", "content": "x"}]},
                       "role must be system, user or assistant"),
                      ({"model": "m", "messages": [{"role": "user"}]}, "a message needs content"),
                      ({"model": "m", "messages": MSG, "max_tokens": 0}, "max_tokens must be at least 1"),
                      ({"model": "m", "messages": MSG, "temperature": -1}, "temperature must be >= 0"),
                      ({"model": "m", "messages": MSG, "temperature": 2.01}, "temperature must be <= 2"),
                      ({"model": "m", "messages": MSG, "top_p": 0}, "top_p must be > 0"),
                      ({"model": "m", "messages": "Hi"}, "messages must be a list of message objects")]:
        rejects(student, "ChatCompletionRequest", body, why)


@points(1)
def test_embedding_request_validation(student):
    """EmbeddingRequest: input is a string or a non-empty list of non-empty strings; encoding float or base64"""
    for body in [{"model": "m", "input": "hello"}, {"model": "m", "input": ["a", "b c"]},
                 {"model": "m", "input": "x", "encoding_format": "base64"}]:
        accepts(student, "EmbeddingRequest", body)
    req = accepts(student, "EmbeddingRequest", {"model": "m", "input": "hello"})
    if getattr(req, "encoding_format", None) != "float":
        fail_with(f"EmbeddingRequest without encoding_format has encoding_format="
                  f"{short(getattr(req, 'encoding_format', '<missing>'))}, expected 'float'")
    for body, why in [({"input": "x"}, "model is required"), ({"model": "m"}, "input is required"),
                      ({"model": "m", "input": []}, "an empty input list must be rejected"),
                      ({"model": "m", "input": ""}, "an empty string must be rejected"),
                      ({"model": "m", "input": ["ok", ""]}, "an empty string inside the list must be rejected"),
                      ({"model": "m", "input": "x", "encoding_format": "int8"},
                       "encoding_format must be 'float' or 'base64'")]:
        rejects(student, "EmbeddingRequest", body, why)


@points(2)
def test_response_shapes(student):
    """responses dump to the OpenAI shapes: chat.completion, list of embedding objects, usage, error envelope"""
    usage = build(student, "UsageInfo", prompt_tokens=5, completion_tokens=3, total_tokens=8)
    msg = build(student, "ChatMessage", role="assistant", content="Hello")
    choice = build(student, "ChatChoice", index=0, message=msg, finish_reason="stop")
    resp = build(student, "ChatCompletionResponse", id="chatcmpl-1", created=1700000000, model="m",
                 choices=[choice], usage=usage)
    want = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}
    got = dumped(resp, "ChatCompletionResponse")
    if got != want:
        fail_with(f"ChatCompletionResponse(...).model_dump() is {short(got, 300)}, expected {short(want, 300)} "
                  "(object defaults to 'chat.completion')")

    emb = build(student, "EmbeddingResponse", model="m",
                data=[build(student, "EmbeddingData", index=0, embedding=[0.5, -0.25]),
                      build(student, "EmbeddingData", index=1, embedding="AAAAPw==")],
                usage=build(student, "UsageInfo", prompt_tokens=4, total_tokens=4))
    want = {"object": "list", "model": "m",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
                     {"object": "embedding", "index": 1, "embedding": "AAAAPw=="}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 0, "total_tokens": 4}}
    got = dumped(emb, "EmbeddingResponse")
    if got != want:
        fail_with(f"EmbeddingResponse(...).model_dump() is {short(got, 300)}, expected {short(want, 300)} "
                  "(object 'list', each item object 'embedding'; an embedding is a list of floats or a base64 "
                  "string; UsageInfo.completion_tokens defaults to 0)")

    err = build(student, "ErrorResponse", error=build(student, "ErrorInfo", message="bad temperature",
                                                        type="BadRequestError", code=400))
    want = {"error": {"message": "bad temperature", "type": "BadRequestError", "param": None, "code": 400}}
    got = dumped(err, "ErrorResponse")
    if got != want:
        fail_with(f"ErrorResponse(error=ErrorInfo(message=..., type=..., code=400)).model_dump() is {short(got, 200)}, "
                  f"expected {want} (param defaults to None and is kept in the JSON)")

    gen = build(student, "GenerateResponse", text="hi", finish_reason="length", prompt_tokens=2, completion_tokens=1)
    want = {"text": "hi", "finish_reason": "length", "prompt_tokens": 2, "completion_tokens": 1}
    got = dumped(gen, "GenerateResponse")
    if got != want:
        fail_with(f"GenerateResponse(...).model_dump() is {short(got)}, expected {want}")


@points(1)
def test_response_fields_validated(student):
    """response models reject what the API never sends: unknown finish_reason or role, negative token counts"""
    msg = build(student, "ChatMessage", role="assistant", content="x")
    for name, kwargs, why in [
        ("ChatChoice", dict(index=0, message=msg, finish_reason="banana"), "finish_reason must be 'stop' or 'length'"),
        ("GenerateResponse", dict(text="x", finish_reason="eos", prompt_tokens=1, completion_tokens=1),
         "finish_reason must be 'stop' or 'length'"),
        ("ChatMessage", dict(role="bot", content="x"), "role must be system, user or assistant"),
        ("UsageInfo", dict(prompt_tokens=-1, completion_tokens=0, total_tokens=0), "token counts are >= 0"),
        ("GenerateResponse", dict(text="x", finish_reason="stop", prompt_tokens=1, completion_tokens=-2),
         "token counts are >= 0"),
    ]:
        rejects(student, name, kwargs, why)
