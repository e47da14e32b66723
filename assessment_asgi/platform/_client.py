"""The async SmartAI client: every operation of the wire contract, resilient and quiet."""

from __future__ import annotations

import functools
import http.cookiejar
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit

import anyio
import httpx2
from pydantic import BaseModel, ValidationError

from .._exceptions import ConfigurationError
from .._urls import secure_url_problem
from ._config import DEFAULT_CAMPAIGN_TIMEOUT, DEFAULT_TIMEOUT, RetryPolicy, Timeout
from ._credentials import Credentials
from ._errors import SmartAIError, SmartAIResponseError, SmartAITimeoutError
from ._exchange import Failure, Op, exchange, sensitive
from ._models import AckResult, Assessment, Campaign, Event, EventBatch, InvalidEvent, SessionToken
from ._observe import OnCall, PlatformCall, notify
from ._pool import LoopBoundPool
from ._signing import canonical_json, signature

logger = logging.getLogger("assessment_asgi.platform")

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
ACK_CHUNK = 100
_USER_AGENT = "assessment-asgi (python; +SmartAIClient)"

_M = TypeVar("_M", bound=BaseModel)

_CREATE_SESSION = Op("create_session", "POST", "/sessions", "secret", repeatable=False)
_CREATE_CAMPAIGN = Op("create_campaign", "POST", "/campaigns", "secret", repeatable=False)
_LIST_ASSESSMENTS = Op("list_assessments", "GET", "/assessments", "signed", repeatable=True)
_POLL_EVENTS = Op("poll_events", "GET", "/webhook/events", "key", repeatable=True, queue=True)
_ACK_EVENTS = Op("acknowledge_events", "POST", "/webhook/events/ack", "key", repeatable=True, queue=True)
_OPERATIONS = (_CREATE_SESSION, _CREATE_CAMPAIGN, _LIST_ASSESSMENTS, _POLL_EVENTS, _ACK_EVENTS)


def _log_giving_up(op: Op, error: SmartAIError, attempts: int) -> None:
    logger.warning(
        "smartai %s failed: %s (status %s, request id %s, %d attempt(s))",
        op.name,
        type(error).__name__,
        error.status_code,
        error.request_id,
        attempts,
        extra={
            "operation": op.name,
            "status": error.status_code,
            "request_id": error.request_id,
            "attempt": attempts,
        },
    )


class _Trace:
    """What one operation's attempts saw, for the ``on_call`` observer."""

    __slots__ = ("attempts", "request_id", "status")

    def __init__(self) -> None:
        self.attempts = 0
        self.status: int | None = None
        self.request_id: str | None = None


class _PooledClient(httpx2.AsyncClient):
    """The client's own pool. ``fast`` is its own aiohttp transport, when it has one:
    requests then skip httpx2's Request/Response layer (see ``exchange``)."""

    fast: Any = None


class _Borrowed(httpx2.AsyncBaseTransport):
    """A caller's transport: used, never closed by us."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


def _default_transport(library: str, limits: httpx2.Limits) -> httpx2.AsyncBaseTransport | None:
    """aiohttp's pool on asyncio when installed (measured faster), else httpx2's own."""
    if library != "asyncio":
        return None
    try:
        from ._aiohttp_transport import AiohttpTransport
    except ImportError:  # aiohttp is the optional [aiohttp] extra
        return None
    return AiohttpTransport(
        limit=limits.max_connections or 0,
        keepalive_timeout=limits.keepalive_expiry or 4.0,
    )


def _validate_base_url(value: object, setting: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{setting} must be a str, got {type(value).__name__}")
    url = value.strip().rstrip("/")
    # The keys travel in headers of every call: https, or http to loopback / in-process only.
    problem = secure_url_problem(url, in_process=True)
    if problem is not None:
        raise ConfigurationError(f"{setting} {problem} (such as https://host/api/v1)", setting=setting)
    return url


def _text(value: object, setting: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{setting} must be a non-empty string")
    return value


def _optional_text(value: object, setting: str) -> str | None:
    if value is None:
        return None
    return _text(value, setting)


def _user(entry: object, index: int) -> dict[str, str]:
    if isinstance(entry, Mapping):
        name, email = entry.get("name"), entry.get("email")
    else:
        name, email = getattr(entry, "name", None), getattr(entry, "email", None)
    return {
        "name": _text(name, f"users[{index}].name"),
        "email": _text(email, f"users[{index}].email"),
    }


def _users(users: object) -> list[dict[str, str]]:
    if isinstance(users, str | bytes | Mapping) or not isinstance(users, Iterable):
        raise TypeError("users must be a sequence of {name, email} entries")
    result = [_user(entry, index) for index, entry in enumerate(users)]
    if not result:
        raise ValueError("users must not be empty")
    return result


class SmartAIClient:
    """Async client for the SmartAI Assessment platform, one pooled connection set per loop.

    ::

        async with SmartAIClient(base_url="https://platform.example/api/v1",
                                 credentials=Credentials(api_key, secret_key)) as client:
            tok = await client.create_session(users=[{"name": "Ada", "email": "ada@example.com"}],
                                              recruiter_id="r-1")

    ``timeout`` (a :class:`Timeout` or a deadline in seconds) covers every operation but
    campaign creation, which has its own long ``campaign_timeout``; ``operation_timeouts``
    overrides single operations (``{"poll_events": 30}``). ``retry`` is a
    :class:`RetryPolicy` or a number of attempts. ``http_client`` or ``transport`` replace
    the default pool (aiohttp's on asyncio when installed, httpx2's otherwise) and are
    never closed by this client.

    ``on_call`` is told about every operation once it ends, with a :class:`PlatformCall`
    (operation, engine, attempts, status, request id, duration: never personal data).

    Every operation accepts ``credentials=`` (per-call keys, for rotation) and ``timeout=``.
    Errors are the ``SmartAI*Error`` classes; ``ValueError``/``TypeError`` for bad arguments.
    """

    def __init__(
        self,
        *,
        base_url: str,
        queue_base_url: str | None = None,
        credentials: Credentials | None = None,
        timeout: Timeout | float = DEFAULT_TIMEOUT,
        campaign_timeout: Timeout | float = DEFAULT_CAMPAIGN_TIMEOUT,
        operation_timeouts: Mapping[str, Timeout | float] | None = None,
        retry: RetryPolicy | int = RetryPolicy(),  # noqa: B008 - frozen, immutable default
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        limits: httpx2.Limits | None = None,
        user_agent: str = _USER_AGENT,
        on_call: OnCall | None = None,
    ) -> None:
        self._base_url = _validate_base_url(base_url, "base_url")
        self._queue_base_url = (
            self._base_url if queue_base_url is None else _validate_base_url(queue_base_url, "queue_base_url")
        )
        if credentials is not None and not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a Credentials instance")
        self._credentials = credentials
        self._timeout = Timeout.coerce(timeout, setting="timeout", base=DEFAULT_TIMEOUT)
        campaign = Timeout.coerce(campaign_timeout, setting="campaign_timeout", base=DEFAULT_CAMPAIGN_TIMEOUT)
        self._timeouts: dict[str, Timeout] = {op.name: self._timeout for op in _OPERATIONS}
        self._timeouts[_CREATE_CAMPAIGN.name] = campaign
        for name, value in (operation_timeouts or {}).items():
            if name not in self._timeouts:
                raise ValueError(
                    f"operation_timeouts: unknown operation {name!r} (one of {sorted(self._timeouts)})"
                )
            self._timeouts[name] = Timeout.coerce(
                value, setting=f"operation_timeouts[{name!r}]", base=self._timeouts[name]
            )
        self._retry = RetryPolicy.coerce(retry)
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
            raise TypeError("max_response_bytes must be an int")
        if max_response_bytes < 1024:
            raise ValueError("max_response_bytes must be at least 1024")
        self._max_response_bytes = max_response_bytes
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        if http_client is not None and not isinstance(http_client, httpx2.AsyncClient):
            raise TypeError("http_client must be an httpx2.AsyncClient")
        if transport is not None and not isinstance(transport, httpx2.AsyncBaseTransport):
            raise TypeError("transport must be an httpx2.AsyncBaseTransport")
        self._http_client = http_client
        self._transport = transport
        self._limits = limits or httpx2.Limits(
            max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0
        )
        self._user_agent = _text(user_agent, "user_agent")
        self._pool = LoopBoundPool(self._build_http_client)
        if on_call is not None and not callable(on_call):
            raise TypeError("on_call must be callable")
        self._on_call = on_call

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, credentials={self._credentials!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def queue_base_url(self) -> str:
        return self._queue_base_url

    @property
    def credentials(self) -> Credentials | None:
        """The default credentials (values hidden by ``Credentials`` itself)."""
        return self._credentials

    # ─── lifecycle ───────────────────────────────────────────────────────────────

    async def __aenter__(self) -> SmartAIClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close this client's pool; the next call builds a new one. Never closes an
        injected ``http_client`` or ``transport``."""
        await self._pool.aclose()

    def _build_http_client(self, library: str) -> httpx2.AsyncClient:
        fast: httpx2.AsyncBaseTransport | None = None
        if self._transport is not None:
            transport: httpx2.AsyncBaseTransport | None = _Borrowed(self._transport)
        else:
            transport = fast = _default_transport(library, self._limits)
        # Cookies are refused: per-call credentials must never share a platform session.
        jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        client = _PooledClient(
            transport=transport,
            limits=self._limits,
            follow_redirects=False,
            cookies=jar,
            headers={"user-agent": self._user_agent, "accept": "application/json"},
        )
        client.fast = fast
        return client

    def _http(self) -> httpx2.AsyncClient:
        if self._http_client is not None:
            return self._http_client
        return self._pool.get()

    # ─── operations ──────────────────────────────────────────────────────────────

    async def create_session(
        self,
        *,
        users: Sequence[Any] | None = None,
        name: str | None = None,
        email: str | None = None,
        candidate_id: str | None = None,
        recruiter_id: str | None = None,
        recruiter_email: str | None = None,
        workflow_id: str | None = None,
        credentials: Credentials | None = None,
        timeout: Timeout | float | None = None,
    ) -> SessionToken:
        """Create a portal session: bulk (``users``) or single (``name`` + ``email``).

        Never retried once the request may have reached the platform (a duplicate session
        is worse than an error); fields left as ``None`` are not sent at all.
        """
        body: dict[str, Any] = self._candidates(users, name, email)
        if candidate_id is not None:
            if users is not None:
                raise ValueError("candidate_id is for single mode: pass name and email")
            body["candidateId"] = _text(candidate_id, "candidate_id")
        recruiter_id = _optional_text(recruiter_id, "recruiter_id")
        recruiter_email = _optional_text(recruiter_email, "recruiter_email")
        if recruiter_id is None and recruiter_email is None:
            raise ValueError("recruiter_id or recruiter_email is required")
        if recruiter_id is not None:
            body["recruiterId"] = recruiter_id
        if recruiter_email is not None:
            body["recruiterEmail"] = recruiter_email
        if workflow_id is not None:
            body["workflowId"] = _text(workflow_id, "workflow_id")
        data = await self._call(_CREATE_SESSION, body=body, credentials=credentials, timeout=timeout)
        return self._model(SessionToken, data, _CREATE_SESSION)

    async def create_campaign(
        self,
        *,
        workflow_id: str,
        method: Literal["programming", "knowledge"],
        users: Sequence[Any] | None = None,
        name: str | None = None,
        email: str | None = None,
        job_title: str | None = None,
        job_description: str | None = None,
        experience: str | None = None,
        level: str | None = None,
        credentials: Credentials | None = None,
        timeout: Timeout | float | None = None,
    ) -> Campaign:
        """Create a campaign and generate its assessment (slow: its own long timeout).

        Never retried once the request may have reached the platform.
        """
        if method not in ("programming", "knowledge"):
            raise ValueError('method must be "programming" or "knowledge"')
        body: dict[str, Any] = {"workflowId": _text(workflow_id, "workflow_id"), "method": method}
        body.update(self._candidates(users, name, email))
        for key, value, setting in (
            ("jobTitle", job_title, "job_title"),
            ("jobDescription", job_description, "job_description"),
            ("experience", experience, "experience"),
            ("level", level, "level"),
        ):
            if value is not None:
                body[key] = _text(value, setting)
        data = await self._call(
            _CREATE_CAMPAIGN,
            body=body,
            credentials=credentials,
            timeout=timeout,
        )
        return self._model(Campaign, data, _CREATE_CAMPAIGN)

    async def list_assessments(
        self,
        *,
        credentials: Credentials | None = None,
        timeout: Timeout | float | None = None,
    ) -> list[Assessment]:
        """The organisation's assessments (a signed ``GET``; retried when safe)."""
        data = await self._call(_LIST_ASSESSMENTS, credentials=credentials, timeout=timeout)
        if isinstance(data, Mapping):
            for key in ("assessments", "items", "results"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
        if not isinstance(data, list):
            raise SmartAIResponseError(
                "list_assessments: the platform's data is not a list",
                operation=_LIST_ASSESSMENTS.name,
            )
        return [self._model(Assessment, item, _LIST_ASSESSMENTS) for item in data]

    async def poll_events(
        self,
        *,
        limit: int = 50,
        since: int | datetime | None = None,
        credentials: Credentials | None = None,
        timeout: Timeout | float | None = None,
    ) -> EventBatch:
        """Pull up to ``limit`` (1-100) pending events; ``since`` is Unix ms or a datetime.

        Every event type is returned, and ``pending_count`` is the platform's own count.
        An event that does not fit :class:`Event` is listed in ``invalid`` (its id, type and
        failing fields) instead of failing the whole batch.
        """
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError("limit must be an int")
        if not 1 <= limit <= 100:
            raise ValueError("limit must be between 1 and 100")
        query: dict[str, str] = {"limit": str(limit)}
        if since is not None:
            if isinstance(since, datetime):
                if since.tzinfo is None:
                    raise ValueError("since must be timezone-aware")
                since = int(since.timestamp() * 1000)
            if isinstance(since, bool) or not isinstance(since, int) or since < 0:
                raise ValueError("since must be Unix milliseconds >= 0 or a datetime")
            query["since"] = str(since)
        data = await self._call(_POLL_EVENTS, query=query, credentials=credentials, timeout=timeout)
        if not isinstance(data, Mapping) or not isinstance(data.get("events", []), list):
            raise SmartAIResponseError(
                "poll_events: the platform's data has no events list",
                operation=_POLL_EVENTS.name,
            )
        events: list[Event] = []
        invalid: list[InvalidEvent] = []
        for raw in data.get("events", []):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("eventId"), str):
                # It could never be acknowledged: skipping it keeps the queue moving.
                logger.warning("skipped a queued event without an eventId")
                continue
            # One by one: an event that does not fit is reported, never the whole batch.
            try:
                events.append(Event.model_validate(raw))
            except ValidationError as exc:
                # Locations only: an error's input and message may quote personal data.
                fields = {".".join(map(str, e["loc"])) for e in exc.errors(include_input=False)}
                kind = raw.get("event")
                invalid.append(
                    InvalidEvent(
                        event_id=raw["eventId"],
                        event=kind if isinstance(kind, str) else "",
                        fields=tuple(sorted(fields)),
                        payload=dict(raw),
                    )
                )
        pending = data.get("pendingCount", 0)
        if isinstance(pending, bool) or not isinstance(pending, int) or pending < 0:
            pending = 0
        return EventBatch(events=events, invalid=invalid, pending_count=pending)

    async def acknowledge_events(
        self,
        event_ids: Iterable[str | Event],
        *,
        credentials: Credentials | None = None,
        timeout: Timeout | float | None = None,
    ) -> AckResult:
        """Remove events from the queue, 100 ids per request; duplicates are sent once.

        Acknowledging is idempotent on the platform, so each chunk is retried when safe.
        An empty list sends nothing.
        """
        if isinstance(event_ids, str | bytes):
            raise TypeError("event_ids must be a collection of ids, not one string")
        ids: list[str] = []
        seen: set[str] = set()
        for index, item in enumerate(event_ids):
            value = item.event_id if isinstance(item, Event) else item
            value = _text(value, f"event_ids[{index}]")
            if value not in seen:
                seen.add(value)
                ids.append(value)
        total = 0
        for start in range(0, len(ids), ACK_CHUNK):
            chunk = ids[start : start + ACK_CHUNK]
            data = await self._call(
                _ACK_EVENTS, body={"eventIds": chunk}, credentials=credentials, timeout=timeout
            )
            total += self._model(AckResult, data if data is not None else {}, _ACK_EVENTS).acknowledged
        return AckResult(acknowledged=total)

    # ─── machinery ───────────────────────────────────────────────────────────────

    @staticmethod
    def _candidates(users: Sequence[Any] | None, name: str | None, email: str | None) -> dict[str, Any]:
        if users is not None:
            if name is not None or email is not None:
                raise ValueError("pass users (bulk mode) or name and email, not both")
            return {"users": _users(users)}
        return {"name": _text(name, "name"), "email": _text(email, "email")}

    def _model(self, model: type[_M], data: Any, op: Op) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError:
            # No ``from``: a validation error quotes the input, which may be a token.
            raise SmartAIResponseError(
                f"{op.name}: the platform's data does not match {model.__name__}",
                operation=op.name,
            ) from None

    def _resolve_credentials(self, credentials: Credentials | None) -> Credentials:
        if credentials is None:
            credentials = self._credentials
        if credentials is None:
            raise ConfigurationError(
                "no platform credentials: pass credentials= to SmartAIClient or to the call",
                setting="credentials",
            )
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a Credentials instance")
        return credentials

    def _url(self, op: Op, query: Mapping[str, str] | None) -> tuple[str, str]:
        base = self._queue_base_url if op.queue else self._base_url
        path = urlsplit(base).path + op.path
        url = base + op.path
        if query:
            url += "?" + urlencode(query)
        return url, path

    async def _call(
        self,
        op: Op,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        credentials: Credentials | None,
        timeout: Timeout | float | None,
    ) -> Any:
        if self._on_call is None:
            data, _ = await self._attempts(op, body=body, query=query, credentials=credentials,
                                           timeout=timeout, trace=None)
            return data
        trace = _Trace()
        started_ns, started = time.time_ns(), time.perf_counter()
        error: str | None = None
        try:
            data, _ = await self._attempts(op, body=body, query=query, credentials=credentials,
                                           timeout=timeout, trace=trace)
            return data
        except SmartAIError as exc:
            error = type(exc).__name__
            trace.status = exc.status_code if exc.status_code is not None else trace.status
            trace.request_id = exc.request_id or trace.request_id
            raise
        finally:
            if error is not None or trace.status is not None:
                notify(self._on_call, PlatformCall(
                    operation=op.name, engine=self._engine_name(), attempts=trace.attempts,
                    status_code=trace.status, request_id=trace.request_id, error=error,
                    start_time_ns=started_ns, duration=time.perf_counter() - started,
                ))

    def _engine_name(self) -> str:
        if self._http_client is not None or self._transport is not None:
            return "httpx2"
        client = self._pool.get()
        return "aiohttp" if getattr(client, "fast", None) is not None else "httpx2"

    async def _attempts(
        self,
        op: Op,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        credentials: Credentials | None,
        timeout: Timeout | float | None,
        trace: _Trace | None,
    ) -> tuple[Any, None]:
        base_timeout = self._timeouts[op.name]
        limits = (
            base_timeout if timeout is None else Timeout.coerce(timeout, setting="timeout", base=base_timeout)
        )
        creds = self._resolve_credentials(credentials)
        content = canonical_json(body) if body is not None else b""
        redact = functools.partial(sensitive, creds, body)  # needed only on errors
        url, path = self._url(op, query)
        deadline_at = anyio.current_time() + limits.deadline
        with anyio.move_on_after(limits.deadline):
            attempt = 0
            while True:
                attempt += 1
                if trace is not None:
                    trace.attempts = attempt
                try:
                    http_client = self._http()
                    data, status, request_id = await exchange(
                        http_client,
                        op,
                        url=url,
                        path=path,
                        headers=self._headers(op, path, content, creds),
                        content=content,
                        limits=limits,
                        attempt=attempt,
                        redact=redact,
                        max_bytes=self._max_response_bytes,
                        fast=getattr(http_client, "fast", None),
                    )
                    if trace is not None:
                        trace.status, trace.request_id = status, request_id
                    return data, None
                except Failure as failure:
                    if trace is not None:
                        trace.status = failure.error.status_code
                        trace.request_id = failure.error.request_id
                    retry_safe = not failure.sent or (op.repeatable and failure.transient)
                    delay = self._retry.delay(attempt, failure.retry_after)
                    if (
                        attempt >= self._retry.attempts
                        or not retry_safe
                        or delay is None
                        or anyio.current_time() + delay >= deadline_at
                    ):
                        _log_giving_up(op, failure.error, attempt)
                        raise failure.error from failure.__cause__
                    logger.warning(
                        "smartai %s failed (%s), retrying in %.2fs (attempt %d of %d)",
                        op.name,
                        type(failure.error).__name__,
                        delay,
                        attempt,
                        self._retry.attempts,
                        extra={
                            "operation": op.name,
                            "attempt": attempt,
                            "request_id": failure.error.request_id,
                        },
                    )
                    await anyio.sleep(delay)
        logger.warning(
            "smartai %s gave up: no answer within the %.1fs deadline",
            op.name,
            limits.deadline,
            extra={"operation": op.name},
        )
        raise SmartAITimeoutError(
            f"{op.name}: no answer within the {limits.deadline:g}s deadline", operation=op.name
        )

    def _headers(self, op: Op, path: str, content: bytes, creds: Credentials) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "x-api-key": creds.api_key.get_secret_value(),
        }
        if op.auth == "secret":
            headers["x-secret-key"] = creds.secret_key.get_secret_value()
        elif op.auth == "signed":
            timestamp = str(int(time.time() * 1000))
            headers["x-timestamp"] = timestamp
            headers["x-signature"] = signature(
                creds.secret_key.get_secret_value(), op.method, path, timestamp, content
            )
        return headers
