"""What every benchmark variant shares: the recruiter JWT, the body, auth and validation.

The hand-written variants verify the same HS256 JWT with joserfc and validate the same
body with pydantic as the package does, so the only difference is the platform call.
"""

from __future__ import annotations

import json
import os
import time
from typing import Annotated, Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from pydantic import BaseModel, ConfigDict, EmailStr, Field

# Benchmark-only values: never real credentials.
JWT_SECRET = "bench-recruiter-jwt-secret-0123456789abcdef"
API_KEY = "wc_ak_test_bench0000000000000000"
SECRET_KEY = "wc_sk_test_bench0000000000000000"
RECRUITER_ID = "recruiter-42"
RECRUITER_EMAIL = "recruiter@example.com"
SESSION_PATH = "/assessment/session"

# The stand-in's answer; a realistic size (an HS256 JWT and an ISO time).
STAND_IN_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzZXNzaW9uIjoiYmVuY2giLCJ1c2VycyI6MywiZXhwIjo"
    "xODAwMDAwMDAwfQ.c2lnbmF0dXJlLXBsYWNlaG9sZGVyLWJlbmNoLW9ubHk"
)
STAND_IN_EXPIRES = "2030-01-01T00:15:00Z"

_KEY = OctKey.import_key(JWT_SECRET)
_CLAIMS = jwt.JWTClaimsRegistry(exp={"essential": True})


def recruiter_token(lifetime: float = 24 * 3600, recruiter: int | None = None) -> str:
    """A recruiter JWT as the host app's login would issue it."""
    now = int(time.time())
    sub, email = (
        (RECRUITER_ID, RECRUITER_EMAIL)
        if recruiter is None
        else (f"recruiter-{recruiter}", f"recruiter{recruiter}@example.com")
    )
    claims = {"sub": sub, "email": email, "iat": now, "exp": now + int(lifetime)}
    return jwt.encode({"alg": "HS256"}, claims, _KEY)


def recruiter_tokens(count: int) -> list[str]:
    """Tokens of ``count`` different recruiters.

    The load rotates through them, as real traffic comes from many recruiters: the
    package's per-recruiter rate limit (30/minute by default) stays on at its defaults
    and is never hit, so every variant answers 200.
    """
    return [recruiter_token(recruiter=i) for i in range(count)]


def candidates(count: int) -> list[dict[str, str]]:
    return [{"name": f"Candidate {i}", "email": f"candidate{i}@example.com"} for i in range(count)]


def session_body(count: int = 3) -> bytes:
    """The request body the recruiter's frontend sends: ``count`` candidates.

    The recruiter comes from the JWT (its ``sub``), as the package resolves it by default.
    """
    return json.dumps({"users": candidates(count)}).encode()


def upstream_base_url() -> str:
    """The platform stand-in's base URL (set by ``run.py`` for each server process)."""
    return os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8765/api/v1")


# ---- the hand-written endpoint's auth and validation ---------------------------------------


class User(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr


class SessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: Annotated[list[User], Field(min_length=1, max_length=100)]
    recruiterId: str | None = None  # the wire name
    recruiterEmail: EmailStr | None = None


def verify_recruiter(authorization: str | None) -> dict[str, Any] | None:
    """The recruiter's claims, or None when the bearer token does not verify."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    try:
        token = jwt.decode(authorization[7:], _KEY, algorithms=["HS256"])
        _CLAIMS.validate(token.claims)
    except (JoseError, ValueError, TypeError):
        return None
    return token.claims
