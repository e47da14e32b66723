"""One batch of the results queue: handle each event, then acknowledge what may be.

`ResultsPoller` inherits this; it holds the handlers, the de-duplication store and the
hooks. An event is acknowledged only by an id it has, and only when its handler (or
`on_invalid`) returned, the store says it was handled before, or no handler wants its
type and `ack_unhandled` allows it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ._client import SmartAIClient
from ._credentials import Credentials
from ._dedup import Claim, DedupStore
from ._dispatch import PollReport, _Tally, call_hook
from ._errors import SmartAIError
from ._models import Event, EventBatch, InvalidEvent
from ._paging import event_key

logger = logging.getLogger("assessment_asgi.platform")

Handler = Callable[[Event], Awaitable[Any] | Any]
InvalidHandler = Callable[[InvalidEvent], Awaitable[Any] | Any]


class _BatchHandling:
    """Handling one polled batch (the state lives in `ResultsPoller`)."""

    _client: SmartAIClient
    _credentials: Credentials | None
    _handlers: dict[str, Handler]
    _on_invalid: InvalidHandler
    _warned_types: set[str]
    _reported: dict[str, None]
    dedup: DedupStore | None
    ack_unhandled: bool
    handler_timeout: float | None
    concurrency: int

    def _handler_for(self, kind: str) -> Handler | None:
        return self._handlers.get(kind) or self._handlers.get("*")

    async def _invalid(self, bad: InvalidEvent, tally: _Tally) -> None:
        tally.invalid += 1
        if self._handler_for(bad.type) is None and not self.ack_unhandled:
            tally.skipped += 1  # not a type the caller takes: left queued, like a valid one
            self._warn_unhandled(bad.type or "untyped")
            return
        key = event_key(bad) if bad.event_id is None else None
        if key is not None and key in self._reported:
            return  # reported on an earlier pass; it can never be acknowledged
        label = bad.event_id or "without an eventId"
        outcome = await call_hook(self._on_invalid, bad, self.handler_timeout, "on_invalid", bad.type, label)
        if not outcome:
            tally.failed += 1
        elif key is None:
            tally.to_ack.append(str(bad.event_id))
        else:  # the pager moves past it; reported once (the last 10,000 remembered)
            self._reported[key] = None
            if len(self._reported) > 10_000:
                del self._reported[next(iter(self._reported))]

    async def _process(self, batch: EventBatch) -> tuple[PollReport, str | None]:
        """Handle one batch; also returns the de-duplication store's error, if it failed."""
        tally = _Tally()
        for bad in batch.invalid:
            await self._invalid(bad, tally)
        events = iter(batch.events)

        async def worker() -> None:
            for event in events:  # shared by the workers: each event is taken once
                if tally.store_error is not None:
                    tally.failed += 1  # the store is down: leave the rest queued
                    continue
                await self._one(event, tally)

        if self.concurrency == 1 or len(batch.events) < 2:
            await worker()
        else:
            async with anyio.create_task_group() as task_group:
                for _ in range(min(self.concurrency, len(batch.events))):
                    task_group.start_soon(worker)
        acknowledged = 0
        if tally.to_ack:
            try:
                await self._client.acknowledge_events(tally.to_ack, credentials=self._credentials)
                acknowledged = len(tally.to_ack)
            except (SmartAIError, ValueError, TypeError) as exc:
                # The events come back on a later poll; de-duplication stops a second handling.
                logger.warning(
                    "acknowledging %d event(s) failed (%s); they will be delivered again",
                    len(tally.to_ack),
                    type(exc).__name__,
                )
        report = PollReport(
            received=len(batch.events) + len(batch.invalid),
            handled=tally.handled,
            acknowledged=acknowledged,
            duplicates=tally.duplicates,
            failed=tally.failed,
            skipped=tally.skipped,
            invalid=tally.invalid,
            unhandled=tally.unhandled,
            pending_count=batch.pending_count,
        )
        if tally.store_error is not None:
            logger.warning(
                "the de-duplication store failed (%s): %d event(s) left queued",
                tally.store_error,
                report.failed,
            )
        logger.debug("polled: %r", report)
        return report, tally.store_error

    async def _one(self, event: Event, tally: _Tally) -> None:
        handler = self._handler_for(event.type)
        if handler is None:
            tally.unhandled += 1
            self._warn_unhandled(event.type)
            if self.ack_unhandled:
                tally.to_ack.append(event.event_id)
            else:
                tally.skipped += 1
            return
        claim: Claim = "claimed"
        if self.dedup is not None:
            try:
                claim = await self.dedup.claim(event.event_id)
            except Exception as exc:
                tally.store_error = type(exc).__name__
                tally.failed += 1
                return
        if claim == "done":
            tally.duplicates += 1
            tally.to_ack.append(event.event_id)
            return
        if claim == "busy":
            tally.skipped += 1
            return
        timeout = self.handler_timeout
        outcome = await call_hook(handler, event, timeout, "handler", event.type, event.event_id)
        if outcome:
            tally.handled += 1
            tally.to_ack.append(event.event_id)
            if self.dedup is not None:
                with contextlib.suppress(Exception):
                    await self.dedup.complete(event.event_id)
            return
        tally.failed += 1
        # A sync handler that timed out still runs in its thread: its claim is kept until it
        # expires (claim_ttl), so the event is not started a second time meanwhile.
        if self.dedup is not None and outcome is not None:
            with contextlib.suppress(Exception):
                await self.dedup.release(event.event_id)

    def _warn_unhandled(self, kind: str) -> None:
        if kind in self._warned_types or len(self._warned_types) >= 1024:
            return
        self._warned_types.add(kind)
        logger.warning(
            "no handler for %r events: %s (logged once per type)",
            kind,
            "acknowledged without handling" if self.ack_unhandled else "left queued",
        )
