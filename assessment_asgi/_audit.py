"""Audit events: who created a session for whom, and which attempts were refused.

`AssessmentApp(on_session_created=..., on_session_refused=...)` takes sync or async
callables. They run after the answer is sent (sync ones in worker threads, off the event
loop), so a slow or failing hook never changes what the caller gets: a failure is logged with
its type only.

Anyone can be refused, as often as they like (a bad token costs nothing to send), so a sync
`on_session_refused` never takes the shared worker pool's tokens, which sync hooks of good
requests (`authenticate`, `keys`) and the host's sync endpoints wait for: it runs in at most
`REFUSAL_THREADS` threads of its own, `REFUSAL_BACKLOG` more events wait their turn, and
beyond that an event is dropped and counted (a warning, at most once a minute).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
import anyio.to_thread

from ._compat import _is_async_callable, to_async
from ._concurrency import LoopLocal
from ._models import Candidate, Recruiter

if TYPE_CHECKING:
    from ._telemetry import RequestRecord

logger = logging.getLogger("assessment_asgi")

#: Threads a sync `on_session_refused` may hold at once (its own, not the shared pool's).
REFUSAL_THREADS = 4
#: Refusal events waiting for one of those threads; past this, events are dropped and counted.
REFUSAL_BACKLOG = 1000
_DROP_REPORT_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class SessionCreated:
    """A session the platform created (replays of an idempotent request are not new ones).

    Never carries the token:

    ```python
    def on_session_created(event: SessionCreated) -> None:
        db.execute("INSERT INTO audit VALUES (?, ?, ?)",
                   (event.at.isoformat(), event.recruiter.id, event.request_id))
    ```
    """

    #: On whose behalf (the resolved recruiter).
    recruiter: Recruiter
    #: For whom: the candidates as validated.
    candidates: tuple[Candidate, ...]
    #: When the answer was sent (UTC).
    at: datetime
    #: The platform's request id for the create call, when it gave one.
    request_id: str | None
    #: When the portal token expires, as the platform said it (ISO 8601).
    expires_at: str

    @property
    def tenant(self) -> str | None:
        """The recruiter's tenant (organisation), or None in a single-tenant deployment."""
        return self.recruiter.tenant

    def __repr__(self) -> str:
        # Names and emails are personal data: counts only.
        return (
            f"SessionCreated(recruiter={self.recruiter!r}, candidates={len(self.candidates)}, "
            f"at={self.at.isoformat()!r}, request_id={self.request_id!r}, tenant={self.tenant!r})"
        )


@dataclass(frozen=True, slots=True)
class SessionRefused:
    """A `POST /session` answered with an error; who and for whom when they were known.

    `recruiter` is `None` and `candidates` empty when the refusal came before they were
    established (a bad token, a malformed body):

    ```python
    async def on_session_refused(event: SessionRefused) -> None:
        if event.code == "recruiter_mismatch":
            await alert(event.recruiter)
    ```
    """

    #: The stable error code, as in `ERROR_CODES` and the answer's `code`.
    code: str
    #: The HTTP status answered.
    status: int
    recruiter: Recruiter | None
    candidates: tuple[Candidate, ...]
    at: datetime
    #: The platform's request id when the platform was called (and refused or failed).
    request_id: str | None

    @property
    def tenant(self) -> str | None:
        """The recruiter's tenant, when the recruiter was known and has one."""
        return self.recruiter.tenant if self.recruiter is not None else None

    def __repr__(self) -> str:
        return (
            f"SessionRefused(code={self.code!r}, status={self.status}, "
            f"recruiter={self.recruiter!r}, candidates={len(self.candidates)}, "
            f"at={self.at.isoformat()!r}, request_id={self.request_id!r}, tenant={self.tenant!r})"
        )


#: Audit hooks, told after the answer is sent; sync ones run in the thread pool.
OnSessionCreated: TypeAlias = Callable[[SessionCreated], Awaitable[None] | None]
OnSessionRefused: TypeAlias = Callable[[SessionRefused], Awaitable[None] | None]


class AuditHooks:
    """Both hooks, made awaitable once; a failing hook is logged and swallowed."""

    def __init__(
        self, on_created: OnSessionCreated | None, on_refused: OnSessionRefused | None
    ) -> None:
        for name, hook in (("on_session_created", on_created), ("on_session_refused", on_refused)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be callable, got {type(hook).__name__}")
        self._created = to_async(on_created) if on_created is not None else None
        self._refused: Callable[..., Awaitable[Any]] | None = None
        if on_refused is not None and _is_async_callable(on_refused):
            self._refused = to_async(on_refused)
        elif on_refused is not None:
            self._refused = _BoundedSync(on_refused)  # never the shared pool (see above)

    @property
    def active(self) -> bool:
        return self._created is not None or self._refused is not None

    async def report(self, record: RequestRecord) -> None:
        """Tell the hooks how a request ended: created, refused, or neither (a replay)."""
        if record.created:
            await self.created(
                recruiter=record.recruiter, candidates=record.candidates,
                request_id=record.platform_request_id, expires_at=record.expires_at,
            )
        elif record.code != "ok":
            await self.refused(
                code=record.code, status=record.status, recruiter=record.recruiter,
                candidates=record.candidates, request_id=record.platform_request_id,
            )

    async def created(self, **fields: Any) -> None:
        if self._created is not None:
            await self._run("on_session_created", self._created,
                            SessionCreated(at=datetime.now(UTC), **fields))

    async def refused(self, **fields: Any) -> None:
        if self._refused is not None:
            await self._run("on_session_refused", self._refused,
                            SessionRefused(at=datetime.now(UTC), **fields))

    @staticmethod
    async def _run(name: str, hook: Callable[..., Awaitable[Any]], event: object) -> None:
        try:
            await hook(event)
        except Exception as exc:
            # The type only: a hook's message may quote the event (names, emails).
            logger.error("audit hook %s failed: %s", name, type(exc).__name__)


class _BoundedSync:
    """A sync refusal hook in at most `REFUSAL_THREADS` threads of its own (see the module)."""

    def __init__(self, hook: Callable[..., Any]) -> None:
        self._hook = hook
        self._limiters: LoopLocal[anyio.CapacityLimiter] = LoopLocal(
            lambda library: anyio.CapacityLimiter(REFUSAL_THREADS)
        )
        self.dropped = 0
        self._in_flight = 0  # running or waiting; counted here, before any await, so exact
        self._unreported = 0
        self._reported_at = -_DROP_REPORT_INTERVAL

    async def __call__(self, event: object) -> None:
        if self._in_flight >= REFUSAL_THREADS + REFUSAL_BACKLOG:
            self._drop()
            return
        self._in_flight += 1
        try:
            limiter = self._limiters.get()
            result = await anyio.to_thread.run_sync(self._hook, event, limiter=limiter)
            if inspect.isawaitable(result):
                await result
        finally:
            self._in_flight -= 1

    def _drop(self) -> None:
        self.dropped += 1
        self._unreported += 1
        now = time.monotonic()
        if now - self._reported_at >= _DROP_REPORT_INTERVAL:
            logger.warning(
                "audit hook on_session_refused: %d refusal event(s) dropped, its %d threads busy "
                "and %d waiting (a flood of refused requests?)",
                self._unreported, REFUSAL_THREADS, REFUSAL_BACKLOG,
            )
            self._reported_at, self._unreported = now, 0
