"""The results poller: drain the SmartAI event queue into the host's handlers.

Delivery is at least once. An event is acknowledged only after its handler returned (or
when the de-duplication store says it was handled before), so a crash or a failing
handler means the event comes back on a later poll, never that it is lost.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .._exceptions import ConfigurationError
from ._client import SmartAIClient
from ._credentials import Credentials
from ._dedup import DedupStore, MemoryDedupStore
from ._errors import SmartAIError, SmartAIRateLimitError
from ._models import Event, EventBatch

logger = logging.getLogger("assessment_asgi.platform")

Handler = Callable[[Event], Awaitable[Any] | Any]

#: The platform rate-limits polling faster than this.
MIN_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll (or one drain) did."""

    received: int = 0
    handled: int = 0
    acknowledged: int = 0
    duplicates: int = 0  # handled before (de-duplication): acknowledged, not handled again
    failed: int = 0  # handler raised or timed out: left in the queue
    skipped: int = 0  # claimed by another worker, or no handler and ack_unhandled=False
    pending_count: int = 0

    def __add__(self, other: PollReport) -> PollReport:
        return PollReport(
            received=self.received + other.received,
            handled=self.handled + other.handled,
            acknowledged=self.acknowledged + other.acknowledged,
            duplicates=self.duplicates + other.duplicates,
            failed=self.failed + other.failed,
            skipped=self.skipped + other.skipped,
            pending_count=other.pending_count,
        )


def _positive(name: str, value: object, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{name} must be a number of seconds")
    if value < minimum or value <= 0:
        raise ValueError(f"{name} must be at least {minimum or 'above 0'} seconds, got {value!r}")
    return float(value)


class ResultsPoller:
    """Polls the queue, hands each event to its handler by type, acknowledges what succeeded.

    ``handlers`` is one async (or sync) callable for every event, or a mapping from event
    type to callable (``"*"`` catches the rest)::

        async def on_result(event: Event) -> None:
            await save(event.payload())

        poller = ResultsPoller(client, {"assessment.completed": on_result}, interval=30)

        @contextlib.asynccontextmanager
        async def lifespan(app):
            async with poller:          # polls in the background until the app stops
                yield

    Polls every ``interval`` seconds (never below 5: the platform rate-limits faster
    polling). While ``pendingCount`` > 0 *and* the last batch made progress, it polls again
    at once to drain the backlog, as the platform's docs ask; a 429 then sets the pace.
    Errors back off exponentially (with jitter) up to ``max_backoff``.
    """

    def __init__(
        self,
        client: SmartAIClient,
        handlers: Handler | Mapping[str, Handler],
        *,
        interval: float = 30.0,
        limit: int = 100,
        credentials: Credentials | None = None,
        dedup: DedupStore | bool = True,
        ack_unhandled: bool = True,
        handler_timeout: float | None = 60.0,
        max_backoff: float = 300.0,
        stop_timeout: float = 10.0,
    ) -> None:
        if not isinstance(client, SmartAIClient):
            raise TypeError("client must be a SmartAIClient")
        self._client = client
        if callable(handlers) and not isinstance(handlers, Mapping):
            self._handlers: dict[str, Handler] = {"*": handlers}
        elif isinstance(handlers, Mapping) and handlers:
            for key, value in handlers.items():
                if not isinstance(key, str) or not key or not callable(value):
                    raise TypeError("handlers must map event type names to callables")
            self._handlers = dict(handlers)
        else:
            raise TypeError("handlers must be a callable or a non-empty mapping of callables")
        self.interval = _positive("interval", interval, MIN_INTERVAL)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise ValueError("limit must be an int from 1 to 100")
        self.limit = limit
        if credentials is not None and not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a Credentials instance")
        if credentials is None and client.credentials is None:
            raise ConfigurationError(
                "the poller needs credentials: pass credentials= here or to SmartAIClient",
                setting="credentials",
            )
        self._credentials = credentials
        if dedup is True:
            self.dedup: DedupStore | None = MemoryDedupStore()
        elif dedup is False:
            self.dedup = None
        elif isinstance(dedup, DedupStore):
            self.dedup = dedup
        else:
            raise TypeError("dedup must be True, False or a DedupStore")
        self.ack_unhandled = bool(ack_unhandled)
        self.handler_timeout = (
            None if handler_timeout is None else _positive("handler_timeout", handler_timeout)
        )
        self.max_backoff = _positive("max_backoff", max_backoff, MIN_INTERVAL)
        self.stop_timeout = _positive("stop_timeout", stop_timeout)
        self._stopping = False
        self._running = False
        self._scope: anyio.CancelScope | None = None
        self._task_group: TaskGroup | None = None
        self._finished: anyio.Event | None = None

    def __repr__(self) -> str:
        return (
            f"ResultsPoller(types={sorted(self._handlers)!r}, interval={self.interval!r}, "
            f"running={self._running!r})"
        )

    @property
    def running(self) -> bool:
        return self._running

    # ─── one poll ────────────────────────────────────────────────────────────────

    async def poll_once(self) -> PollReport:
        """Poll one batch, handle it, acknowledge what succeeded. Platform errors raise."""
        batch = await self._client.poll_events(limit=self.limit, credentials=self._credentials)
        return await self._process(batch)

    async def drain(self) -> PollReport:
        """Poll until the queue is empty or a batch makes no progress."""
        total = PollReport()
        while True:
            report = await self.poll_once()
            total += report
            if not self._should_drain(report):
                return total

    @staticmethod
    def _should_drain(report: PollReport) -> bool:
        # Without progress the same events would come straight back: wait instead.
        return report.pending_count > 0 and report.acknowledged > 0

    def _handler_for(self, event: Event) -> Handler | None:
        return self._handlers.get(event.type) or self._handlers.get("*")

    async def _process(self, batch: EventBatch) -> PollReport:
        to_ack: list[str] = []
        handled = duplicates = failed = skipped = 0
        for event in batch.events:
            handler = self._handler_for(event)
            if handler is None:
                if self.ack_unhandled:
                    logger.info("no handler for %s events: acknowledged event %s", event.type, event.event_id)
                    to_ack.append(event.event_id)
                else:
                    skipped += 1
                continue
            claim = "claimed"
            if self.dedup is not None:
                try:
                    claim = await self.dedup.claim(event.event_id)
                except Exception:
                    logger.exception("the de-duplication store failed; event %s left queued", event.event_id)
                    failed += 1
                    continue
            if claim == "done":
                duplicates += 1
                to_ack.append(event.event_id)
                continue
            if claim == "busy":
                skipped += 1
                continue
            if await self._handle(handler, event):
                handled += 1
                to_ack.append(event.event_id)
                if self.dedup is not None:
                    with contextlib.suppress(Exception):
                        await self.dedup.complete(event.event_id)
            else:
                failed += 1
                if self.dedup is not None:
                    with contextlib.suppress(Exception):
                        await self.dedup.release(event.event_id)
        acknowledged = 0
        if to_ack:
            try:
                await self._client.acknowledge_events(to_ack, credentials=self._credentials)
                acknowledged = len(to_ack)
            except SmartAIError as exc:
                # The events come back on a later poll; de-duplication stops a second handling.
                logger.warning(
                    "acknowledging %d event(s) failed (%s); they will be delivered again",
                    len(to_ack),
                    type(exc).__name__,
                )
        report = PollReport(
            received=len(batch.events),
            handled=handled,
            acknowledged=acknowledged,
            duplicates=duplicates,
            failed=failed,
            skipped=skipped,
            pending_count=batch.pending_count,
        )
        logger.debug(
            "polled %d event(s): %d handled, %d duplicate(s), %d failed, %d skipped, %d acknowledged, "
            "%d pending",
            report.received,
            report.handled,
            report.duplicates,
            report.failed,
            report.skipped,
            report.acknowledged,
            report.pending_count,
        )
        return report

    async def _handle(self, handler: Handler, event: Event) -> bool:
        try:
            with anyio.fail_after(self.handler_timeout):
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            logger.exception(
                "the handler for %s failed on event %s; it stays queued", event.type, event.event_id
            )
            return False
        return True

    # ─── the loop ────────────────────────────────────────────────────────────────

    @contextlib.contextmanager
    def _interruptible(self) -> Iterator[None]:
        """Polls and waits end early on ``stop()``; handlers and acks never do."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._stopping:
                scope.cancel()
            try:
                yield
            finally:
                self._scope = None

    def _backoff(self, failures: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.max_backoff, max(MIN_INTERVAL, retry_after))
        ceiling = min(self.max_backoff, self.interval * 2 ** min(failures - 1, 16))
        return max(MIN_INTERVAL, random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter

    async def run(self) -> None:
        """Poll until ``stop()``. Platform errors are logged and backed off, never raised."""
        self._stopping = False
        await self._run()

    async def _run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        if self._running:
            raise RuntimeError("this ResultsPoller is already running")
        self._running = True
        self._finished = anyio.Event()
        task_status.started()
        failures = 0
        logger.info("results poller started (every %gs)", self.interval)
        try:
            while not self._stopping:
                batch: EventBatch | None = None
                delay = self.interval
                with self._interruptible():
                    try:
                        batch = await self._client.poll_events(
                            limit=self.limit, credentials=self._credentials
                        )
                    except SmartAIRateLimitError as exc:
                        failures += 1
                        delay = self._backoff(failures, exc.retry_after)
                        logger.warning("polling was rate limited; next poll in %.1fs", delay)
                    except SmartAIError as exc:
                        failures += 1
                        delay = self._backoff(failures)
                        logger.warning(
                            "polling failed (%s, status %s); next poll in %.1fs",
                            type(exc).__name__,
                            exc.status_code,
                            delay,
                        )
                if batch is not None:
                    failures = 0
                    report = await self._process(batch)
                    if self._should_drain(report):
                        continue
                if self._stopping:
                    break
                with self._interruptible():
                    await anyio.sleep(delay)
        finally:
            self._running = False
            self._finished.set()
            logger.info("results poller stopped")

    def stop(self) -> None:
        """Ask ``run()`` to return: a poll or wait in progress is cut short, a handler is not."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()

    async def __aenter__(self) -> ResultsPoller:
        if self._task_group is not None:
            raise RuntimeError("this ResultsPoller is already started")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._stopping = False
        try:
            await task_group.start(self._run, name="smartai-results-poller")
        except BaseException:
            self._task_group = None
            await task_group.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        self.stop()
        with anyio.move_on_after(self.stop_timeout, shield=True):
            if self._finished is not None:
                await self._finished.wait()
        if self._running:
            logger.warning("results poller did not stop within %gs: cancelled", self.stop_timeout)
            task_group.cancel_scope.cancel()
        await task_group.__aexit__(exc_type, exc, tb)
