"""`SandboxApp`: the platform's API, the portal and the event queue in one ASGI app."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._seconds import seconds
from ..platform._credentials import TEST_KEY_PREFIX, TEST_SECRET_PREFIX, Credentials
from . import _pages, _payloads
from ._api import PlatformAPI
from ._context import Organisation, SandboxContext
from ._portal import Portal
from ._state import SandboxState
from ._testing import RequestRecorder, ScriptedAnswer, TestingLayer, make_answer


def _check_number(name: str, value: object, *, minimum: float, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
    if not math.isfinite(value) or value < minimum:  # type: ignore[arg-type, operator]
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def _check_public_url(url: object) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str):
        raise TypeError(f"public_url must be a str, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"public_url must be an absolute http(s) URL, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("public_url must not carry a query, a fragment or credentials")
    return url.rstrip("/")


def generate_test_credentials() -> Credentials:
    """A fresh test key pair: `wc_ak_test_<hex>` / `wc_sk_test_<hex>`."""
    return Credentials(
        TEST_KEY_PREFIX + secrets.token_hex(16), TEST_SECRET_PREFIX + secrets.token_hex(24)
    )


def _key_id(credentials: Credentials) -> str:
    digest = hashlib.sha256(credentials.api_key.get_secret_value().encode()).hexdigest()
    return "wc_key_test_" + digest[:16]


def _is_test_pair(credentials: Credentials) -> bool:
    api_key = credentials.api_key.get_secret_value()
    secret_key = credentials.secret_key.get_secret_value()
    return api_key.startswith(TEST_KEY_PREFIX) and secret_key.startswith(TEST_SECRET_PREFIX)


async def _json_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"success": False, "error": exc.detail, "message": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )


class SandboxApp:
    """An in-memory SmartAI platform speaking the wire contract, for development and tests.

    ```python
    sandbox = SandboxApp()                  # generates a wc_ak_test_/wc_sk_test_ pair
    app.mount("/sandbox", sandbox)          # or run it alone under any ASGI server
    SandboxApp.platform_url("http://127.0.0.1:8000/sandbox")  # → …/sandbox/api/v1
    ```

    Test keys only: live-looking keys are refused, so a real pair is never pasted here.
    State lives in memory, bounded by `max_sessions`/`max_events`, `max_stored_bytes`
    and the TTLs. Links in events and pages start with `public_url` when given (set it
    behind a proxy), else with the address the connection reached — never the Host header.

    As a test fake: `record_requests=N` keeps what it received (`recorder`), `script()`
    answers with a fault or a canned body, `enqueue()` seeds events (docs/sandbox-testing.md).

    Many organisations: `add_organisation()` returns another key pair; what one pair creates
    (sessions, campaigns, events, acknowledgements) only that pair sees. Each organisation has
    its own `max_sessions`/`max_events`/`max_stored_bytes`.
    """

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        token_ttl: float = 900,
        max_sessions: int = 10_000,
        max_events: int = 10_000,
        event_ttl: float = 86_400,
        session_retention: float = 86_400,
        min_poll_interval: float = 0,
        signature_window: float = 300,
        campaign_delay: float = 0,
        max_body_bytes: int = 1_048_576,
        max_stored_bytes: int = 64 * 1_048_576,
        public_url: str | None = None,
        record_requests: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if credentials is None:
            credentials = generate_test_credentials()
        elif not isinstance(credentials, Credentials):
            raise TypeError(
                f"credentials must be a Credentials, got {type(credentials).__name__}"
            )
        if not _is_test_pair(credentials):
            raise ValueError(
                "credentials: the sandbox accepts test keys only (api_key starting with "
                f"{TEST_KEY_PREFIX!r} and secret_key starting with {TEST_SECRET_PREFIX!r}); "
                "never give it live keys"
            )
        seconds("token_ttl", token_ttl, at_least=1)
        _check_number("max_sessions", max_sessions, minimum=1, integer=True)
        _check_number("max_events", max_events, minimum=1, integer=True)
        seconds("event_ttl", event_ttl, at_least=1)
        seconds("session_retention", session_retention, at_least=1)
        seconds("min_poll_interval", min_poll_interval, zero_ok=True)
        seconds("signature_window", signature_window, at_least=1)
        seconds("campaign_delay", campaign_delay, zero_ok=True)
        _check_number("max_body_bytes", max_body_bytes, minimum=1024, integer=True)
        _check_number("max_stored_bytes", max_stored_bytes, minimum=1_048_576, integer=True)
        _check_number("record_requests", record_requests, minimum=0, integer=True)
        public_url = _check_public_url(public_url)
        if not callable(clock):
            raise TypeError("clock must be a callable returning Unix seconds")

        self.key_id = _key_id(credentials)  # what the own organisation's events carry as keyId

        def new_state() -> SandboxState:
            return SandboxState(
                clock=clock,
                max_sessions=max_sessions,
                max_events=max_events,
                event_ttl=float(event_ttl),
                session_retention=max(float(session_retention), float(token_ttl)),
                max_stored_bytes=max_stored_bytes,
            )

        self._new_state = new_state
        own = Organisation(credentials, new_state(), self.key_id, _payloads.ORG_ID)
        self._ctx = SandboxContext(
            organisations=[own],
            clock=clock,
            token_ttl=float(token_ttl),
            min_poll_interval=float(min_poll_interval),
            signature_window=float(signature_window),
            campaign_delay=float(campaign_delay),
            max_body_bytes=max_body_bytes,
            public_url=public_url,
        )
        api = PlatformAPI(self._ctx)
        routes = [
            Route("/", self._index, methods=["GET"]),
            *api.routes(),
            *Portal(self._ctx).routes(),
        ]
        starlette = Starlette(routes=routes, exception_handlers={HTTPException: _json_http_error})
        self.recorder = RequestRecorder(record_requests)
        self._testing = TestingLayer(
            starlette, self.recorder, max_body_bytes, api.keys_ok
        )

    def __repr__(self) -> str:
        return f"SandboxApp(credentials={self.credentials!r}, token_ttl={self._ctx.token_ttl!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette writes into the scope it is given; never into the host's.
        await self._testing(dict(scope), receive, send)

    @property
    def credentials(self) -> Credentials:
        """The sandbox's own organisation's key pair; assign a new test pair to rotate it."""
        return self._ctx.organisations[0].credentials

    @credentials.setter
    def credentials(self, credentials: Credentials) -> None:
        if not isinstance(credentials, Credentials):
            raise TypeError(f"credentials must be a Credentials, got {type(credentials).__name__}")
        if not _is_test_pair(credentials):
            raise ValueError("credentials: the sandbox accepts test keys only")
        self._check_unused(credentials, keep=self._ctx.organisations[0])
        self._ctx.organisations[0].credentials = credentials

    # ── organisations ─────────────────────────────────────────────────────────────

    def _check_unused(self, credentials: Credentials, *, keep: Organisation | None = None) -> None:
        holder = self._ctx.by_api_key(credentials.api_key.get_secret_value())
        if holder is not None and holder is not keep:
            raise ValueError("credentials: another organisation of this sandbox has this api_key")

    def add_organisation(self, credentials: Credentials | None = None) -> Credentials:
        """Add an organisation (a platform account) and return its key pair.

        Its keys see only the sessions, campaigns and events created with them; the official
        SDKs work with them unchanged. `credentials` (a test pair) is generated when omitted.

        ```python
        acme = sandbox.add_organisation()
        sandbox.enqueue({"event": "assessment.completed"}, organisation=acme)
        ```
        """
        if credentials is None:
            credentials = generate_test_credentials()
        elif not isinstance(credentials, Credentials):
            raise TypeError(f"credentials must be a Credentials, got {type(credentials).__name__}")
        if not _is_test_pair(credentials):
            raise ValueError("credentials: the sandbox accepts test keys only")
        self._check_unused(credentials)
        org_id = f"RORG{len(self._ctx.organisations) + 1:06d}"
        self._ctx.organisations.append(
            Organisation(credentials, self._new_state(), _key_id(credentials), org_id)
        )
        return credentials

    @property
    def organisations(self) -> list[Credentials]:
        """Every organisation's key pair, the sandbox's own first."""
        return [org.credentials for org in self._ctx.organisations]

    def _organisation(self, organisation: Credentials | None) -> Organisation:
        if organisation is None:
            return self._ctx.organisations[0]
        if not isinstance(organisation, Credentials):
            raise TypeError(
                f"organisation must be a Credentials, got {type(organisation).__name__}"
            )
        org = self._ctx.by_api_key(organisation.api_key.get_secret_value())
        if org is None:
            raise ValueError("organisation: no organisation of this sandbox has these keys")
        return org

    # ── the sandbox as a test fake (docs/sandbox-testing.md) ──────────────────────

    def script(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0,
        drop: bool = False,
        times: int | None = 1,
        check_keys: bool = False,
    ) -> ScriptedAnswer:
        """Answer the next `times` matching requests this way instead of as the platform.

        `path` matches the end of the request path (`"/sessions"`); `method` may be
        `"*"`. `status` with `body` (dict/list → JSON, str → text, bytes as is) and
        `headers` is the answer; `delay` seconds pass first; `status=None` answers as
        usual after the delay; `drop=True` starts the answer and then drops the connection.
        `times=None` scripts every matching request; `check_keys=True` scripts only
        requests carrying the sandbox's keys (others are refused as usual). Rules are tried
        in the order they were added.

        ```python
        sandbox.script("POST", "/sessions", status=503, body={"error": "busy"}, times=2)
        ```
        """
        answer = make_answer(
            method, path, status=status, body=body, headers=headers, delay=delay, drop=drop,
            times=times, check_keys=check_keys,
        )
        self._testing.add(answer)
        return answer

    def clear_script(self) -> None:
        """Forget every scripted answer: the sandbox answers as the platform again."""
        self._testing.clear()

    def enqueue(
        self, event: Mapping[str, Any], *, organisation: Credentials | None = None
    ) -> dict[str, Any]:
        """Queue an event as given, for a poller of `organisation` (default: the sandbox's
        own) to read; `eventId`/`storedAt` are added when absent. Returns the stored event."""
        if not isinstance(event, Mapping):
            raise TypeError(f"event must be a mapping, got {type(event).__name__}")
        return self._organisation(organisation).state.enqueue_as_given(dict(event))

    def acknowledged_events(self, *, organisation: Credentials | None = None) -> list[str]:
        """Event ids `organisation` (default: the sandbox's own) acknowledged so far (each
        once), oldest first; bounded by max_events."""
        return self._organisation(organisation).state.acknowledged()

    def reset(self) -> None:
        """Forget every session, event, scripted answer and recorded request (of every
        organisation; the organisations and their keys stay)."""
        for org in self._ctx.organisations:
            org.state.clear()
            org.last_poll = None
        self._testing.clear()
        self.recorder.clear()

    @staticmethod
    def platform_url(sandbox_url: str) -> str:
        """The platform base URL an SDK needs: `<sandbox url>/api/v1`."""
        return sandbox_url.rstrip("/") + "/api/v1"

    @staticmethod
    def portal_script_url(sandbox_url: str) -> str:
        """Where `AssessmentPortal` is served: `<sandbox url>/portal/sdk.js`."""
        return sandbox_url.rstrip("/") + "/portal/sdk.js"

    def pending_events(self, *, organisation: Credentials | None = None) -> list[dict[str, Any]]:
        """A copy of `organisation`'s queue (default: the sandbox's own): unacknowledged
        events, oldest first."""
        return self._organisation(organisation).state.pending()

    async def _index(self, request: Request) -> Response:
        return HTMLResponse(_pages.index_page(self._ctx.base_url(request)))
