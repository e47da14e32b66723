"""A recording stand-in for the SmartAI platform, served for real over loopback.

It answers ``POST /api/v1/sessions`` as the platform does and records what reached it, so
tests can assert that bad input never did. ``mode`` makes it misbehave on purpose.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STANDIN_TOKEN = "eyJhbGciOiJIUzI1NiJ9.CANARY-SESSION-TOKEN-7f3a.sig"
STANDIN_EXPIRES = "2026-11-28T12:00:00.000Z"


@dataclass
class PlatformStandIn:
    api_key: str
    secret_key: str
    mode: str = "ok"
    retry_after: str = "7"
    delay: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
