"""What the client tells an observer about each platform call (telemetry, audit, metrics).

The client calls `on_call(PlatformCall(...))` once per operation, when it ends, on the
event loop that made the call. Nothing in it is personal data or a secret: no names,
emails, tokens or keys, only the operation, the engine, counts, timings and the
platform's request id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("assessment_asgi.platform")


@dataclass(frozen=True, slots=True)
class PlatformCall:
    """One platform operation as it ended (after its retries)."""

    #: The operation of the wire contract, e.g. `"create_session"`.
    operation: str
    #: The engine that carried it: `"aiohttp"`, `"pyreqwest"`, `"httpx2"`.
    engine: str
    #: Requests sent or tried (1 when the first attempt settled it).
    attempts: int
    #: The last HTTP status received, or `None` when no answer arrived.
    status_code: int | None
    #: The platform's request id from the last answer, when it gave one.
    request_id: str | None
    #: The public error class name (`"SmartAITimeoutError"`), or `None` on success.
    error: str | None
    #: Wall-clock start, `time.time_ns()`, for exporters that need absolute times.
    start_time_ns: int
    #: Monotonic duration in seconds, retries and back-off included.
    duration: float


OnCall = Callable[[PlatformCall], None]


def notify(on_call: OnCall | None, call: PlatformCall) -> None:
    """Tell the observer; a failing observer is logged (type only) and never fails a call."""
    if on_call is None:
        return
    try:
        on_call(call)
    except Exception as exc:
        logger.error("a platform call observer failed: %s", type(exc).__name__)
