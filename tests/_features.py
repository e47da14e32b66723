"""Shared by the feature tests (idempotency, telemetry, audit): a real sandbox on loopback,
an ``AssessmentApp`` mounted in Starlette under uvicorn, and a count of platform sessions."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from assessment_asgi import AssessmentApp, Credentials
from assessment_asgi.sandbox import SandboxApp
from tests._platform import API_KEY, JWT_SECRET, SECRET_KEY
from tests._servers import Server, serve

PREFIX = "/assessment"


class FrontDoor:
    """A pure ASGI layer in front of the sandbox, as the platform's load balancer would be.

    It stamps each answer with an ``x-request-id`` (``req_1``, ``req_2``, …), counts the
    sessions created (200 answers to ``POST …/sessions``: the platform's API lists a session
    only once opened, so the count is taken at the door), and answers ``503`` to the next
    ``fail_next`` requests without passing them on (a failing balancer: nothing created).
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.created = 0
        self.fail_next = 0
        self._requests = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self._requests += 1
            request_id = f"req_{self._requests}".encode()
            failing, self.fail_next = self.fail_next > 0, max(0, self.fail_next - 1)
        if failing:
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"x-request-id", request_id), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        creating = scope["method"] == "POST" and scope["path"].endswith("/sessions")

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id)]}
                if creating and message["status"] == 200:
                    with self._lock:
                        self.created += 1
            await send(message)

        await self.app(scope, receive, stamped)


@dataclass
class Sandbox:
    """The embedded sandbox with the canary test keys, served over real loopback HTTP."""

    door: FrontDoor
    url: str

    @property
    def app(self) -> SandboxApp:
        return self.door.app

    @property
    def platform_url(self) -> str:
        return SandboxApp.platform_url(self.url)

    def sessions(self) -> int:
        """How many sessions the platform created."""
        return self.door.created


@contextlib.contextmanager
def running_sandbox(**options: Any) -> Iterator[Sandbox]:
    door = FrontDoor(SandboxApp(credentials=Credentials(API_KEY, SECRET_KEY), **options))
    with serve(door) as url:
        yield Sandbox(door, url)


def assessment_app(sandbox: Sandbox, **kwargs: Any) -> AssessmentApp:
    """An app on the sandbox with the canary keys; no rate limit unless a test asks."""
    kwargs.setdefault("jwt_secret", JWT_SECRET)
    kwargs.setdefault("rate_limit", "")
    if "keys" not in kwargs:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("secret_key", SECRET_KEY)
    return AssessmentApp(base_url=sandbox.platform_url, **kwargs)


@contextlib.contextmanager
def served(
    assessment: AssessmentApp, wrap: Callable[[Any], Any] | None = None, server: Server = "uvicorn"
) -> Iterator[tuple[httpx2.Client, str]]:
    """``assessment`` mounted at /assessment in Starlette under uvicorn: (client, session URL).

    ``wrap`` puts a layer around the mounted app (an instrumentation middleware, say)."""
    # The host's lifespan closes the app's connections (Redis) on the server's loop.
    mounted = assessment if wrap is None else wrap(assessment)
    host = Starlette(routes=[Mount(PREFIX, app=mounted)], lifespan=assessment.lifespan)
    with serve(host, server) as url, httpx2.Client(timeout=30) as client:
        yield client, f"{url}{PREFIX}/session"
