"""The async SmartAI client: every operation of the wire contract, resilient and quiet."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx2
from pydantic import BaseModel, ValidationError

from .._exceptions import ConfigurationError
from .._urls import secure_url_problem
from . import _engines
from ._arguments import candidates as _candidates
from ._arguments import optional_text as _optional_text
from ._arguments import text as _text
from ._calls import Caller, parse
from ._config import DEFAULT_CAMPAIGN_TIMEOUT, DEFAULT_TIMEOUT, RetryPolicy, Timeout
from ._credentials import Credentials
from ._errors import SmartAIResponseError
from ._exchange import Op
from ._models import AckResult, Assessment, Campaign, Event, EventBatch, InvalidEvent, SessionToken
from ._observe import OnCall

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("assessment_asgi.platform")

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
ACK_CHUNK = 100
_USER_AGENT = "assessment-asgi (python; +SmartAIClient)"

_M = TypeVar("_M", bound=BaseModel)
_DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)

_CREATE_SESSION = Op("create_session", "POST", "/sessions", "secret", repeatable=False)
_CREATE_CAMPAIGN = Op("create_campaign", "POST", "/campaigns", "secret", repeatable=False)
_LIST_ASSESSMENTS = Op("list_assessments", "GET", "/assessments", "signed", repeatable=True)
_POLL_EVENTS = Op("poll_events", "GET", "/webhook/events", "key", repeatable=True, queue=True)
_ACK_EVENTS = Op("acknowledge_events", "POST", "/webhook/events/ack", "key", repeatable=True, queue=True)
_OPERATIONS = (_CREATE_SESSION, _CREATE_CAMPAIGN, _LIST_ASSESSMENTS, _POLL_EVENTS, _ACK_EVENTS)


def _validate_base_url(value: object, setting: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{setting} must be a str, got {type(value).__name__}")
    url = value.strip().rstrip("/")
    # The keys travel in headers of every call: https, or http to loopback / in-process only.
    problem = secure_url_problem(url, in_process=True)
    if problem is not None:
        raise ConfigurationError(f"{setting} {problem} (such as https://host/api/v1)", setting=setting)
    return url


class SmartAIClient:
    """Async client for the SmartAI Assessment platform, one pooled connection set per loop.

    ```python
    async with SmartAIClient(base_url="https://platform.example/api/v1",
                             credentials=Credentials(api_key, secret_key)) as client:
        tok = await client.create_session(users=[{"name": "Ada", "email": "ada@example.com"}],
                                          recruiter_id="r-1")
    ```

    `timeout` (a `Timeout` or a deadline in seconds) covers every operation but
    campaign creation, which has its own long `campaign_timeout`; `operation_timeouts`
    overrides single operations (`{"poll_events": 30}`). `retry` is a
    `RetryPolicy` or a number of attempts.

    `engine` picks what carries the requests: `"aiohttp"` (the default on asyncio when
    installed), `"httpx2"` (the default otherwise, and on trio), `"httpx"` (the `httpx`
    extra) or the opt-in `"pyreqwest"` (fastest; its limits are in the "Engines" section of
    the docs' platform client page). `http_client` or `transport` (httpx2's or httpx's: the engine of that
    library carries the calls) replace the pool and are never closed by this client.

    `on_call` is told about every operation once it ends, with a `PlatformCall`
    (operation, engine, attempts, status, request id, duration: never personal data).

    Every operation accepts `credentials=` (per-call keys, for rotation) and `timeout=`.
    Errors are the `SmartAI*Error` classes; `ValueError`/`TypeError` for bad arguments.
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
        http_client: httpx2.AsyncClient | httpx.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | httpx.AsyncBaseTransport | None = None,
        limits: httpx2.Limits | None = None,
        user_agent: str = _USER_AGENT,
        on_call: OnCall | None = None,
        engine: str | None = None,
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
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        injected = None
        if http_client is not None:
            injected = _engines.injected_library(http_client, "AsyncClient")
            if injected is None:
                raise TypeError("http_client must be an httpx2.AsyncClient or an httpx.AsyncClient")
        if transport is not None:
            injected = _engines.injected_library(transport, "AsyncBaseTransport")
            if injected is None:
                raise TypeError(
                    "transport must be an httpx2.AsyncBaseTransport or an httpx.AsyncBaseTransport"
                )
        chosen = self._engine = _engines.check(engine)
        if injected is not None and chosen not in (None, injected):
            raise ValueError(
                f"engine={chosen!r} cannot use an http_client or transport ({injected}'s: "
                f"leave engine unset or pass engine={injected!r})"
            )
        if on_call is not None and not callable(on_call):
            raise TypeError("on_call must be callable")
        self._caller = Caller(
            base_url=self._base_url,
            queue_base_url=self._queue_base_url,
            credentials=credentials,
            timeouts=self._timeouts,
            retry=self._retry,
            max_response_bytes=max_response_bytes,
            engine=chosen,
            http_client=http_client,
            transport=transport,
            limits=limits or _DEFAULT_LIMITS,
            user_agent=_text(user_agent, "user_agent"),
            on_call=on_call,
        )
        self._call = self._caller.call
        self._pool = self._caller.pool  # one engine per event loop and process

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
        """The default credentials (values hidden by `Credentials` itself)."""
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

    @property
    def engine(self) -> str | None:
        """The engine asked for (`None`: the default for the running event loop)."""
        return self._engine

    async def aclose(self) -> None:
        """Close this client's pool; the next call builds a new one. Never closes an
        injected `http_client` or `transport`."""
        await self._pool.aclose()

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
        """Create a portal session: bulk (`users`) or single (`name` + `email`).

        Never retried once the request may have reached the platform (a duplicate session
        is worse than an error); fields left as `None` are not sent at all.
        """
        body: dict[str, Any] = _candidates(users, name, email)
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
        body.update(_candidates(users, name, email))
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
        """The organisation's assessments (a signed `GET`; retried when safe)."""
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
        """Pull up to `limit` (1-100) pending events; `since` is Unix ms or a datetime.

        Every event type is returned, and `pending_count` is the platform's own count.
        An event that does not fit `Event` is listed in `invalid` (its id, type and
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
            event_id = raw.get("eventId") if isinstance(raw, Mapping) else None
            if not isinstance(event_id, str) or not event_id.strip():
                # It can never be acknowledged: reported, never the whole batch.
                invalid.append(InvalidEvent.without_id(raw))
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

    def _model(self, model: type[_M], data: Any, op: Op) -> _M:
        return parse(model, data, op)
