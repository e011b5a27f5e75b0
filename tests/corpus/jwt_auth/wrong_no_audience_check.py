# does not check the audience (tokens for other services are accepted)
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
                issuer=self.issuer, leeway=self.leeway_s,
                options={"require": ["sub", "iss", "iat", "nbf", "exp"], "verify_aud": False})
        except jwt.PyJWTError as exc:
            for kind, reason in errors:
                if isinstance(exc, kind):
                    raise AuthError(reason, str(exc)) from None
            raise AuthError("invalid_signature", str(exc)) from None
        if scope is not None and scope not in str(claims.get("scope", "")).split():
            raise AuthError("insufficient_scope", f"token lacks scope {scope!r}")
        return claims
