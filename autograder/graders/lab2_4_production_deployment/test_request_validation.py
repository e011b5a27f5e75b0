"""Hidden grader: validation of raw chat-completion request bodies (Lab 2.4, notebook 04).

Expected outcomes come from the rules in the exercise's docstring, applied by hand to each body below;
the attack bodies are the ones a naive validator lets through (sizes counted in characters, bool as
int, NaN literals, deep nesting, secrets outside the last user message).
"""
from __future__ import annotations

import json

from autograder.api import fail_with, points

EXERCISES = ["request_validation"]
TIMEOUT_S = 60

LIMIT = 16_384


def raw_of(body) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8") if not isinstance(body, bytes) else body


def short(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return repr(text) if len(text) < 110 else repr(text[:60]) + f"...({len(raw)} bytes)"


def expect_code(student, body, code, what=None, name=None):
    raw = raw_of(body)
    what = what or short(raw)
    try:
        out = student.validate_chat_request(raw)
    except student.RequestRejected as exc:
        if exc.code != code:
            fail_with(f"validate_chat_request({what}) raised RequestRejected({exc.code!r}); expected {code!r}")
        if name is not None and name not in str(exc.detail):
            fail_with(f"validate_chat_request({what}) raised RequestRejected({code!r}) with detail {exc.detail!r}; "
                      f"the detail should name the pattern {name!r}")
        return
    except Exception as exc:
        fail_with(f"validate_chat_request({what}) raised {type(exc).__name__}: {str(exc)[:100]}; expected "
                  f"RequestRejected({code!r}), so the service answers 400 instead of 500")
    fail_with(f"validate_chat_request({what}) ACCEPTED the request (returned {str(out)[:80]}); expected "
              f"RequestRejected({code!r})")


def expect_ok(student, body, what=None):
    raw = raw_of(body)
    what = what or short(raw)
    try:
        out = student.validate_chat_request(raw)
    except Exception as exc:
        fail_with(f"validate_chat_request({what}) raised {type(exc).__name__}: {str(exc)[:120]}; the request is valid")
    if not isinstance(out, dict):
        fail_with(f"validate_chat_request({what}) returned {type(out).__name__}; expected the request as a dict")
    return out


def msgs(*contents, role="user"):
    return [{"role": role, "content": c} for c in contents]


def good(**over):
    body = {"model": "lab-model", "messages": msgs("Hello!")}
    body.update(over)
    return body


@points(1)
def test_valid_requests_are_normalised(student):
    """a valid request comes back with all five keys, defaults filled in, given values kept"""
    out = expect_ok(student, good())
    want = {"model": "lab-model", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 256,
            "temperature": 1.0, "stream": False}
    if out != want or sorted(out) != sorted(want):
        fail_with(f"validate_chat_request({short(raw_of(good()))}) returned {out}; expected {want}")
    body = {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                       {"role": "assistant", "content": "Hello"}, {"role": "user", "content": ""}],
            "max_tokens": 2048, "temperature": 0, "stream": True}
    out = expect_ok(student, body)
    if out != body or out["temperature"] != 0 or out["stream"] is not True:
        fail_with(f"validate_chat_request() of a request with every key set returned {out}; expected it unchanged")
    expect_ok(student, good(temperature=2.0, max_tokens=1))
    expect_ok(student, good(messages=msgs(*["x"] * 32)), "a request with 32 messages (the maximum)")
    expect_ok(student, good(messages=msgs("請用繁體中文回答 🙂")), "a request with CJK text and emoji")


@points(1)
def test_size_limit_counts_bytes_before_parsing(student):
    """bodies over MAX_BODY_BYTES bytes are too_large, counted in bytes, before JSON parsing"""
    base = raw_of(good(messages=msgs("")))
    pad = LIMIT - len(raw_of(good(messages=msgs("")))) 
    exact = raw_of(good(messages=msgs("a" * pad)))
    if len(exact) != LIMIT:
        fail_with("grader error: body size")
    expect_ok(student, exact, f"a valid body of exactly {LIMIT} bytes")
    expect_code(student, raw_of(good(messages=msgs("a" * (pad + 1)))), "too_large", f"a valid body of {LIMIT + 1} bytes")
    wide = raw_of(good(messages=msgs("é" * 6000)))        # 6000 characters, 12000+ bytes: still fits
    expect_ok(student, wide, f"a body of {len(wide)} bytes with 6000 'é'")
    wide = raw_of(good(messages=msgs("漢" * 8000)))       # 8000 characters, 24000+ bytes
    expect_code(student, wide, "too_large", f"a body of 8000 CJK characters ({len(wide)} bytes, but < {LIMIT} characters)")
    expect_code(student, b"{" * (LIMIT + 1), "too_large", f"{LIMIT + 1} bytes of invalid JSON (size comes first)")
    expect_code(student, b"\xff" * (LIMIT * 4), "too_large", f"{LIMIT * 4} bytes that are not even UTF-8")
    del base


@points(1)
def test_invalid_json_never_crashes(student):
    """non-UTF-8, non-JSON, NaN/Infinity literals and deeply nested bodies are invalid_json"""
    cases = [
        (b"\xff\xfe{}", "bytes that are not UTF-8"),
        (b'{"model": "m", "messages": [', "truncated JSON"),
        (b"", "an empty body"),
        (b"hello", "plain text"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', "temperature NaN"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}',
         "temperature Infinity"),
        (b"[" * 5000 + b"]" * 5000, "5000 nested arrays (10 kB)"),
        (b'{"a":' * 2500 + b"1" + b"}" * 2500, "2500 nested objects"),
    ]
    for raw, what in cases:
        expect_code(student, raw, "invalid_json", what)


SCHEMA_BAD = [
    (["model", "m"], "a JSON array at the top level"),
    ("just a string", "a JSON string at the top level"),
    ({"messages": msgs("hi")}, "no 'model'"),
    ({"model": "m"}, "no 'messages'"),
    (good(model=""), "an empty model name"),
    (good(model=7), "model 7"),
    (good(messages=[]), "an empty message list"),
    (good(messages=msgs(*["x"] * 33)), "33 messages"),
    (good(messages={"role": "user", "content": "hi"}), "messages as one object, not a list"),
    (good(messages=[{"role": "user", "content": "hi", "name": "x"}]), "a message with an extra key"),
    (good(messages=[{"role": "user"}]), "a message without content"),
    (good(messages=[{"role": "tool", "content": "hi"}]), "role 'tool'"),
    (good(messages=[{"role": "user", "content": None}]), "content null"),
    (good(messages=[{"role": "user", "content": ["hi"]}]), "content as a list"),
    (good(messages=["hi"]), "a message that is a string"),
    (good(max_tokens=True), "max_tokens true (a bool, not an int)"),
    (good(max_tokens=0), "max_tokens 0"),
    (good(max_tokens=2049), "max_tokens 2049"),
    (good(max_tokens=1.5), "max_tokens 1.5"),
    (good(max_tokens="100"), "max_tokens '100'"),
    (good(temperature=-0.1), "temperature -0.1"),
    (good(temperature=2.5), "temperature 2.5"),
    (good(temperature="1"), "temperature '1'"),
    (good(temperature=False), "temperature false"),
    (good(stream="yes"), "stream 'yes'"),
    (good(stream=1), "stream 1"),
    (good(tools=[]), "an unknown key 'tools'"),
    (good(max_tokens=None), "max_tokens null"),
]


@points(2)
def test_schema(student):
    """every schema violation in the docstring is invalid_schema"""
    for body, what in SCHEMA_BAD:
        expect_code(student, body, "invalid_schema", f"a body with {what}")


SECRETS = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "github_token": "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A",
    "openai_api_key": "sk-proj-" + "Abc123Def456Ghi789Jkl012",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",
}

NEAR_MISSES = [
    "Our AWS keys start with AKIA followed by 16 characters; never paste them here.",
    "AKIAIOSFODNN7EXAMP is too short to be a key id",
    "How do I generate a private key with openssl genpkey?",
    "The header looks like -----BEGIN PUBLIC KEY----- for public keys.",
    "ghp_ tokens are GitHub personal access tokens.",
    "Set OPENAI_API_KEY=sk-... in your environment.",
    "A JWT starts with eyJ because base64('{\"') = eyJ.",
    "skeleton-key-management is a risk-assessment topic",
]


@points(2)
def test_secret_filter(student):
    """a credential in any message (any role, any position) is secret_detected; look-alikes pass"""
    for name, secret in SECRETS.items():
        assert len(secret) < 2000
        expect_code(student, good(messages=msgs(f"here is my key: {secret} please debug")), "secret_detected",
                    f"a user message containing a {name}", name=name)
    multi = good(messages=[{"role": "system", "content": f"deploy with {SECRETS['aws_access_key_id']}"},
                           {"role": "user", "content": "What is the capital of France?"}])
    expect_code(student, multi, "secret_detected", "a SYSTEM message with an AWS key followed by a harmless user message",
                name="aws_access_key_id")
    multi = good(messages=msgs(f"token {SECRETS['github_token']}", "ok", "and now summarise"))
    expect_code(student, multi, "secret_detected", "a GitHub token in the first of three user messages",
                name="github_token")
    multi = good(messages=[{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": f"your key is {SECRETS['openai_api_key']}"},
                           {"role": "user", "content": "thanks"}])
    expect_code(student, multi, "secret_detected", "an API key in an assistant message", name="openai_api_key")
    for text in NEAR_MISSES:
        expect_ok(student, good(messages=msgs(text)), f"a message {text!r} (no credential)")
    expect_code(student, good(messages=msgs(SECRETS["jwt"]), max_tokens=0), "invalid_schema",
                "a body with a JWT in a message and max_tokens 0 (the schema is checked before secrets)")
