"""The sandbox's memory: sessions, campaigns, the event queue and reports — all bounded."""

from __future__ import annotations

import copy
import json
import logging
import secrets
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

logger = logging.getLogger("assessment_asgi.sandbox")

Kind = Literal["session", "campaign"]


@dataclass(slots=True)
class Candidate:
    id: str
    name: str
    email: str
    # The secret in this candidate's own link: finishing needs it, so one candidate (or anyone
    # holding the shared assessment link) cannot finish or disqualify another.
    key: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)

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
    # What the single-use token's opener (the recruiter) gets to press "Send" with.
    portal_key: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)

    @property
    def open(self) -> bool:
        return self.kind == "campaign" or self.opened_at is not None

    def candidate(self, candidate_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.id == candidate_id), None)

    def candidate_by_key(self, key: str) -> Candidate | None:
        found = None
        for candidate in self.candidates:  # every key compared, in constant time each
            if secrets.compare_digest(candidate.key.encode(), key.encode()):
                found = candidate
        return found

    def size(self) -> int:
        """Roughly the bytes this assessment holds: its text, plus fixed overhead."""
        people = sum(len(c.id) + len(c.name) + len(c.email) + len(c.key) + 160
                     for c in self.candidates)
        text = (self.recruiter_id, self.recruiter_email, self.workflow_id, self.method,
                self.job_title, self.experience, self.level)
        return 640 + people + sum(len(t) for t in text if t) + 120 * len(self.finished)


@dataclass(slots=True)
class StoredEvent:
    stored_ms: int
    payload: dict[str, Any]
    size: int = 0

    @classmethod
    def of(cls, stored_ms: int, payload: dict[str, Any]) -> StoredEvent:
        return cls(stored_ms, payload, len(json.dumps(payload, default=str)) + 200)


_V = TypeVar("_V", Assessment, StoredEvent)


class _Store(Generic[_V]):
    """An insertion-ordered map that knows how many bytes its values hold."""

    def __init__(self) -> None:
        self.items: OrderedDict[str, _V] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.items)

    def put(self, key: str, value: _V, size: int) -> None:
        self.pop(key)
        self.items[key] = value
        self._sizes[key] = size
        self.bytes += size

    def pop(self, key: str) -> _V | None:
        value = self.items.pop(key, None)
        if value is not None:
            self.bytes -= self._sizes.pop(key)
        return value

    def first(self) -> _V | None:
        return next(iter(self.items.values()), None)

    def pop_oldest(self) -> None:
        key = next(iter(self.items))
        self.pop(key)

    def clear(self) -> None:
        self.items.clear()
        self._sizes.clear()
        self.bytes = 0


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
        max_stored_bytes: int = 64 * 1_048_576,
    ) -> None:
        self._clock = clock
        self._max_sessions = max_sessions
        self._max_events = max_events
        self._event_ttl = event_ttl
        self._retention = session_retention
        self._max_bytes = max_stored_bytes
        self._lock = threading.Lock()
        self._assessments: _Store[Assessment] = _Store()
        self._events: _Store[StoredEvent] = _Store()
        self._reports: _Store[StoredEvent] = _Store()
        self._acknowledged: deque[str] = deque(maxlen=max_events)
        self.dropped_events = 0
        self.forgotten_for_memory = 0

    def clear(self) -> None:
        with self._lock:
            self._assessments.clear()
            self._events.clear()
            self._reports.clear()
            self._acknowledged.clear()

    def now(self) -> float:
        return self._clock()

    @property
    def stored_bytes(self) -> int:
        return self._assessments.bytes + self._events.bytes + self._reports.bytes

    def _fit_in_memory(self) -> None:
        """Forget the oldest entries, of whatever kind, until `max_stored_bytes` holds."""
        forgotten = 0
        while self.stored_bytes > self._max_bytes:
            fronts: list[tuple[float, _Store[Any]]] = []
            if (item := self._assessments.first()) is not None:
                fronts.append((item.created_at * 1000, self._assessments))
            for store in (self._events, self._reports):
                if (event := store.first()) is not None:
                    fronts.append((event.stored_ms, store))
            if not fronts:
                break
            min(fronts, key=lambda front: front[0])[1].pop_oldest()
            forgotten += 1
        if forgotten:
            self.forgotten_for_memory += forgotten
            logger.warning(
                "sandbox memory full (max_stored_bytes=%d): forgot the %d oldest entries",
                self._max_bytes,
                forgotten,
            )

    # ── assessments ──────────────────────────────────────────────────────────────

    def _prune_assessments(self, now: float) -> None:
        # Insertion order is creation order and both horizons are fixed offsets from creation,
        # so expired entries gather at the front: O(1) amortised per request. An opened session
        # at the front may shelter younger expired ones until its retention ends; max_sessions
        # bounds them meanwhile, and open_session() re-checks expiry anyway.
        while (first := self._assessments.first()) is not None:
            expired = not first.open and now >= first.expires_at
            if not expired and now < first.created_at + self._retention:
                break
            self._assessments.pop_oldest()
        while len(self._assessments) > self._max_sessions:
            self._assessments.pop_oldest()

    def add(self, assessment: Assessment) -> None:
        with self._lock:
            self._assessments.put(assessment.id, assessment, assessment.size())
            self._prune_assessments(self.now())
            self._fit_in_memory()

    def get(self, assessment_id: str) -> Assessment | None:
        with self._lock:
            self._prune_assessments(self.now())
            return self._assessments.items.get(assessment_id)

    def assessments(self) -> list[Assessment]:
        with self._lock:
            self._prune_assessments(self.now())
            return list(self._assessments.items.values())

    def open_session(self, assessment_id: str, token_id: str) -> Assessment | None:
        """Open a session once: a second open, or an expired one, gives None."""
        with self._lock:
            now = self.now()
            self._prune_assessments(now)
            item = self._assessments.items.get(assessment_id)
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
            item = self._assessments.items.get(assessment_id)
            if item is None or candidate_id in item.finished:
                return False
            item.finished[candidate_id] = event_id
            return True

    def mark_sent(self, assessment_id: str) -> bool:
        with self._lock:
            item = self._assessments.items.get(assessment_id)
            if item is None or item.sent:
                return False
            item.sent = True
            return True

    # ── the event queue ──────────────────────────────────────────────────────────

    def _prune_events(self, now: float) -> None:
        horizon = int((now - self._event_ttl) * 1000)
        for store in (self._events, self._reports):
            while (first := store.first()) is not None and first.stored_ms <= horizon:
                store.pop_oldest()

    def _store_event(self, key: str, stored: StoredEvent, *, keep_report: bool) -> None:
        self._events.put(key, stored, stored.size)
        while len(self._events) > self._max_events:
            self._events.pop_oldest()
            self.dropped_events += 1
            logger.warning(
                "event queue full (max_events=%d): dropped the oldest unacknowledged event",
                self._max_events,
            )
        if keep_report:
            self._reports.put(key, stored, stored.size)
            while len(self._reports) > self._max_events:
                self._reports.pop_oldest()
        self._fit_in_memory()

    def enqueue(
        self, payload: dict[str, Any], *, event_id: str | None = None, keep_report: bool = False
    ) -> dict[str, Any]:
        """Add `eventId` and `storedAt` and queue the event; returns the stored payload."""
        with self._lock:
            now = self.now()
            self._prune_events(now)
            stored_ms = int(now * 1000)
            event_id = event_id or new_event_id()
            full = {"eventId": event_id, "storedAt": iso_ms(stored_ms), **payload}
            self._store_event(event_id, StoredEvent.of(stored_ms, full), keep_report=keep_report)
            return full

    def enqueue_as_given(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a test's event verbatim: `eventId`/`storedAt` only filled when absent,
        so a test may queue odd events (a null id) as the platform might send them."""
        with self._lock:
            now = self.now()
            self._prune_events(now)
            stored_ms = int(now * 1000)
            full = {"eventId": new_event_id(), "storedAt": iso_ms(stored_ms), **payload}
            key = full["eventId"] if isinstance(full["eventId"], str) else new_event_id()
            self._store_event(key, StoredEvent.of(stored_ms, full), keep_report=False)
            return copy.deepcopy(full)

    def acknowledged(self) -> list[str]:
        with self._lock:
            return list(self._acknowledged)

    def poll(self, *, limit: int, since_ms: int) -> tuple[list[dict[str, Any]], int]:
        """Oldest pending events stored after `since_ms`; and how many remain after them."""
        with self._lock:
            self._prune_events(self.now())
            matching = [e.payload for e in self._events.items.values() if e.stored_ms > since_ms]
            return [dict(p) for p in matching[:limit]], max(0, len(matching) - limit)

    def ack(self, event_ids: list[str]) -> int:
        with self._lock:
            removed = 0
            for event_id in dict.fromkeys(event_ids):
                if self._events.pop(event_id) is not None:
                    removed += 1
                    self._acknowledged.append(event_id)
            return removed

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            self._prune_events(self.now())
            return [copy.deepcopy(e.payload) for e in self._events.items.values()]

    def report(self, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._prune_events(self.now())
            stored = self._reports.items.get(event_id)
            return None if stored is None else dict(stored.payload)


def new_event_id() -> str:
    # The queue stores UUID-shaped ids (docs: "550e8400-e29b-…").
    return str(uuid.uuid4())


def new_id(prefix: str, nbytes: int = 10) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def iso_ms(unix_ms: int) -> str:
    """`2026-11-28T10:15:00.000Z` — the platform's timestamp style."""
    moment = datetime.fromtimestamp(unix_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{unix_ms % 1000:03d}Z"
