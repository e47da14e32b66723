"""Shared by the feature tests (idempotency, telemetry, audit): a real sandbox on loopback,
an ``AssessmentApp`` mounted in Starlette under uvicorn, and a count of platform sessions."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from assessment_asgi import AssessmentApp, Credentials
from assessment_asgi.sandbox import SandboxApp
from tests._platform import API_KEY, JWT_SECRET, SECRET_KEY
from tests._servers import serve

PREFIX = "/assessment"


class SessionCounter:
    """A pure ASGI layer in front of the sandbox: counts the sessions it created (200 answers
    to ``POST …/sessions``). Unopened sessions are not listed by the platform's API, so the
    count is taken at the door."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.created = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/sessions"):
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                with self._lock:
                    self.created += 1
            await send(message)

        await self.app(scope, receive, counting_send)


@dataclass
class Sandbox:
    """The embedded sandbox with the canary test keys, served over real loopback HTTP."""

    counter: SessionCounter
    url: str

    @property
    def app(self) -> SandboxApp:
        return self.counter.app

    @property
    def platform_url(self) -> str:
        return SandboxApp.platform_url(self.url)

    def sessions(self) -> int:
        """How many sessions the platform created."""
        return self.counter.created


@contextlib.contextmanager
def running_sandbox(**options: Any) -> Iterator[Sandbox]:
    counter = SessionCounter(SandboxApp(credentials=Credentials(API_KEY, SECRET_KEY), **options))
    with serve(counter) as url:
        yield Sandbox(counter, url)


def assessment_app(sandbox: Sandbox, **kwargs: Any) -> AssessmentApp:
    """An app on the sandbox with the canary keys; no rate limit unless a test asks."""
    kwargs.setdefault("jwt_secret", JWT_SECRET)
    kwargs.setdefault("rate_limit", "")
    if "keys" not in kwargs:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("secret_key", SECRET_KEY)
    return AssessmentApp(base_url=sandbox.platform_url, **kwargs)


@contextlib.contextmanager
def served(assessment: AssessmentApp) -> Iterator[tuple[httpx2.Client, str]]:
    """``assessment`` mounted at /assessment in Starlette under uvicorn: (client, session URL)."""
    # The host's lifespan closes the app's connections (Redis) on the server's loop.
    host = Starlette(routes=[Mount(PREFIX, app=assessment)], lifespan=assessment.lifespan)
    with serve(host) as url, httpx2.Client(timeout=30) as client:
        yield client, f"{url}{PREFIX}/session"
