# table-driven field checks, a single combined secret regex, size checked on a memoryview
import math

_FIELD_OK = {
    "model": lambda v: type(v) is str and len(v) > 0,
    "max_tokens": lambda v: type(v) is int and 1 <= v <= MAX_TOKENS_CAP,
    "temperature": lambda v: type(v) in (int, float) and 0 <= v <= 2,
    "stream": lambda v: type(v) is bool,
}
_ANY_SECRET = re.compile("|".join(f"(?P<{n}>{p.pattern})" for n, p in SECRET_PATTERNS.items()))


def _message_ok(m):
    return type(m) is dict and sorted(m) == ["content", "role"] and m["role"] in ROLES and type(m["content"]) is str


def validate_chat_request(raw: bytes) -> dict:
    size = memoryview(raw).nbytes
    if size > MAX_BODY_BYTES:
        raise RequestRejected("too_large", f"{size} > {MAX_BODY_BYTES} bytes")
    try:
        text = str(raw, "utf-8")
        body = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise RequestRejected("invalid_json", type(exc).__name__) from None
    if type(body) is not dict or not set(body) <= set(REQUEST_KEYS) or not {"model", "messages"} <= set(body):
        raise RequestRejected("invalid_schema", "top level")
    msgs = body["messages"]
    if type(msgs) is not list or not (0 < len(msgs) <= MAX_MESSAGES) or not all(map(_message_ok, msgs)):
        raise RequestRejected("invalid_schema", "messages")
    full = dict(REQUEST_DEFAULTS)
    full.update(body)
    for field, ok in _FIELD_OK.items():
        if not ok(full[field]):
            raise RequestRejected("invalid_schema", field)
    for i, m in enumerate(msgs):
        hit = _ANY_SECRET.search(m["content"])
        if hit:
            raise RequestRejected("secret_detected", f"{hit.lastgroup} in messages[{i}]")
    return full
