"""Paging past events the poller leaves queued, so they never hide the events behind them.

The queue answers its oldest pending events first, and its only cursor is `since` (Unix
ms: events stored after it). An event the poller cannot acknowledge (no usable id) or
leaves queued (a failed handler, a type it does not take) would come back at the front of
every poll. So within one pass over the queue the next poll starts just before the newest
`storedAt` of a batch that left events behind (minus 1 ms: an event not yet seen may
share that millisecond; the ones seen there are not handled twice in the pass); when
`storedAt` cannot move the cursor, the page grows to 100. A pass ends when the queue
reports nothing pending: the next one starts at the front again, which is when failed
events are retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from ._models import Event, EventBatch, InvalidEvent

logger = logging.getLogger("assessment_asgi.platform")

MAX_LIMIT = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def stored_ms(value: object) -> int | None:
    """`storedAt` as Unix ms: an ISO 8601 time (UTC when it names no zone) or a number of ms."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def event_key(item: Event | InvalidEvent) -> str:
    """What tells one queued event from another: its id, else a digest of it as sent."""
    if item.event_id is not None:
        return "id:" + item.event_id
    payload = item.payload if isinstance(item, InvalidEvent) else item.payload()
    text = json.dumps(payload, sort_keys=True, default=repr)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _stamped(batch: EventBatch) -> Iterator[tuple[int | None, Event | InvalidEvent]]:
    for event in batch.events:
        yield stored_ms(event.stored_at), event
    for bad in batch.invalid:
        yield stored_ms(bad.payload.get("storedAt")), bad


class _Pager:
    """Where the next poll of one queue starts (`since`) and how much it asks for (`limit`)."""

    __slots__ = ("_edge", "_warned", "base_limit", "limit", "since")

    def __init__(self, limit: int) -> None:
        self.base_limit = limit
        self.limit = limit
        self.since: int | None = None
        self._edge: set[str] = set()  # events seen at ``since + 1`` ms in this pass
        self._warned = False

    def __repr__(self) -> str:
        return f"Pager(since={self.since!r}, limit={self.limit!r})"

    def reset(self) -> None:
        self.limit = self.base_limit
        self.since = None
        self._edge.clear()
        self._warned = False

    def unseen(self, batch: EventBatch) -> EventBatch:
        """`batch` without the events this pass already saw at the cursor's edge."""
        if not self._edge:
            return batch
        return batch.model_copy(
            update={
                "events": [e for e in batch.events if event_key(e) not in self._edge],
                "invalid": [b for b in batch.invalid if event_key(b) not in self._edge],
            }
        )

    def advance(self, batch: EventBatch, acknowledged: int) -> bool:
        """Move past what `batch` left queued; True when polling again at once makes progress."""
        if batch.pending_count == 0:
            self.reset()  # the end of the queue: the next pass starts at the front
            return False
        received = len(batch.events) + len(batch.invalid)
        if acknowledged >= received:
            return acknowledged > 0  # nothing left behind: the front moved by itself
        stamped = list(_stamped(batch))
        newest = max((ms for ms, _ in stamped if ms is not None), default=None)
        if newest is not None:
            at_edge = {event_key(item) for ms, item in stamped if ms == newest}
            if newest - 1 > (self.since or 0):
                self.since, self._edge = newest - 1, at_edge
                return True
            if newest - 1 == self.since:
                self._edge |= at_edge
        if self.limit < MAX_LIMIT:
            self.limit = MAX_LIMIT
            return True
        if acknowledged == 0 and not self._warned:
            self._warned = True
            logger.warning(
                "%d event(s) left queued fill a whole page stored in one millisecond: the events "
                "behind them wait until these are acknowledged or expire",
                received,
            )
        return acknowledged > 0
