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

# --- cell: jwt_auth ---
"""JWT issue and verification for the API gateway (PyJWT).

A `TokenService` trusts exactly one `issuer`, serves exactly one `audience` and accepts exactly one
`algorithm` ("HS256" with a shared secret, or "RS256" with an RSA key pair in PEM):

* constructor: `ValueError` when `algorithm` is not in SUPPORTED_ALGORITHMS; for HS256 `signing_key` is
  the secret (str or bytes) and must be at least MIN_HMAC_SECRET_BYTES long (UTF-8 bytes), and
  `verifying_key` defaults to it; for RS256 `signing_key` is the private key PEM (may be None for a
  verify-only service) and `verifying_key` the public key PEM (required).
* `issue(subject, *, ttl_s=900, scopes=(), now=None)` returns a compact JWT whose header `alg` is the
  service's algorithm and whose claims are exactly: sub, iss, aud (the service's audience, a string),
  iat = nbf = int(now), exp = int(now) + int(ttl_s), jti (a random hex string, unique per token), and
  scope (the scopes joined by single spaces, OAuth style). `now` defaults to time.time().
  `ValueError` when ttl_s <= 0 or the service has no signing key.
* `verify(token, *, scope=None)` returns the claims (a dict) of a valid token, or raises
  `AuthError(reason)` (reasons in AUTH_REASONS). Every claim listed above except jti and scope is
  required; a token signed with any other algorithm is rejected ("invalid_algorithm"), never verified
  with a key meant for another algorithm. With `scope`, the token's space-separated `scope` claim must
  contain it ("insufficient_scope"). Clock skew tolerance: `leeway_s` (default 0).
"""
import secrets


class TokenService:
    def __init__(self, *, issuer: str, audience: str, algorithm: str, signing_key=None, verifying_key=None,
                 leeway_s: float = 0):
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"algorithm {algorithm!r} is not supported; use one of {SUPPORTED_ALGORITHMS}")
        if algorithm == "HS256":
            if signing_key is None:
                raise ValueError("HS256 needs a shared secret as signing_key")
            raw = signing_key.encode("utf-8") if isinstance(signing_key, str) else bytes(signing_key)
            if len(raw) < MIN_HMAC_SECRET_BYTES:
                raise ValueError(f"an HS256 secret needs at least {MIN_HMAC_SECRET_BYTES} bytes, got {len(raw)}")
            verifying_key = signing_key if verifying_key is None else verifying_key
        elif verifying_key is None:
            raise ValueError("RS256 needs the public key PEM as verifying_key")
        self.issuer, self.audience, self.algorithm = issuer, audience, algorithm
        self._signing_key, self._verifying_key = signing_key, verifying_key
        self.leeway_s = leeway_s

    def issue(self, subject: str, *, ttl_s: float = 900, scopes=(), now=None) -> str:
        if self._signing_key is None:
            raise ValueError("this service only verifies tokens: it has no signing key")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        t = int(time.time() if now is None else now)
        claims = {"sub": subject, "iss": self.issuer, "aud": self.audience, "iat": t, "nbf": t,
                  "exp": t + int(ttl_s), "jti": secrets.token_hex(16), "scope": " ".join(scopes)}
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm)

    def verify(self, token, *, scope=None) -> dict:
        errors = [  # most specific first: several are subclasses of others
            (jwt.ExpiredSignatureError, "expired"),
            (jwt.ImmatureSignatureError, "not_yet_valid"),
            (jwt.InvalidAudienceError, "invalid_audience"),
            (jwt.InvalidIssuerError, "invalid_issuer"),
            (jwt.MissingRequiredClaimError, "missing_claim"),
            (jwt.InvalidAlgorithmError, "invalid_algorithm"),
            (jwt.InvalidSignatureError, "invalid_signature"),
            (jwt.DecodeError, "malformed"),
        ]
        try:
            claims = jwt.decode(
                token, self._verifying_key, algorithms=[self.algorithm],   # pinned: never from the header
                audience=self.audience, issuer=self.issuer, leeway=self.leeway_s,
                options={"require": ["sub", "iss", "aud", "iat", "nbf", "exp"]})
        except jwt.PyJWTError as exc:
            for kind, reason in errors:
                if isinstance(exc, kind):
                    raise AuthError(reason, str(exc)) from None
            raise AuthError("invalid_signature", str(exc)) from None
        if scope is not None and scope not in str(claims.get("scope", "")).split():
            raise AuthError("insufficient_scope", f"token lacks scope {scope!r}")
        return claims
