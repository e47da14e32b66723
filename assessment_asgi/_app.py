"""``AssessmentApp``: the ``POST /session`` endpoint as a mountable ASGI sub-application."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from ._auth import JWTAuthenticator
from ._body import (
    ALLOWED_METHODS,
    ClientDisconnected,
    check_content_type,
    parse_json,
    read_body,
)
from ._compat import to_async
from ._cors import CORSPolicy
from ._exceptions import AuthError, ConfigurationError
from ._keys import EnvironmentKeys, StaticKeys
from ._models import Recruiter, SessionRequest
from ._openapi import openapi_document
from ._ratelimit import PlatformCallLimiter, RecruiterRateLimiter
from ._recruiter import ClaimsRecruiterResolver
from ._redact import known_secrets, redacted_traceback
from ._responses import HTTPProblem, send_json, send_problem
from ._settings import AssessmentSettings
from ._types import Authenticate, KeyProvider, Receive, ResolveRecruiter, Scope, Send
from .platform import (
    Credentials,
    SmartAIAuthError,
    SmartAIClient,
    SmartAIError,
    SmartAIRateLimitError,
    SmartAITimeoutError,
    SmartAIValidationError,
    Timeout,
)

logger = logging.getLogger("assessment_asgi")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class AssessmentApp:
    """The SmartAI session endpoint, ready to mount under any prefix.

    With no arguments everything comes from ``ASSESSMENT_*`` variables and ``.env``;
    keyword arguments replace a hook or override one setting::

        app = Starlette()
        app.mount("/assessment", AssessmentApp())   # → POST /assessment/session

    Hooks (each sync or async): ``authenticate(request) -> principal``,
    ``resolve_recruiter(principal, body) -> Recruiter``, ``keys() -> Credentials``; and
    ``client``, a :class:`SmartAIClient` of your own.
    """

    def __init__(
        self,
        *,
        authenticate: Authenticate | None = None,
        resolve_recruiter: ResolveRecruiter | None = None,
        keys: KeyProvider | Credentials | None = None,
        client: SmartAIClient | None = None,
        settings: AssessmentSettings | None = None,
        **overrides: Any,
    ) -> None:
        unknown = sorted(set(overrides) - set(AssessmentSettings.model_fields))
        if unknown:
            raise TypeError(f"AssessmentApp() got unknown setting(s): {', '.join(unknown)}")
        if settings is None:
            settings = AssessmentSettings(**overrides)
        elif overrides:
            settings = AssessmentSettings.model_validate({**settings.model_dump(), **overrides})
        self.settings = settings
        for name, hook in (("authenticate", authenticate), ("resolve_recruiter", resolve_recruiter)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be callable, got {type(hook).__name__}")

        self._auth_problem: str | None = None
        self.authenticate: Authenticate | None = authenticate or self._default_authenticate()
        self.resolve_recruiter: ResolveRecruiter = resolve_recruiter or ClaimsRecruiterResolver(
            id_claim=settings.recruiter_id_claim, email_claim=settings.recruiter_email_claim
        )
        self.keys: KeyProvider = self._key_provider(keys, overrides)
        # Sync or async is decided once here, not on every request.
        self._call_authenticate = to_async(self.authenticate) if self.authenticate else None
        self._call_resolve_recruiter = to_async(self.resolve_recruiter)
        self._call_keys = to_async(self.keys)
        if client is not None and not isinstance(client, SmartAIClient):
            raise TypeError("client must be a SmartAIClient")
        self._client = client
        self._owns_client = client is None
        self._routes: dict[str, Handler] = {
            "/session": self._session,
            "/openapi.json": self._openapi,
        }
        # Abuse limits and CORS (see _ratelimit.py, _cors.py), all from settings.
        self.rate_limiter: RecruiterRateLimiter | None = (
            RecruiterRateLimiter(
                limit=settings.rate_limit, strategy=settings.rate_limit_strategy,
                storage_uri=settings.redis_url,
            )
            if settings.rate_limit.strip()
            else None
        )
        self.call_limiter = PlatformCallLimiter(
            max_concurrent=settings.max_concurrent_calls, queue_timeout=settings.queue_timeout
        )
        self.cors: CORSPolicy | None = (
            CORSPolicy(
                origins=settings.cors_origins, allow_credentials=settings.cors_allow_credentials,
                max_age=settings.cors_max_age,
            )
            if settings.cors_origins
            else None
        )

    # -- configuration -------------------------------------------------------------------

    def _default_authenticate(self) -> Authenticate | None:
        s = self.settings
        if s.jwt_secret is None and s.jwks_url is None and s.oidc_issuer is None:
            # Fail closed: every call is refused until one key source is configured.
            self._auth_problem = (
                "Recruiter authentication is not configured: set ASSESSMENT_JWT_SECRET, "
                "ASSESSMENT_JWKS_URL or ASSESSMENT_OIDC_ISSUER (or pass authenticate=)"
            )
            logger.warning(self._auth_problem)
            return None
        return JWTAuthenticator(
            secret=s.jwt_secret,
            jwks_url=s.jwks_url,
            oidc_issuer=s.oidc_issuer,
            issuer=s.jwt_issuer,
            audience=s.jwt_audience,
            algorithms=s.jwt_algorithms or None,
            leeway=s.jwt_leeway,
            key_cache_max_age=s.jwks_max_age,
            key_cache_max_stale=s.jwks_max_stale,
            key_refresh_interval=s.jwks_refresh_interval,
        )

    def _key_provider(
        self, keys: KeyProvider | Credentials | None, overrides: dict[str, Any]
    ) -> KeyProvider:
        if isinstance(keys, Credentials):
            return StaticKeys(keys.api_key, keys.secret_key)
        if keys is not None:
            if not callable(keys):
                raise TypeError("keys must be Credentials or a callable returning Credentials")
            return keys
        s = self.settings
        if "api_key" in overrides or "secret_key" in overrides:
            if s.api_key is None or s.secret_key is None:
                raise ConfigurationError(
                    "pass both api_key and secret_key (ASSESSMENT_API_KEY and "
                    "ASSESSMENT_SECRET_KEY), or neither",
                    setting="ASSESSMENT_API_KEY",
                )
            return StaticKeys(s.api_key, s.secret_key)
        return EnvironmentKeys(api_key=s.api_key, secret_key=s.secret_key)

    @property
    def client(self) -> SmartAIClient:
        """The platform client: the injected one, or one created on first use."""
        if self._client is None:
            s = self.settings
            if s.base_url is None:
                raise HTTPProblem("not_configured", "ASSESSMENT_BASE_URL is not set on the server")
            self._client = SmartAIClient(
                base_url=s.base_url,
                timeout=Timeout(
                    connect=min(s.connect_timeout, s.timeout),
                    read=min(s.read_timeout, s.timeout),
                    deadline=s.timeout,
                ),
                engine=s.engine,
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
        """Close the platform client's connections (it is rebuilt if used again)."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """Optional: ``Starlette(lifespan=assessment.lifespan)`` closes the pool at shutdown."""
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
        if self.cors is not None:
            send = self.cors.wrap_send(scope, send)
        handler = self._routes.get(_route_path(scope).rstrip("/") or "/")
        try:
            if handler is None:
                raise HTTPProblem("not_found")
            await handler(scope, receive, send)
        except HTTPProblem as problem:
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
            await send_problem(send, HTTPProblem("internal_error"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- GET /openapi.json ---------------------------------------------------------------

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in {"GET", "HEAD"}:
            raise HTTPProblem("method_not_allowed", headers={"Allow": "GET, HEAD"})
        # The server URL is where this request came through: the host's mount point.
        document = openapi_document(
            server_url=scope.get("root_path", ""), max_users=self.settings.max_users
        )
        await send_json(send, 200, document)

    # -- POST /session -------------------------------------------------------------------

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            cors = self.cors.preflight_headers(scope) if self.cors is not None else []
            await send({"type": "http.response.start", "status": 204,
                        "headers": [(b"allow", ALLOWED_METHODS.encode()), *cors]})
            await send({"type": "http.response.body", "body": b""})
            return
        if method != "POST":
            raise HTTPProblem("method_not_allowed", headers={"Allow": ALLOWED_METHODS})
        check_content_type(scope)
        s = self.settings
        body = await read_body(scope, receive, max_bytes=s.max_body_bytes, timeout=s.body_timeout)
        data = parse_json(body)

        principal = await self._authenticate(scope, body)
        request = self._validate(data)
        recruiter = await self._resolve(principal, request)
        if self.rate_limiter is not None:
            await self.rate_limiter.check(recruiter)
        credentials = await self._credentials()
        started = time.perf_counter()
        try:
            async with self.call_limiter.slot():
                result = await self.client.create_session(
                    users=[{"name": u.name, "email": u.email} for u in request.users],
                    recruiter_id=recruiter.id,
                    recruiter_email=recruiter.email,
                    credentials=credentials,
                )
        except SmartAIError as exc:
            raise _platform_problem(exc) from None
        logger.debug(
            "session created: %d candidate(s) in %.1f ms",
            len(request.users), (time.perf_counter() - started) * 1000,
        )
        await send_json(
            send, 200, {"success": True, "data": {"token": result.token, "expiresAt": result.expires_at}}
        )

    async def _authenticate(self, scope: Scope, body: bytes) -> Any:
        if self._call_authenticate is None:
            logger.error(self._auth_problem)
            raise HTTPProblem("not_configured", self._auth_problem)
        request = Request(scope, _replay(body))
        try:
            principal = await self._call_authenticate(request)
        except AuthError as exc:
            raise HTTPProblem(
                exc.code, exc.message,
                headers={"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None,
            ) from None
        if principal is None:
            raise HTTPProblem("unauthorized", headers={"WWW-Authenticate": "Bearer"})
        return principal

    def _validate(self, data: Any) -> SessionRequest:
        if isinstance(data, dict):
            users = data.get("users")
            if users is None or users == []:
                raise HTTPProblem("users_required")
            if isinstance(users, list) and len(users) > self.settings.max_users:
                raise HTTPProblem(
                    "too_many_users", f"At most {self.settings.max_users} users per session"
                )
        try:
            return SessionRequest.model_validate(data)
        except ValidationError as exc:
            details = exc.errors(include_url=False, include_input=False, include_context=False)
            raise HTTPProblem(
                "invalid_body",
                details=[{"loc": list(d["loc"]), "msg": d["msg"], "type": d["type"]} for d in details],
            ) from None

    async def _resolve(self, principal: Any, request: SessionRequest) -> Recruiter:
        try:
            recruiter = await self._call_resolve_recruiter(principal, request)
        except AuthError as exc:
            raise HTTPProblem(exc.code, exc.message) from None
        if recruiter is None:
            raise HTTPProblem("recruiter_required")
        if not isinstance(recruiter, Recruiter):
            raise TypeError("resolve_recruiter must return a Recruiter")
        return recruiter

    async def _credentials(self) -> Credentials:
        credentials = await self._call_keys()
        if credentials is None:
            missing = (
                self.keys.missing_setting()
                if isinstance(self.keys, EnvironmentKeys)
                else "the key provider"
            )
            message = f"{missing} is not set on the server"
            logger.error("cannot create a session: %s", message)
            raise HTTPProblem("not_configured", message)
        if not isinstance(credentials, Credentials):
            raise TypeError("the keys provider must return Credentials or None")
        return credentials


def _platform_problem(exc: SmartAIError) -> HTTPProblem:
    context = f"status={exc.status_code} request_id={exc.request_id}"
    if isinstance(exc, SmartAITimeoutError):
        logger.warning("platform timed out creating a session (%s)", context)
        return HTTPProblem("platform_timeout")
    if isinstance(exc, SmartAIRateLimitError):
        delay = exc.retry_after if exc.retry_after is not None else 5.0
        seconds = min(max(math.ceil(delay), 1), 60)
        logger.warning("platform rate limited this server (%s)", context)
        return HTTPProblem("platform_rate_limited", headers={"Retry-After": str(seconds)})
    if isinstance(exc, SmartAIAuthError):
        logger.error(
            "the platform refused this server's API key or secret (%s): "
            "check ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY", context,
        )
        return HTTPProblem("platform_auth_failed")
    if isinstance(exc, SmartAIValidationError):
        logger.error("the platform refused the session request (%s)", context)
        return HTTPProblem("platform_rejected")
    logger.error("platform error creating a session: %s (%s)", type(exc).__name__, context)
    return HTTPProblem("platform_error")


def _route_path(scope: Scope) -> str:
    # As Starlette's Mount does it: the sub-app sees the full path, with the mount prefix
    # added to root_path; the route is what follows root_path.
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path):][:1] in {"/", ""}:
        return path[len(root_path):]
    return path


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
