"""What the poller does with one batch: the report, and running one hook safely.

A hook (a handler or `on_invalid`) never stalls the event loop nor leaks personal data:
sync hooks run in a worker thread, every hook is bounded by the poller's
`handler_timeout`, and a failure is logged by exception type and event id only.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from .._compat import fail_after
from .._redact import redacted_traceback
from ._models import InvalidEvent

logger = logging.getLogger("assessment_asgi.platform")


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll (or one drain) did."""

    received: int = 0
    handled: int = 0
    acknowledged: int = 0
    duplicates: int = 0  # handled before (de-duplication): acknowledged, not handled again
    failed: int = 0  # handler (or on_invalid) raised or timed out: left in the queue
    skipped: int = 0  # claimed by another worker, or no handler and ack_unhandled=False
    invalid: int = 0  # did not fit the Event model or had no usable id: given to on_invalid
    unhandled: int = 0  # no handler for the type (acknowledged only if ack_unhandled)
    pending_count: int = 0

    def __add__(self, other: PollReport) -> PollReport:
        return PollReport(
            received=self.received + other.received,
            handled=self.handled + other.handled,
            acknowledged=self.acknowledged + other.acknowledged,
            duplicates=self.duplicates + other.duplicates,
            failed=self.failed + other.failed,
            skipped=self.skipped + other.skipped,
            invalid=self.invalid + other.invalid,
            unhandled=self.unhandled + other.unhandled,
            pending_count=other.pending_count,
        )


@dataclass(slots=True)
class _Tally:
    """What one batch did so far (shared by its workers, all on one event loop)."""

    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    unhandled: int = 0
    to_ack: list[str] = field(default_factory=list)
    store_error: str | None = None


def is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


def log_invalid(bad: InvalidEvent) -> None:
    """The default `on_invalid`: the id, type and field names; never a value."""
    if bad.event_id is None:
        logger.warning(
            "an event (%s) has no usable eventId: it cannot be acknowledged; later polls page past it",
            bad.type or "no type",
        )
        return
    logger.warning(
        "event %s (%s) does not fit the Event model (fields: %s): acknowledged without handling",
        bad.event_id, bad.type or "no type", ", ".join(bad.fields) or "?",
    )


async def call_hook(
    fn: Callable[[Any], Any], item: Any, timeout: float | None, role: str, kind: str, event_id: str
) -> bool | None:
    """Run a hook under `handler_timeout`: True when it returned, False when it raised
    or an async hook timed out, None when a sync hook timed out (its thread runs on)."""
    threaded = not is_async(fn)
    try:
        async with fail_after(timeout):
            if threaded:
                # A thread keeps the event loop (and a host app around it) responsive.
                result = await anyio.to_thread.run_sync(fn, item, abandon_on_cancel=True)
            else:
                result = fn(item)
            if inspect.isawaitable(result):
                await result
    except TimeoutError:
        logger.error(
            "the %s for %s timed out after %gs on event %s; it stays queued",
            role, kind, timeout, event_id,
        )
        return None if threaded else False
    except Exception as exc:
        # The type only: an exception's message may quote candidate names or emails.
        logger.error(
            "the %s for %s failed on event %s (%s); it stays queued",
            role, kind, event_id, type(exc).__name__,
        )
        logger.debug("traceback of that failure:\n%s", redacted_traceback(exc, ()))
        return False
    return True
