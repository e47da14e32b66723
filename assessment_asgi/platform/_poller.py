"""The results poller: drain the SmartAI event queue into the host's handlers.

Delivery is at least once. An event is acknowledged only after its handler returned (or
when the de-duplication store says it was handled before), so a crash or a failing
handler means the event comes back on a later poll, never that it is lost.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .._exceptions import ConfigurationError
from .._seconds import backoff, seconds
from ._background import _Background
from ._batch import Handler, InvalidHandler, _BatchHandling
from ._client import SmartAIClient
from ._credentials import Credentials
from ._dedup import DedupStore, MemoryDedupStore
from ._dispatch import PollReport, log_invalid
from ._errors import SmartAIError, SmartAIRateLimitError
from ._models import EventBatch
from ._paging import _Pager

logger = logging.getLogger("assessment_asgi.platform")

__all__ = ["MIN_INTERVAL", "Handler", "InvalidHandler", "ResultsPoller"]

#: The platform rate-limits polling faster than this.
MIN_INTERVAL = 5.0


class ResultsPoller(_BatchHandling, _Background):
    """Polls the queue, hands each event to its handler by type, acknowledges what succeeded.

    `handlers` is one async (or sync) callable for every event, or a mapping from event
    type to callable (`"*"` catches the rest):

    ```python
    async def on_result(event: Event) -> None:
        await save(event.payload())

    poller = ResultsPoller(client, {"assessment.completed": on_result}, interval=30)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with poller:          # polls in the background until the app stops
            yield
    ```

    Polls every `interval` seconds (never below 5: the platform rate-limits faster
    polling). While `pendingCount` > 0 *and* the last batch made progress, it polls again
    at once to drain the backlog, as the platform's docs ask; a 429 then sets the pace.
    Errors back off exponentially (with jitter) up to `max_backoff`.

    Nothing jams it: an event that does not fit `Event`, or has no usable `eventId`, goes
    to `on_invalid` (default: a WARNING naming its id and fields) and is acknowledged when
    it has an id and its type is one the poller takes (or `ack_unhandled`); events left
    queued never hide the ones behind them (the next poll starts past them, see `drain`);
    sync handlers run in a worker thread; `handler_timeout` bounds sync and async handlers
    alike (a timed-out event is not acknowledged); `concurrency` handlers run at once.
    """

    _task_name = "smartai-results-poller"

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
        self._pager = _Pager(limit)
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
        self._reported: dict[str, None] = {}  # events without an id given to on_invalid
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
        """Poll one batch, handle it, acknowledge what succeeded. Platform errors raise.

        Successive calls page past events left queued (see `drain`)."""
        report, _, _ = await self._step(await self._fetch())
        return report

    async def drain(self) -> PollReport:
        """Poll until the queue is empty or polling again would make no progress.

        Events left queued (no usable id, a failed handler, a type not taken) never hide
        the ones behind them: the next poll starts past them (`since`), and a failed
        event is retried on the next pass over the queue."""
        total = PollReport()
        while True:
            report, _, more = await self._step(await self._fetch())
            total += report
            if not more:
                return total

    async def _fetch(self) -> EventBatch:
        pager = self._pager
        return await self._client.poll_events(
            limit=pager.limit, since=pager.since, credentials=self._credentials
        )

    async def _step(self, batch: EventBatch) -> tuple[PollReport, str | None, bool]:
        """Process a batch; also whether to poll again at once (it drains the backlog)."""
        report, store_error = await self._process(self._pager.unseen(batch))
        return report, store_error, self._pager.advance(batch, report.acknowledged)

    # ─── the loop ────────────────────────────────────────────────────────────────

    @contextlib.contextmanager
    def _interruptible(self) -> Iterator[None]:
        """Polls and waits end early on `stop()`; handlers and acks never do."""
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
                        batch = await self._fetch()
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
                    _, store_error, more = await self._step(batch)
                    if store_error is None:
                        failures = 0
                        if more:
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
        """Ask `run()` to return: a poll or wait in progress is cut short, a handler is not."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()
