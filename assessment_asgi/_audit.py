"""Audit events: who created a session for whom, and which attempts were refused.

``AssessmentApp(on_session_created=..., on_session_refused=...)`` takes sync or async
callables. They run after the answer is sent (sync ones in the worker thread pool, off the
event loop), so a slow or failing hook never changes what the caller gets: a failure is
logged with its type only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from ._compat import to_async
from ._models import Candidate, Recruiter

if TYPE_CHECKING:
    from ._telemetry import RequestRecord

logger = logging.getLogger("assessment_asgi")


@dataclass(frozen=True, slots=True)
class SessionCreated:
    """A session the platform created (replays of an idempotent request are not new ones).

    Never carries the token::

        def on_session_created(event: SessionCreated) -> None:
            db.execute("INSERT INTO audit VALUES (?, ?, ?)",
                       (event.at.isoformat(), event.recruiter.id, event.request_id))
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
    """A ``POST /session`` answered with an error; who and for whom when they were known.

    ``recruiter`` is ``None`` and ``candidates`` empty when the refusal came before they were
    established (a bad token, a malformed body)::

        async def on_session_refused(event: SessionRefused) -> None:
            if event.code == "recruiter_mismatch":
                await alert(event.recruiter)
    """

    #: The stable error code, as in ``ERROR_CODES`` and the answer's ``code``.
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
        self._refused = to_async(on_refused) if on_refused is not None else None

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
