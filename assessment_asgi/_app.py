"""`AssessmentApp`: the `POST /session` endpoint as a mountable ASGI sub-application."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from . import _build as build
from ._audit import AuditHooks, OnSessionCreated, OnSessionRefused
from ._body import (
    ALLOWED_METHODS,
    ClientDisconnected,
    check_content_type,
    parse_json,
    read_body,
)
from ._compat import to_async
from ._cors import CORSPolicy
from ._exceptions import AuthError, ConfigurationError, HTTPException
from ._gc import freeze_startup
from ._idempotency import Idempotency, MemoryIdempotencyStore, RedisIdempotencyStore, read_key
from ._keys import KeyCaller
from ._models import Recruiter, SessionRequest, field_errors
from ._openapi import openapi_document
from ._outcomes import platform_problem
from ._ratelimit import PlatformCallLimiter, RecruiterRateLimiter
from ._recruiter import ClaimsRecruiterResolver
from ._redact import known_secrets, redacted_traceback
from ._responses import send_json, send_problem
from ._scope import replay, route_path
from ._settings import AssessmentSettings
from ._telemetry import RequestRecord, Telemetry, observe_platform_call
from ._types import (
    Authenticate,
    KeyProvider,
    Receive,
    ResolveRecruiter,
    Scope,
    Send,
)
from .platform import Credentials, SmartAIClient, SmartAIError

logger = logging.getLogger("assessment_asgi")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class AssessmentApp:
    """The SmartAI session endpoint, ready to mount under any prefix.

    With no arguments everything comes from `ASSESSMENT_*` variables and `.env`;
    keyword arguments replace a hook or override one setting:

    ```python
    app = Starlette()
    app.mount("/assessment", AssessmentApp())   # → POST /assessment/session
    ```

    Hooks (each sync or async): `authenticate(request) -> principal`,
    `resolve_recruiter(principal, body) -> Recruiter`, `keys() -> Credentials` (or
    `keys(recruiter)`: a key pair per tenant, e.g. `TenantKeys`); and
    `client`, a `SmartAIClient` of your own. Audit hooks `on_session_created` and
    `on_session_refused` (see `SessionCreated`, `SessionRefused`).
    """

    def __init__(
        self,
        *,
        authenticate: Authenticate | None = None,
        resolve_recruiter: ResolveRecruiter | None = None,
        keys: KeyProvider | Credentials | None = None,
        client: SmartAIClient | None = None,
        settings: AssessmentSettings | None = None,
        on_session_created: OnSessionCreated | None = None,
        on_session_refused: OnSessionRefused | None = None,
        **overrides: Any,
    ) -> None:
        self._settings = settings = build.settings_for(settings, overrides)
        for name, hook in (("authenticate", authenticate), ("resolve_recruiter", resolve_recruiter)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be callable, got {type(hook).__name__}")
        if client is not None and not isinstance(client, SmartAIClient):
            raise TypeError("client must be a SmartAIClient")

        # Hooks are fixed here, once: read-only properties below, decided sync or async once.
        self._authenticate_hook = authenticate or build.default_authenticate(settings)
        self._resolve_recruiter_hook: ResolveRecruiter = resolve_recruiter or ClaimsRecruiterResolver(
            id_claim=settings.recruiter_id_claim, email_claim=settings.recruiter_email_claim,
            tenant_claim=settings.tenant_claim,
        )
        self._keys_hook = build.key_provider(settings, keys, overrides)
        self._call_authenticate = to_async(self._authenticate_hook) if self._authenticate_hook else None
        self._call_resolve_recruiter = to_async(self._resolve_recruiter_hook)
        self._call_keys = KeyCaller(self._keys_hook, timeout=settings.keys_timeout,
                                    secrets=functools.partial(known_secrets, settings))
        self._owns_client = client is None
        self._client = client if client is not None else build.default_client(settings)
        self._routes: dict[str, Handler] = {
            "/session": self._session,
            "/openapi.json": self._openapi,
        }
        # Abuse limits and CORS (see _ratelimit.py, _cors.py), all from settings.
        self._rate_limiter = build.rate_limiter(settings)
        self._call_limiter = build.call_limiter(settings)
        self._cors = build.cors_policy(settings)
        self._http: Handler = self._cors.wrap(self._serve) if self._cors else self._serve
        self._freeze_pending = settings.gc_freeze
        # Features of POST /session (see _idempotency.py, _telemetry.py, _audit.py).
        self._audit = AuditHooks(on_session_created, on_session_refused)
        self._telemetry = Telemetry(tenant_metric_label=settings.tenant_metric_label)
        self._idempotency = Idempotency(
            RedisIdempotencyStore(settings.redis_url) if settings.redis_url is not None
            else MemoryIdempotencyStore(max_keys=settings.idempotency_max_keys),
            ttl=settings.idempotency_ttl,
            # A claim outlives the slowest request that may still complete it (an injected
            # client may wait longer than ASSESSMENT_TIMEOUT: a minute of margin), not more.
            lease=settings.timeout + settings.queue_timeout + 60.0,
        )

    # -- configuration (read-only: fixed at construction) ----------------------------------

    @property
    def settings(self) -> AssessmentSettings:
        """The checked settings this app was built with."""
        return self._settings

    @property
    def authenticate(self) -> Authenticate | None:
        """The `authenticate` hook (None: no key source configured, every call refused)."""
        return self._authenticate_hook

    @property
    def resolve_recruiter(self) -> ResolveRecruiter:
        """The `resolve_recruiter` hook."""
        return self._resolve_recruiter_hook

    @property
    def keys(self) -> KeyProvider:
        """The `keys` hook: the platform credentials, asked for on every request."""
        return self._keys_hook

    @property
    def cors(self) -> CORSPolicy | None:
        """The CORS policy, or None when no origins are configured."""
        return self._cors

    @property
    def rate_limiter(self) -> RecruiterRateLimiter | None:
        """The per-recruiter rate limit, or None when `ASSESSMENT_RATE_LIMIT` is empty."""
        return self._rate_limiter

    @property
    def call_limiter(self) -> PlatformCallLimiter:
        """The cap on concurrent platform calls."""
        return self._call_limiter

    @property
    def telemetry(self) -> Telemetry:
        """OpenTelemetry spans and metrics (a no-op without `opentelemetry-api`)."""
        return self._telemetry

    @property
    def idempotency(self) -> Idempotency:
        """The `Idempotency-Key` store: in memory, or Redis with `ASSESSMENT_REDIS_URL`."""
        return self._idempotency

    @property
    def client(self) -> SmartAIClient:
        """The platform client: the injected one, or the one built from the settings.

        `ConfigurationError` when neither a client nor `ASSESSMENT_BASE_URL` was given.
        """
        if self._client is None:
            raise ConfigurationError(
                "ASSESSMENT_BASE_URL is not set (or pass client=)", setting="ASSESSMENT_BASE_URL"
            )
        return self._client

    def __repr__(self) -> str:
        return (
            f"AssessmentApp(authenticate={self.authenticate!r}, "
            f"resolve_recruiter={self.resolve_recruiter!r}, keys={self.keys!r}, "
            f"base_url={self.settings.base_url!r})"
        )

    # -- resources -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the platform client's connections (they are reopened if used again)."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        await self._idempotency.aclose()
        if self._rate_limiter is not None:
            await self._rate_limiter.aclose()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """Optional: `Starlette(lifespan=assessment.lifespan)` closes the pool at shutdown."""
        self._freeze()
        try:
            yield
        finally:
            await self.aclose()

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        await self._http(scope, receive, send)
        if self._freeze_pending:  # no lifespan reached this app: start-up ends with a request
            self._freeze()

    def _freeze(self) -> None:
        if self._freeze_pending:
            self._freeze_pending = False
            freeze_startup()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._routes.get(route_path(scope).rstrip("/") or "/")
        try:
            if handler is None:
                raise HTTPException("not_found")
            await handler(scope, receive, send)
        except HTTPException as problem:
            # Raised by the guard, a hook (the public problem type) or the platform mapping.
            await send_problem(send, problem)
        except ClientDisconnected:
            return
        except Exception as exc:
            # A bug or a failing hook: the caller gets a generic 500, never a traceback; the
            # log gets the traceback with known secrets taken out (see _redact.py).
            logger.error(
                "unhandled error in the assessment endpoint\n%s",
                redacted_traceback(exc, known_secrets(self.settings, scope)),
            )
            await send_problem(send, HTTPException("internal_error"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- GET /openapi.json ---------------------------------------------------------------

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in {"GET", "HEAD"}:
            raise HTTPException("method_not_allowed", headers={"Allow": "GET, HEAD"})
        # The server URL is where this request came through: the host's mount point.
        document = openapi_document(
            server_url=scope.get("root_path", ""), max_users=self.settings.max_users
        )
        await send_json(send, 200, document)

    # -- POST /session -------------------------------------------------------------------

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":  # a CORS preflight was answered by the CORS middleware
            await send({"type": "http.response.start", "status": 204,
                        "headers": [(b"allow", ALLOWED_METHODS.encode())]})
            await send({"type": "http.response.body", "body": b""})
            return
        if method != "POST":
            raise HTTPException("method_not_allowed", headers={"Allow": ALLOWED_METHODS})
        with self._telemetry.request(scope=scope) as record:
            try:
                await self._create(scope, receive, send, record)
            except HTTPException as problem:
                record.refused(problem.code, problem.status_code)
                await send_problem(send, problem)
            except ClientDisconnected:
                raise
            except Exception:
                record.refused("internal_error", 500)
                await self._audit.report(record)
                raise
        await self._audit.report(record)  # after the answer: a slow hook delays nobody

    async def _create(self, scope: Scope, receive: Receive, send: Send, record: RequestRecord) -> None:
        check_content_type(scope)
        key = read_key(scope)
        s = self.settings
        body = await read_body(scope, receive, max_bytes=s.max_body_bytes, timeout=s.body_timeout)
        data = parse_json(body)

        principal = await self._authenticate(scope, body, receive)
        request = self._validate(data)
        record.candidates = tuple(request.users)
        recruiter = await self._resolve(principal, request)
        record.recruiter = recruiter
        limiter = self.rate_limiter
        if limiter is not None and key is None:  # with a key: counted together with its claim
            await limiter.check(recruiter)
        if key is None:
            answer = await self._create_session(request, recruiter)
        else:
            create = functools.partial(self._create_session, request, recruiter)
            answer, record.replayed = await self._idempotency.run(key, recruiter, data, create, limiter)
        record.created, record.expires_at = not record.replayed, answer["expiresAt"]
        await send_json(send, 200, {"success": True, "data": answer},
                        {"Idempotent-Replayed": "true"} if record.replayed else None)

    async def _create_session(self, request: SessionRequest, recruiter: Recruiter) -> dict[str, Any]:
        credentials = await self._credentials(recruiter)
        started = time.perf_counter()
        try:
            async with self.call_limiter.slot():
                result = await self.client.create_session(
                    users=[{"name": u.name, "email": u.email} for u in request.users],
                    recruiter_id=recruiter.id,
                    recruiter_email=recruiter.email,
                    workflow_id=request.workflow_id,
                    credentials=credentials,
                )
        except SmartAIError as exc:
            raise platform_problem(exc) from None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "session created: %d candidate(s) in %.1f ms",
                len(request.users), (time.perf_counter() - started) * 1000,
            )
        return {"token": result.token, "expiresAt": result.expires_at}

    #: Pass to a `SmartAIClient(on_call=...)` you inject: platform spans and request ids.
    observe_platform_call = staticmethod(observe_platform_call)

    async def _authenticate(self, scope: Scope, body: bytes, receive: Receive) -> Any:
        if self._call_authenticate is None:
            logger.error(build.AUTH_NOT_CONFIGURED)
            raise HTTPException("not_configured", build.AUTH_NOT_CONFIGURED)
        # AuthError, PermissionDenied or any HTTPException from the hook answers as it is.
        principal = await self._call_authenticate(Request(scope, replay(body, receive)))
        if principal is None:
            raise AuthError()
        return principal

    def _validate(self, data: Any) -> SessionRequest:
        if isinstance(data, dict):
            users = data.get("users")
            if users is None or users == []:
                raise HTTPException("users_required")
            if isinstance(users, list) and len(users) > self._settings.max_users:
                raise HTTPException(
                    "too_many_users", f"At most {self._settings.max_users} users per session"
                )
        try:
            return SessionRequest.model_validate(data)
        except ValidationError as exc:
            raise HTTPException("invalid_body", details=field_errors(exc)) from None

    async def _resolve(self, principal: Any, request: SessionRequest) -> Recruiter:
        recruiter = await self._call_resolve_recruiter(principal, request)
        if recruiter is None:
            raise HTTPException("recruiter_required")
        if not isinstance(recruiter, Recruiter):
            raise TypeError("resolve_recruiter must return a Recruiter")
        return recruiter

    async def _credentials(self, recruiter: Recruiter) -> Credentials:
        """What the platform call needs from the server's configuration: a client and keys
        (the recruiter's: see `KeyCaller` for how the keys hook is asked)."""
        if self._client is None:
            logger.error("cannot create a session: ASSESSMENT_BASE_URL is not set")
            raise HTTPException("not_configured", "ASSESSMENT_BASE_URL is not set on the server")
        return await self._call_keys(recruiter)
