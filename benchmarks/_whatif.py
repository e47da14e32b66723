"""An experiment, not the package: AssessmentApp with the three changes benchmarks/README.md
proposes, patched in at run time in this process only, to measure what they would buy.

1. A pattern-checked email (pydantic-core's Rust regex) instead of ``EmailStr``
   (email-validator); the body is still parsed first, then validated.
2. An O(1) in-memory GCRA rate limiter (same 30/minute per recruiter) instead of ``limits``'
   ``MemoryStorage`` with its background sweep thread.
3. The platform call through ``AiohttpTransport.fetch`` instead of ``httpx2.AsyncClient``
   (an upper bound: it skips SmartAIClient's retry and error classification layers).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

import assessment_asgi._app as app_module
from assessment_asgi import AssessmentApp, Recruiter
from assessment_asgi._responses import HTTPProblem
from assessment_asgi.platform import Credentials, SessionToken, SmartAIClient
from assessment_asgi.platform._aiohttp_transport import AiohttpTransport

_EMAIL = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
FastEmail = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=_EMAIL)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class FastCandidate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Name
    email: FastEmail


class FastSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    users: Annotated[list[FastCandidate], Field(max_length=10_000)]
    recruiter_id: str | None = Field(default=None, alias="recruiterId")
    recruiter_email: FastEmail | None = Field(default=None, alias="recruiterEmail")


class GcraLimiter:
    """``amount`` requests per ``period`` seconds per recruiter: one float per recruiter."""

    def __init__(self, amount: int = 30, period: float = 60.0) -> None:
        self.interval = period / amount
        self.tolerance = period - self.interval
        self.tat: dict[str, float] = {}
        self.checks = 0

    async def check(self, recruiter: Recruiter) -> None:
        now = time.monotonic()
        key = recruiter.id or recruiter.email or ""
        tat = max(self.tat.get(key, now), now)
        if tat - now > self.tolerance:
            raise HTTPProblem("rate_limited", headers={"Retry-After": str(int(tat - now) + 1)})
        self.tat[key] = tat + self.interval
        self.checks += 1
        if self.checks % 10_000 == 0:  # bounded, amortised clean-up in the loop
            self.tat = {k: v for k, v in self.tat.items() if v > now}


class FetchClient(SmartAIClient):
    """create_session straight through AiohttpTransport.fetch."""

    def __init__(self, *, base_url: str) -> None:
        super().__init__(base_url=base_url)
        self._url = base_url.rstrip("/") + "/sessions"
        self._fast = AiohttpTransport()
        self._timeouts = {"connect": 5.0, "read": 15.0, "write": 15.0, "pool": 5.0}

    async def create_session(self, **kwargs: Any) -> SessionToken:  # type: ignore[override]
        credentials: Credentials = kwargs["credentials"]
        body: dict[str, Any] = {"users": kwargs["users"]}
        if kwargs.get("recruiter_id"):
            body["recruiterId"] = kwargs["recruiter_id"]
        if kwargs.get("recruiter_email"):
            body["recruiterEmail"] = kwargs["recruiter_email"]
        headers = [
            ("content-type", "application/json"),
            ("x-api-key", credentials.api_key.get_secret_value()),
            ("x-secret-key", credentials.secret_key.get_secret_value()),
        ]
        status, _, raw = await self._fast.fetch(
            "POST",
            self._url,
            headers=headers,
            content=json.dumps(body, separators=(",", ":")).encode(),
            timeout=self._timeouts,
            max_bytes=1 << 20,
        )
        if status != 200:
            raise RuntimeError(f"stand-in answered {status}")
        data = json.loads(raw)["data"]
        return SessionToken(token=data["token"], expires_at=data["expiresAt"])

    async def aclose(self) -> None:
        await self._fast.aclose()
        await super().aclose()


def whatif_app(base_url: str) -> AssessmentApp:
    app_module.SessionRequest = FastSessionRequest  # type: ignore[misc,assignment]
    app = AssessmentApp(client=FetchClient(base_url=base_url))
    app.rate_limiter = GcraLimiter()  # type: ignore[assignment]
    return app
