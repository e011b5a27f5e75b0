"""Hidden grader: JWT issue and verification with PyJWT (Lab 2.4, notebook 04).

Every expectation is computed here from RFC 7519 / RFC 7518 and PyJWT itself: tokens are minted by
the grader (including forged ones: alg=none, HS256 signed with the RS256 public key, tampered
payloads, other issuers/audiences, missing claims) and the student's `TokenService.verify` must reject
each with the documented AuthError reason.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from autograder.api import fail_with, points

EXERCISES = ["jwt_auth"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30

SECRET = "grader-secret-0123456789abcdef-0123456789"          # 41 bytes
OTHER_SECRET = "another-secret-0123456789abcdef-012345678"
ISS, AUD = "https://auth.grader.example", "inference-api"


def _rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return priv, pub


PRIV, PUB = _rsa_pair()
EVIL_PRIV, EVIL_PUB = _rsa_pair()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**over):
    now = int(time.time())
    c = {"sub": "alice", "iss": ISS, "aud": AUD, "iat": now, "nbf": now, "exp": now + 600,
         "jti": "grader-jti", "scope": "read"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def hs(secret, alg="HS256", **over):
    return jwt.encode(claims(**over), secret, algorithm=alg)


def unsigned(**over):
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims(**over)).encode())}."


def hs256_with_public_key(pub: bytes, **over):
    """The RS256/HS256 key-confusion forgery: an HS256 MAC keyed with the verifier's public key PEM."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims(**over)).encode())
    mac = hmac.new(pub, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(mac)}"


def hs_service(student, **kw):
    args = dict(issuer=ISS, audience=AUD, algorithm="HS256", signing_key=SECRET)
    args.update(kw)
    try:
        return student.TokenService(**args)
    except Exception as exc:
        fail_with(f"TokenService({', '.join(f'{k}=...' for k in args)}) with a valid HS256 configuration raised "
                  f"{type(exc).__name__}: {exc}")


def rs_service(student, signing=True, **kw):
    args = dict(issuer=ISS, audience=AUD, algorithm="RS256", signing_key=PRIV if signing else None,
                verifying_key=PUB)
    args.update(kw)
    try:
        return student.TokenService(**args)
    except Exception as exc:
        fail_with(f"TokenService(algorithm='RS256', ...) with a valid key pair raised {type(exc).__name__}: {exc}")


def expect_reject(student, svc, token, reasons, what, **kw):
    reasons = (reasons,) if isinstance(reasons, str) else tuple(reasons)
    try:
        out = svc.verify(token, **kw)
    except student.AuthError as exc:
        if exc.reason not in reasons:
            fail_with(f"verify() of {what} raised AuthError with reason {exc.reason!r}; expected "
                      f"{' or '.join(map(repr, reasons))}")
        return
    except Exception as exc:
        fail_with(f"verify() of {what} raised {type(exc).__name__}: {exc}; it must raise AuthError("
                  f"{reasons[0]!r}) so the gateway can answer 401/403 instead of crashing")
    fail_with(f"verify() ACCEPTED {what} and returned {str(out)[:120]}; it must raise AuthError({reasons[0]!r})")


def expect_accept(svc, token, what, **kw):
    try:
        out = svc.verify(token, **kw)
    except Exception as exc:
        fail_with(f"verify() of {what} raised {type(exc).__name__}: {exc}; the token is valid")
    if not isinstance(out, dict):
        fail_with(f"verify() of {what} returned {type(out).__name__}, expected the claims as a dict")
    return out


@points(1)
def test_constructor_refuses_unsafe_configurations(student):
    """the constructor refuses unsupported algorithms, short HMAC secrets and RS256 without a public key"""
    for alg in ("none", "HS512", "hs256"):
        try:
            student.TokenService(issuer=ISS, audience=AUD, algorithm=alg, signing_key=SECRET)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"TokenService(algorithm={alg!r}) raised {type(exc).__name__}; expected ValueError")
        fail_with(f"TokenService(algorithm={alg!r}) was accepted; only {('HS256', 'RS256')} are supported")
    for secret in ("x" * 31, b"k" * 16, "短" * 10):   # the last is 10 characters but 30 UTF-8 bytes
        try:
            student.TokenService(issuer=ISS, audience=AUD, algorithm="HS256", signing_key=secret)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"TokenService(HS256, signing_key of {len(secret.encode() if isinstance(secret, str) else secret)}"
                      f" bytes) raised {type(exc).__name__}; expected ValueError")
        n = len(secret.encode() if isinstance(secret, str) else secret)
        fail_with(f"TokenService(HS256) accepted a {n}-byte secret {secret!r}; at least 32 bytes are required")
    hs_service(student, signing_key="s" * 32)
    hs_service(student, signing_key=b"b" * 40)
    try:
        student.TokenService(issuer=ISS, audience=AUD, algorithm="RS256", signing_key=PRIV)
    except ValueError:
        pass
    except Exception as exc:
        fail_with(f"TokenService(RS256) without verifying_key raised {type(exc).__name__}; expected ValueError")
    else:
        fail_with("TokenService(algorithm='RS256', signing_key=<private PEM>) without verifying_key was accepted; "
                  "RS256 needs the public key to verify")


@points(2)
def test_issued_tokens_carry_exactly_the_documented_claims(student):
    """issue() signs with the configured algorithm and sets sub, iss, aud, iat, nbf, exp, jti, scope"""
    now = 1_700_000_000.75
    for svc, key, alg in ((hs_service(student), SECRET, "HS256"), (rs_service(student), PUB, "RS256")):
        tok = svc.issue("bob", ttl_s=120, scopes=("read", "write"), now=now)
        if not isinstance(tok, str) or tok.count(".") != 2:
            fail_with(f"issue('bob', ...) returned {tok!r:.80}; expected a compact JWT string (3 dot-separated parts)")
        header = jwt.get_unverified_header(tok)
        if header.get("alg") != alg:
            fail_with(f"the {alg} service issued a token whose header alg is {header.get('alg')!r}")
        try:
            got = jwt.decode(tok, key, algorithms=[alg], audience=AUD, issuer=ISS,
                             options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
        except jwt.PyJWTError as exc:
            fail_with(f"a token from the {alg} service's issue() does not verify with the service's own key: {exc}")
        want = {"sub": "bob", "iss": ISS, "aud": AUD, "iat": 1_700_000_000, "nbf": 1_700_000_000,
                "exp": 1_700_000_120, "scope": "read write"}
        for k, v in want.items():
            if got.get(k) != v or type(got.get(k)) is not type(v):
                fail_with(f"issue('bob', ttl_s=120, scopes=('read', 'write'), now={now}) ({alg}) has {k}="
                          f"{got.get(k)!r}; expected {v!r}")
        extra = sorted(set(got) - set(want) - {"jti"})
        if extra or not isinstance(got.get("jti"), str) or not got.get("jti"):
            fail_with(f"the claims are {sorted(got)}; expected exactly {sorted([*want, 'jti'])} with a non-empty "
                      f"string jti")
    svc = hs_service(student)
    jtis = {jwt.decode(svc.issue("u"), SECRET, algorithms=["HS256"], audience=AUD)["jti"] for _ in range(40)}
    if len(jtis) != 40:
        fail_with(f"40 tokens from issue('u') had only {len(jtis)} distinct jti values; jti must be unique per token")
    for ttl in (0, -5):
        try:
            svc.issue("u", ttl_s=ttl)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"issue('u', ttl_s={ttl}) raised {type(exc).__name__}; expected ValueError")
        fail_with(f"issue('u', ttl_s={ttl}) returned a token; a non-positive lifetime must raise ValueError")


@points(1)
def test_round_trip_and_verify_only_service(student):
    """verify() accepts the service's own tokens; an RS256 verify-only service checks the signer's tokens"""
    hsvc = hs_service(student)
    out = expect_accept(hsvc, hsvc.issue("carol", scopes=("read",)), "a fresh token from the same HS256 service")
    if out.get("sub") != "carol" or out.get("aud") != AUD:
        fail_with(f"verify(issue('carol')) returned {out}; expected the token's claims (sub 'carol')")
    expect_accept(hsvc, hs(SECRET), "an HS256 token with all claims, signed by the shared secret")
    signer, verifier = rs_service(student), rs_service(student, signing=False)
    out = expect_accept(verifier, signer.issue("dave"), "an RS256 token from the signer, at a verify-only service")
    if out.get("sub") != "dave":
        fail_with(f"the verify-only service returned {out} for dave's token")
    try:
        verifier.issue("eve")
    except ValueError:
        pass
    except Exception as exc:
        fail_with(f"issue() on a service without signing key raised {type(exc).__name__}; expected ValueError")
    else:
        fail_with("a service built with signing_key=None issued a token; it must raise ValueError")


@points(2)
def test_algorithm_is_pinned(student):
    """tokens with another alg (none, HS/RS key confusion, HS384) are rejected as invalid_algorithm"""
    hsvc, rsvc = hs_service(student), rs_service(student, signing=False)
    expect_reject(student, hsvc, unsigned(), "invalid_algorithm", "an unsigned alg=none token (HS256 service)")
    expect_reject(student, rsvc, unsigned(), "invalid_algorithm", "an unsigned alg=none token (RS256 service)")
    expect_reject(student, rsvc, hs256_with_public_key(PUB), "invalid_algorithm",
                  "an HS256 token MACed with the service's RSA public key (key-confusion forgery)")
    expect_reject(student, hsvc, jwt.encode(claims(), EVIL_PRIV, algorithm="RS256"), "invalid_algorithm",
                  "an RS256 token signed with an attacker's RSA key, sent to the HS256 service")
    expect_reject(student, hsvc, hs(SECRET, alg="HS384"), "invalid_algorithm",
                  "an HS384 token (right secret, algorithm the service does not accept)")
    header = b64(json.dumps({"alg": "NONE", "typ": "JWT"}).encode())
    expect_reject(student, hsvc, f"{header}.{b64(json.dumps(claims()).encode())}.", "invalid_algorithm",
                  "an unsigned token with alg 'NONE'")


@points(1)
def test_forged_and_malformed_tokens_are_rejected(student):
    """tampered payloads, foreign keys and garbage are rejected (invalid_signature / malformed)"""
    hsvc, rsvc = hs_service(student), rs_service(student)
    tok = hsvc.issue("alice", scopes=("read",))
    h, p, s = tok.split(".")
    body = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    body["sub"], body["scope"] = "admin", "read admin"
    forged = f"{h}.{b64(json.dumps(body).encode())}.{s}"
    expect_reject(student, hsvc, forged, "invalid_signature", "alice's token with its payload changed to sub=admin")
    expect_reject(student, hsvc, hs(OTHER_SECRET), "invalid_signature", "an HS256 token signed with another secret")
    expect_reject(student, rsvc, jwt.encode(claims(), EVIL_PRIV, algorithm="RS256"), "invalid_signature",
                  "an RS256 token signed with an attacker's private key")
    expect_reject(student, hsvc, f"{h}.{p}.", ("invalid_signature", "malformed"),
                  "alice's token with the signature removed")
    for junk in ("garbage", "a.b", "a.b.c.d", "", None, 12345, "...."):
        expect_reject(student, hsvc, junk, "malformed", f"the non-token {junk!r}")


@points(1)
def test_time_claims(student):
    """expired and not-yet-valid tokens are rejected; leeway_s tolerates only that much clock skew"""
    svc = hs_service(student)
    now = time.time()
    expect_reject(student, svc, svc.issue("u", ttl_s=60, now=now - 3600), "expired",
                  "a token issued an hour ago with ttl_s=60")
    expect_reject(student, svc, svc.issue("u", ttl_s=60, now=now + 3600), "not_yet_valid",
                  "a token issued for one hour from now (nbf in the future)")
    expect_reject(student, svc, hs(SECRET, exp=int(now) - 1, iat=int(now) - 61, nbf=int(now) - 61), "expired",
                  "a token that expired 1 s ago")
    lenient = hs_service(student, leeway_s=120)
    expect_accept(lenient, hs(SECRET, exp=int(now) - 30, iat=int(now) - 90, nbf=int(now) - 90),
                  "a token expired 30 s ago at a service with leeway_s=120")
    expect_reject(student, lenient, hs(SECRET, exp=int(now) - 300, iat=int(now) - 400, nbf=int(now) - 400),
                  "expired", "a token expired 300 s ago at a service with leeway_s=120")


@points(1)
def test_issuer_audience_and_required_claims(student):
    """wrong aud / iss and tokens missing a required claim (no exp: never expires) are rejected"""
    svc = hs_service(student)
    other = hs_service(student, audience="billing-api")
    expect_reject(student, svc, other.issue("u"), "invalid_audience",
                  "a token issued for audience 'billing-api' (same secret)")
    expect_reject(student, svc, hs(SECRET, iss="https://evil.example"), "invalid_issuer",
                  "a token from issuer 'https://evil.example' (same secret)")
    for claim in ("exp", "sub", "iat", "nbf", "aud", "iss"):
        expect_reject(student, svc, hs(SECRET, **{claim: None}), "missing_claim",
                      f"a correctly signed token without the {claim!r} claim")


@points(1)
def test_scope_check(student):
    """verify(token, scope=s) requires s as a whole word of the token's space-separated scope claim"""
    svc = hs_service(student)
    expect_accept(svc, svc.issue("u", scopes=("read", "admin")), "a token with scopes read+admin, scope='admin'",
                  scope="admin")
    expect_reject(student, svc, svc.issue("u", scopes=("read",)), "insufficient_scope",
                  "a token with scope 'read' when scope='admin' is required", scope="admin")
    expect_reject(student, svc, svc.issue("u", scopes=("administrator",)), "insufficient_scope",
                  "a token with scope 'administrator' when scope='admin' is required (substring, not the scope)",
                  scope="admin")
    expect_reject(student, svc, svc.issue("u"), "insufficient_scope",
                  "a token without scopes when scope='read' is required", scope="read")
