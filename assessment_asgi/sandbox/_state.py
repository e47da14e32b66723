"""The sandbox's memory: sessions, campaigns, the event queue and reports — all bounded."""

from __future__ import annotations

import copy
import logging
import secrets
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

logger = logging.getLogger("assessment_asgi.sandbox")

Kind = Literal["session", "campaign"]


@dataclass(slots=True)
class Candidate:
    id: str
    name: str
    email: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "email": self.email}


@dataclass(slots=True)
class Assessment:
    """A session (opened through the portal) or a campaign (opened by its link)."""

    id: str
    kind: Kind
    candidates: list[Candidate]
    created_at: float
    expires_at: float  # sessions: the token's expiry; campaigns: the retention horizon
    recruiter_id: str | None = None
    recruiter_email: str | None = None
    workflow_id: str | None = None
    method: str | None = None
    job_title: str = "Software Engineer"
    experience: str | None = None
    level: str | None = None
    total_questions: int = 4
    token_id: str | None = None
    opened_at: float | None = None
    sent: bool = False
    finished: dict[str, str] = field(default_factory=dict)  # candidate id -> event id

    @property
    def open(self) -> bool:
        return self.kind == "campaign" or self.opened_at is not None

    def candidate(self, candidate_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.id == candidate_id), None)


@dataclass(slots=True)
class StoredEvent:
    stored_ms: int
    payload: dict[str, Any]


class SandboxState:
    """Every mutation runs under one lock, so the sandbox is safe on any event loop and
    when tests read it from another thread; nothing awaits while holding it."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        max_sessions: int,
        max_events: int,
        event_ttl: float,
        session_retention: float,
    ) -> None:
        self._clock = clock
        self._max_sessions = max_sessions
        self._max_events = max_events
        self._event_ttl = event_ttl
        self._retention = session_retention
        self._lock = threading.Lock()
        self._assessments: OrderedDict[str, Assessment] = OrderedDict()
        self._events: OrderedDict[str, StoredEvent] = OrderedDict()
        self._reports: OrderedDict[str, StoredEvent] = OrderedDict()
        self._acknowledged: deque[str] = deque(maxlen=max_events)
        self.dropped_events = 0

    def clear(self) -> None:
        with self._lock:
            self._assessments.clear()
            self._events.clear()
            self._reports.clear()
            self._acknowledged.clear()

    def now(self) -> float:
        return self._clock()

    # ── assessments ──────────────────────────────────────────────────────────────

    def _prune_assessments(self, now: float) -> None:
        # Insertion order is creation order and both horizons are fixed offsets from creation,
        # so expired entries gather at the front: O(1) amortised per request. An opened session
        # at the front may shelter younger expired ones until its retention ends; max_sessions
        # bounds them meanwhile, and open_session() re-checks expiry anyway.
        while self._assessments:
            first = next(iter(self._assessments.values()))
            expired = not first.open and now >= first.expires_at
            if not expired and now < first.created_at + self._retention:
                break
            self._assessments.popitem(last=False)
        while len(self._assessments) > self._max_sessions:
            self._assessments.popitem(last=False)

    def add(self, assessment: Assessment) -> None:
        with self._lock:
            self._assessments[assessment.id] = assessment
            self._prune_assessments(self.now())

    def get(self, assessment_id: str) -> Assessment | None:
        with self._lock:
            self._prune_assessments(self.now())
            return self._assessments.get(assessment_id)

    def assessments(self) -> list[Assessment]:
        with self._lock:
            self._prune_assessments(self.now())
            return list(self._assessments.values())

    def open_session(self, assessment_id: str, token_id: str) -> Assessment | None:
        """Open a session once: a second open, or an expired one, gives None."""
        with self._lock:
            now = self.now()
            self._prune_assessments(now)
            item = self._assessments.get(assessment_id)
            if (
                item is None
                or item.kind != "session"
                or item.token_id != token_id
                or item.opened_at is not None
                or now >= item.expires_at
            ):
                return None
            item.opened_at = now
            return item

    def mark_finished(self, assessment_id: str, candidate_id: str, event_id: str) -> bool:
        with self._lock:
            item = self._assessments.get(assessment_id)
            if item is None or candidate_id in item.finished:
                return False
            item.finished[candidate_id] = event_id
            return True

    def mark_sent(self, assessment_id: str) -> bool:
        with self._lock:
            item = self._assessments.get(assessment_id)
            if item is None or item.sent:
                return False
            item.sent = True
            return True

    # ── the event queue ──────────────────────────────────────────────────────────

    def _prune_events(self, now: float) -> None:
        horizon = int((now - self._event_ttl) * 1000)
        for store in (self._events, self._reports):
            while store and next(iter(store.values())).stored_ms <= horizon:
                store.popitem(last=False)

    def enqueue(
        self, payload: dict[str, Any], *, event_id: str | None = None, keep_report: bool = False
    ) -> dict[str, Any]:
        """Add ``eventId`` and ``storedAt`` and queue the event; returns the stored payload."""
        with self._lock:
            now = self.now()
            self._prune_events(now)
            stored_ms = int(now * 1000)
            event_id = event_id or new_event_id()
            full = {"eventId": event_id, "storedAt": iso_ms(stored_ms), **payload}
            self._events[event_id] = StoredEvent(stored_ms, full)
            while len(self._events) > self._max_events:
                self._events.popitem(last=False)
                self.dropped_events += 1
                logger.warning(
                    "event queue full (max_events=%d): dropped the oldest unacknowledged event",
                    self._max_events,
                )
            if keep_report:
                self._reports[event_id] = StoredEvent(stored_ms, full)
                while len(self._reports) > self._max_events:
                    self._reports.popitem(last=False)
            return full

    def enqueue_as_given(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a test's event verbatim: ``eventId``/``storedAt`` only filled when absent,
        so a test may queue odd events (a null id) as the platform might send them."""
        with self._lock:
            now = self.now()
            self._prune_events(now)
            stored_ms = int(now * 1000)
            full = {"eventId": new_event_id(), "storedAt": iso_ms(stored_ms), **payload}
            key = full["eventId"] if isinstance(full["eventId"], str) else new_event_id()
            self._events[key] = StoredEvent(stored_ms, full)
            while len(self._events) > self._max_events:
                self._events.popitem(last=False)
                self.dropped_events += 1
            return copy.deepcopy(full)

    def acknowledged(self) -> list[str]:
        with self._lock:
            return list(self._acknowledged)

    def poll(self, *, limit: int, since_ms: int) -> tuple[list[dict[str, Any]], int]:
        """Oldest pending events stored after ``since_ms``; and how many remain after them."""
        with self._lock:
            self._prune_events(self.now())
            matching = [e.payload for e in self._events.values() if e.stored_ms > since_ms]
            return [dict(p) for p in matching[:limit]], max(0, len(matching) - limit)

    def ack(self, event_ids: list[str]) -> int:
        with self._lock:
            removed = 0
            for event_id in dict.fromkeys(event_ids):
                if self._events.pop(event_id, None) is not None:
                    removed += 1
                    self._acknowledged.append(event_id)
            return removed

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            self._prune_events(self.now())
            return [copy.deepcopy(e.payload) for e in self._events.values()]

    def report(self, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._prune_events(self.now())
            stored = self._reports.get(event_id)
            return None if stored is None else dict(stored.payload)


def new_event_id() -> str:
    # The queue stores UUID-shaped ids (docs: "550e8400-e29b-…").
    return str(uuid.uuid4())


def new_id(prefix: str, nbytes: int = 10) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def iso_ms(unix_ms: int) -> str:
    """``2026-11-28T10:15:00.000Z`` — the platform's timestamp style."""
    moment = datetime.fromtimestamp(unix_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{unix_ms % 1000:03d}Z"
