"""A recording stand-in for the SmartAI platform, and the canary values the suite uses.

The stand-in answers ``POST /api/v1/sessions`` as the platform does and records what reached
it, so tests can assert that bad input never did. ``mode`` makes it misbehave on purpose. It is
served for real over loopback (see the ``platform`` fixture in ``tests/conftest.py``).

Every secret below is a canary: a test that finds one in a log line, a response or a repr
has found a leak.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "wc_ak_test_CANARY-API-KEY-51d2"
SECRET_KEY = "wc_sk_test_CANARY-SECRET-KEY-88c1"
JWT_SECRET = "CANARY-JWT-SECRET-0123456789abcdef0123456789"
STANDIN_TOKEN = "eyJhbGciOiJIUzI1NiJ9.CANARY-SESSION-TOKEN-7f3a.sig"
STANDIN_EXPIRES = "2026-11-28T12:00:00.000Z"
CANARIES = (API_KEY, SECRET_KEY, JWT_SECRET, "CANARY-SESSION-TOKEN-7f3a")

USERS = [
    {"name": "Ada Lovelace", "email": "ada@example.com"},
    {"name": "Alan Turing", "email": "alan@example.com"},
    {"name": "Grace Hopper", "email": "grace@example.com"},
]


def make_token(secret: str = JWT_SECRET, **claims: Any) -> str:
    """A recruiter JWT (HS256) for ``rec_42``; ``claim=None`` leaves a claim out."""
    now = int(time.time())
    payload: dict[str, Any] = {"sub": "rec_42", "email": "rita@hire.example", "iat": now,
                               "exp": now + 300}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(secret.encode()))


def auth(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or make_token()}"}


@dataclass
class PlatformStandIn:
    api_key: str
    secret_key: str
    mode: str = "ok"
    retry_after: str = "7"
    delay: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Back to a well-behaved platform with the canary keys and no recorded calls."""
        self.api_key, self.secret_key = API_KEY, SECRET_KEY
        self.mode, self.retry_after, self.delay = "ok", "7", 0.0
        with self._lock:
            self.calls.clear()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/v1/sessions", self._sessions, methods=["POST"])])

    async def _sessions(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            self.calls.append({"headers": dict(request.headers), "body": json.loads(raw)})
        mode = self.mode
        if mode == "slow":
            await anyio.sleep(self.delay)
        if (
            request.headers.get("x-api-key") != self.api_key
            or request.headers.get("x-secret-key") != self.secret_key
            or mode == "401"
        ):
            return JSONResponse({"success": False, "error": "Invalid API key"}, status_code=401)
        if mode == "500":
            return JSONResponse({"success": False, "error": "boom"}, status_code=500)
        if mode == "html":
            return Response("<html><body>502 Bad Gateway</body></html>", 502, media_type="text/html")
        if mode == "html200":
            return Response("<html>maintenance</html>", 200, media_type="text/html")
        if mode == "bad_envelope":
            return JSONResponse({"success": True, "data": {"tok": "x"}})
        if mode == "429":
            return JSONResponse(
                {"success": False, "error": "Too many requests"},
                status_code=429,
                headers={"Retry-After": self.retry_after},
            )
        return JSONResponse(
            {"success": True, "data": {"token": STANDIN_TOKEN, "expiresAt": STANDIN_EXPIRES}}
        )
