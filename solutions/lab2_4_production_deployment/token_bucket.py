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

# --- cell: token_bucket ---
"""Token-bucket rate limiting, one bucket per API key.

Every key has its own bucket of at most `capacity` tokens (the burst). A key seen for the first time
starts with a full bucket. Tokens flow back continuously at `refill_per_s` per second of `clock()`
time (never above `capacity`). `allow(key, cost)` takes `cost` tokens and returns True when the bucket
holds at least `cost` tokens; otherwise it returns False and takes nothing. `available(key)` is the
current number of tokens; `retry_after(key, cost)` the seconds until `allow(key, cost)` would succeed
(0.0 when it would succeed now). `ValueError` for capacity <= 0, refill_per_s <= 0, and for a cost that
is <= 0 or larger than `capacity` (it could never be granted). All methods are safe to call from many
threads at once: no interleaving may grant more than capacity + refill_per_s * elapsed tokens per key.
`clock` is any monotonic function returning seconds (tests inject a fake one).
"""


class TokenBucketLimiter:
    def __init__(self, capacity: float, refill_per_s: float, clock=time.monotonic):
        if capacity <= 0 or refill_per_s <= 0:
            raise ValueError(f"capacity and refill_per_s must be positive, got {capacity}, {refill_per_s}")
        self.capacity, self.refill_per_s, self.clock = capacity, refill_per_s, clock
        self._buckets = {}            # key -> [tokens, last refill time]
        self._lock = threading.Lock()

    def _refill(self, key):
        """Helper (use it or not): the key's bucket [tokens, last time] brought up to date; call with the lock held."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [float(self.capacity), now]
        else:
            elapsed = max(0.0, now - bucket[1])
            bucket[0] = min(float(self.capacity), bucket[0] + elapsed * self.refill_per_s)
            bucket[1] = now
        return bucket

    def _check_cost(self, cost):
        """Helper (use it or not): ValueError unless 0 < cost <= capacity."""
        if not 0 < cost <= self.capacity:
            raise ValueError(f"cost must be in (0, capacity={self.capacity}], got {cost}")

    def allow(self, key, cost: float = 1.0) -> bool:
        self._check_cost(cost)
        with self._lock:
            bucket = self._refill(key)
            if bucket[0] >= cost:
                bucket[0] -= cost
                return True
            return False

    def available(self, key) -> float:
        with self._lock:
            return self._refill(key)[0]

    def retry_after(self, key, cost: float = 1.0) -> float:
        self._check_cost(cost)
        with self._lock:
            missing = cost - self._refill(key)[0]
        return max(0.0, missing / self.refill_per_s)
