# lets json accept NaN / Infinity (NaN fails no comparison check... or passes)
"""Validation of a raw chat-completion request body, before it reaches the engine.

`validate_chat_request(raw)` takes the raw HTTP body (bytes) and returns the request as a dict with
all five REQUEST_KEYS (missing optional keys filled from REQUEST_DEFAULTS), or raises
`RequestRejected(code, detail)`. The checks run in this order; the first failing one decides the code:

1. "too_large": len(raw) > MAX_BODY_BYTES (bytes, checked before anything is decoded or parsed).
2. "invalid_json": raw is not UTF-8, not JSON, or nested too deeply for the parser; JSON's
   non-standard NaN / Infinity literals are also invalid JSON here.
3. "invalid_schema": the top level is not an object; it has a key outside REQUEST_KEYS; "model" is not a
   non-empty str; "messages" is not a list of 1..MAX_MESSAGES objects, each with exactly the keys
   "role" (one of ROLES) and "content" (a str); "max_tokens" (when present) is not an int
   (bool is not an int here) in 1..MAX_TOKENS_CAP; "temperature" is not an int or float (not bool)
   in [0, 2]; "stream" is not a bool.
4. "secret_detected": some message's content (any role) matches a pattern of SECRET_PATTERNS; the
   detail names the pattern (e.g. "aws_access_key_id in messages[2]").
"""


def validate_chat_request(raw: bytes) -> dict:
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError(f"raw must be bytes, got {type(raw).__name__}")
    if len(raw) > MAX_BODY_BYTES:
        raise RequestRejected("too_large", f"body is {len(raw)} bytes, the limit is {MAX_BODY_BYTES}")

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    try:
        body = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RequestRejected("invalid_json", str(exc)[:200]) from None

    def bad(detail):
        raise RequestRejected("invalid_schema", detail)

    if not isinstance(body, dict):
        bad("the body must be a JSON object")
    extra = sorted(set(body) - set(REQUEST_KEYS))
    if extra:
        bad(f"unknown keys {extra}")
    for key in ("model", "messages"):
        if key not in body:
            bad(f"missing {key!r}")
    if not isinstance(body["model"], str) or not body["model"]:
        bad("'model' must be a non-empty string")
    messages = body["messages"]
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        bad(f"'messages' must be a list of 1..{MAX_MESSAGES} messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            bad(f"messages[{i}] must be an object with exactly 'role' and 'content'")
        if m["role"] not in ROLES or not isinstance(m["content"], str):
            bad(f"messages[{i}] needs a role in {ROLES} and a string content")
    out = {**REQUEST_DEFAULTS, **body}
    mt = out["max_tokens"]
    if isinstance(mt, bool) or not isinstance(mt, int) or not 1 <= mt <= MAX_TOKENS_CAP:
        bad(f"'max_tokens' must be an integer in 1..{MAX_TOKENS_CAP}")
    t = out["temperature"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or (t < 0 or t > 2):
        bad("'temperature' must be a number in [0, 2]")
    if not isinstance(out["stream"], bool):
        bad("'stream' must be true or false")
    for i, m in enumerate(messages):
        for name, pattern in SECRET_PATTERNS.items():
            if pattern.search(m["content"]):
                raise RequestRejected("secret_detected", f"{name} in messages[{i}]")
    return out
