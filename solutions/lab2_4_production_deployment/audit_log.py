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

# --- cell: audit_log ---
"""An append-only audit log with tamper detection (a hash chain), stored as JSON lines.

An entry is a dict with the keys ENTRY_FIELDS plus "hash": "seq" is its position (0, 1, 2, ...), "ts" a
number, "actor"/"action"/"resource" strings, "prev" the "hash" of the previous entry (GENESIS for the
first one) and "hash" = entry_digest(entry).

`verify_chain(entries, head=None)` returns None when the list is intact, else the index of the first
entry that does not check out: an entry that is not a dict with all of ENTRY_FIELDS and "hash", whose
"seq" is not its index, whose "prev" is not the previous entry's "hash" (GENESIS for index 0), or whose
"hash" is not entry_digest(entry). With `head = (n, h)` (a count and hash published earlier, e.g. by
`AuditLog.head()`): after the chain itself checks out, fewer than n entries returns len(entries) (the
first missing one), and entries[n - 1]["hash"] != h returns n - 1.

`AuditLog(path)` opens the log file (creating it when missing); an existing file is read (one JSON
object per line) and verified first: `TamperedLogError(index)` if it fails. `append(actor, action,
resource, ts=None)` adds one entry (ts defaults to time.time()), writes it as one line at the end of the
file, and returns a copy of it; safe to call from many threads at once. `entries()` returns copies of all
entries; `head()` returns (number of entries, hash of the last entry or GENESIS).
"""


def verify_chain(entries, head=None):
    prev = GENESIS
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or any(k not in e for k in (*ENTRY_FIELDS, "hash")):
            return i
        try:
            digest = entry_digest(e)
        except (TypeError, ValueError):
            return i
        if e["seq"] != i or e["prev"] != prev or e["hash"] != digest:
            return i
        prev = e["hash"]
    if head is not None:
        n, h = head
        if len(entries) < n:
            return len(entries)
        if n > 0 and entries[n - 1]["hash"] != h:
            return n - 1
    return None


class AuditLog:
    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries = []
        if self.path.exists():
            lines = [ln for ln in self.path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            for i, line in enumerate(lines):
                try:
                    self._entries.append(json.loads(line))
                except ValueError:
                    raise TamperedLogError(i) from None
            bad = verify_chain(self._entries)
            if bad is not None:
                raise TamperedLogError(bad)
        else:
            self.path.touch()

    def append(self, actor: str, action: str, resource: str, ts=None) -> dict:
        with self._lock:
            prev = self._entries[-1]["hash"] if self._entries else GENESIS
            entry = {"seq": len(self._entries), "ts": time.time() if ts is None else ts, "actor": actor,
                     "action": action, "resource": resource, "prev": prev}
            entry["hash"] = entry_digest(entry)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._entries.append(entry)
            return dict(entry)

    def entries(self) -> list:
        with self._lock:
            return [dict(e) for e in self._entries]

    def head(self) -> tuple:
        with self._lock:
            return (len(self._entries), self._entries[-1]["hash"] if self._entries else GENESIS)
