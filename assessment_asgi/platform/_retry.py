"""The one place that decides on trying again: the deadline, back-off, `Retry-After`, and
the rule that a request which may have reached the platform is repeated only when the
operation is safe to repeat (`Op.repeatable`). The same for every engine."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from .._compat import deadline
from ._config import RetryPolicy, Timeout
from ._errors import SmartAIError, SmartAITimeoutError
from ._exchange import Failure, Op

logger = logging.getLogger("assessment_asgi.platform")

#: One attempt: given its number and the seconds left, `(data, status, request id)`.
Attempt = Callable[[int, float], Awaitable[tuple[Any, int, "str | None"]]]


class Trace:
    """What one operation's attempts saw, for the `on_call` observer."""

    __slots__ = ("attempts", "engine", "request_id", "status")

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.attempts = 0
        self.status: int | None = None
        self.request_id: str | None = None


async def with_retries(
    op: Op, attempt_once: Attempt, *, policy: RetryPolicy, limits: Timeout, trace: Trace | None
) -> Any:
    """Run attempts until one answers, a failure is not safe or worth repeating, or the
    deadline (which covers every attempt and wait) runs out."""
    # Durations only: the monotonic clock is every event loop's clock, read without a
    # lookup of the running library.
    deadline_at = time.monotonic() + limits.deadline
    async with deadline(limits.deadline, move_on=True):
        attempt = 0
        while True:
            attempt += 1
            if trace is not None:
                trace.attempts = attempt
            try:
                data, status, request_id = await attempt_once(attempt, deadline_at - time.monotonic())
            except Failure as failure:
                if trace is not None:
                    trace.status = failure.error.status_code
                    trace.request_id = failure.error.request_id
                retry_safe = not failure.sent or (op.repeatable and failure.transient)
                delay = policy.delay(attempt, failure.retry_after)
                if (
                    attempt >= policy.attempts
                    or not retry_safe
                    or delay is None
                    or time.monotonic() + delay >= deadline_at
                ):
                    _log_giving_up(op, failure.error, attempt)
                    raise failure.error from failure.__cause__
                logger.warning(
                    "smartai %s failed (%s), retrying in %.2fs (attempt %d of %d)",
                    op.name,
                    type(failure.error).__name__,
                    delay,
                    attempt,
                    policy.attempts,
                    extra={"operation": op.name, "attempt": attempt, "request_id": failure.error.request_id},
                )
                await anyio.sleep(delay)
            else:
                if trace is not None:
                    trace.status, trace.request_id = status, request_id
                return data
    logger.warning(
        "smartai %s gave up: no answer within the %.1fs deadline",
        op.name,
        limits.deadline,
        extra={"operation": op.name},
    )
    raise SmartAITimeoutError(
        f"{op.name}: no answer within the {limits.deadline:g}s deadline", operation=op.name
    )


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
