"""The results poller: drain the SmartAI event queue into the host's handlers.

Delivery is at least once. An event is acknowledged only after its handler returned (or
when the de-duplication store says it was handled before), so a crash or a failing
handler means the event comes back on a later poll, never that it is lost.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .._exceptions import ConfigurationError
from .._seconds import backoff, seconds
from ._client import SmartAIClient
from ._credentials import Credentials
from ._dedup import Claim, DedupStore, MemoryDedupStore
from ._dispatch import PollReport, _Tally, call_hook, log_invalid
from ._errors import SmartAIError, SmartAIRateLimitError
from ._models import Event, EventBatch, InvalidEvent

logger = logging.getLogger("assessment_asgi.platform")

Handler = Callable[[Event], Awaitable[Any] | Any]
InvalidHandler = Callable[[InvalidEvent], Awaitable[Any] | Any]

#: The platform rate-limits polling faster than this.
MIN_INTERVAL = 5.0


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

    Nothing jams it: an event that does not fit :class:`Event` goes to ``on_invalid``
    (default: a WARNING naming its id and fields) and is acknowledged; sync handlers run in
    a worker thread; ``handler_timeout`` bounds sync and async handlers alike (a timed-out
    event is not acknowledged); ``concurrency`` handlers run at once within a batch.
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
        concurrency: int = 1,
        on_invalid: InvalidHandler | None = None,
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
        self.interval = seconds("interval", interval, at_least=MIN_INTERVAL)
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
            None if handler_timeout is None else seconds("handler_timeout", handler_timeout)
        )
        self.max_backoff = seconds("max_backoff", max_backoff, at_least=MIN_INTERVAL)
        self.stop_timeout = seconds("stop_timeout", stop_timeout)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 100:
            raise ValueError(f"concurrency must be an int from 1 to 100, got {concurrency!r}")
        self.concurrency = concurrency
        if on_invalid is not None and not callable(on_invalid):
            raise TypeError("on_invalid must be a callable taking an InvalidEvent")
        self._on_invalid: InvalidHandler = on_invalid or log_invalid
        self._warned_types: set[str] = set()
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
        report, _ = await self._process(batch)
        return report

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

    async def _process(self, batch: EventBatch) -> tuple[PollReport, str | None]:
        """Handle one batch; also returns the de-duplication store's error, if it failed."""
        tally = _Tally()
        for bad in batch.invalid:
            tally.invalid += 1
            timeout = self.handler_timeout
            if await call_hook(self._on_invalid, bad, timeout, "on_invalid", bad.type, bad.event_id):
                tally.to_ack.append(bad.event_id)
            else:
                tally.failed += 1
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
            except SmartAIError as exc:
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
        handler = self._handler_for(event)
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
        return backoff(failures, base=self.interval, cap=self.max_backoff, floor=MIN_INTERVAL)

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
                    report, store_error = await self._process(batch)
                    if store_error is None:
                        failures = 0
                        if self._should_drain(report):
                            continue
                    else:
                        # Every claim would fail alike: back off as for a platform error.
                        failures += 1
                        delay = self._backoff(failures)
                        logger.warning("backing off for the de-duplication store: next poll in %.1fs", delay)
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
