# Generated from source/lab2_4_production_deployment/04-Security_and_Compliance.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_lab24_nb04 ---
# Shared by the exercises of this notebook: pyjwt, cryptography and the standard library only.
import hashlib
import json
import math
import re
import threading
import time
from pathlib import Path

import jwt  # PyJWT

# ---------------------------------------------------------------- exercise 1: JWT authentication
#: Why a token was rejected: the `reason` of every AuthError is one of these.
AUTH_REASONS = (
    "malformed",            # not a JWT at all (wrong number of segments, bad base64/JSON, not a string)
    "invalid_algorithm",    # the header's `alg` is not the one algorithm this service accepts (e.g. "none")
    "invalid_signature",    # the signature does not match header + payload
    "missing_claim",        # a required claim (sub, iss, aud, iat, nbf, exp) is absent
    "expired",              # now >= exp
    "not_yet_valid",        # now < nbf (or iat lies in the future)
    "invalid_audience",     # aud does not contain this service's audience
    "invalid_issuer",       # iss is not the issuer this service trusts
    "insufficient_scope",   # a valid token without the scope the caller asked for
)
SUPPORTED_ALGORITHMS = ("HS256", "RS256")
MIN_HMAC_SECRET_BYTES = 32     # RFC 7518, section 3.2: an HS256 key is at least as long as the hash output


class AuthError(Exception):
    """A request's token was rejected. `reason` is one of AUTH_REASONS; `detail` is for the log, not the client."""

    def __init__(self, reason: str, detail: str = ""):
        if reason not in AUTH_REASONS:
            raise ValueError(f"unknown AuthError reason {reason!r}; use one of {AUTH_REASONS}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- exercise 3: request validation
MAX_BODY_BYTES = 16_384        # the raw HTTP body, before anything is parsed
MAX_MESSAGES = 32
MAX_TOKENS_CAP = 2_048
ROLES = ("system", "user", "assistant")
REQUEST_KEYS = ("model", "messages", "max_tokens", "temperature", "stream")
REQUEST_DEFAULTS = {"max_tokens": 256, "temperature": 1.0, "stream": False}

#: Credentials that must never reach the model (or its logs). Names are what RequestRejected reports.
SECRET_PATTERNS = {
    "aws_access_key_id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private_key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "github_token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "openai_api_key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
}


class RequestRejected(Exception):
    """A request failed validation. `code` is the client-visible error code, `detail` says why."""

    CODES = ("too_large", "invalid_json", "invalid_schema", "secret_detected")

    def __init__(self, code: str, detail: str = ""):
        if code not in self.CODES:
            raise ValueError(f"unknown RequestRejected code {code!r}; use one of {self.CODES}")
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------- exercise 4: audit log
GENESIS = "0" * 64            # the `prev` of the first entry
ENTRY_FIELDS = ("seq", "ts", "actor", "action", "resource", "prev")   # what an entry's hash covers


def entry_digest(entry: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's ENTRY_FIELDS (its own `hash` is not covered)."""
    body = {k: entry[k] for k in ENTRY_FIELDS}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TamperedLogError(Exception):
    """An audit log file failed verification; `index` is the first entry that does not check out."""

    def __init__(self, index: int):
        super().__init__(f"audit log fails verification at entry {index}")
        self.index = index

# --- cell: request_validation ---
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
        body = json.loads(bytes(raw).decode("utf-8"), parse_constant=no_constants)
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
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 2:
        bad("'temperature' must be a number in [0, 2]")
    if not isinstance(out["stream"], bool):
        bad("'stream' must be true or false")
    for i, m in enumerate(messages):
        for name, pattern in SECRET_PATTERNS.items():
            if pattern.search(m["content"]):
                raise RequestRejected("secret_detected", f"{name} in messages[{i}]")
    return out
