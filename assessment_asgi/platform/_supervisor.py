"""`TenantPoller`: one supervisor for the results queues of many tenants (platform accounts),
each polled with its own keys, by one replica at a time when they share Redis."""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .._seconds import seconds
from ._background import _Background
from ._client import SmartAIClient
from ._credentials import Credentials
from ._dedup import DedupStore, MemoryDedupStore, RedisDedupStore
from ._dispatch import PollReport, log_invalid
from ._errors import SmartAIError, SmartAIRateLimitError
from ._lease import _RedisLease, redis_client, renewing
from ._poller import Handler, ResultsPoller
from ._tenancy import (
    AnyKeys,
    TenantHandler,
    TenantInvalidHandler,
    as_keys,
    bind,
    check_tenant,
    keys_for,
)

logger = logging.getLogger("assessment_asgi.platform")


@dataclass(slots=True, eq=False)
class _Tenant:
    name: str
    poller: ResultsPoller
    due: float = 0.0
    order: int = 0
    failures: int = 0
    busy: bool = False
    removed: bool = False
    total: PollReport = field(default_factory=PollReport)


class TenantPoller(_Background):
    """Polls every tenant's results queue with that tenant's keys; handlers get the tenant.

    `keys` maps a tenant to its `Credentials`, or is a callable (sync or async) answering
    them for a tenant (None: no platform account here), or has an async `get(tenant)` (as
    `TenantKeys` does); `tenants` lists whom to poll (default: the mapping's keys, or the
    provider's `tenants`). `handlers` take `(tenant, event)`:

    ```python
    async def on_result(tenant: str, event: Event) -> None:
        await save(tenant, event.payload())

    poller = TenantPoller(client, {"assessment.completed": on_result},
                          keys={"acme": acme_keys, "globex": globex_keys},
                          redis="redis://127.0.0.1:6379/0")
    async with poller:          # in the app's lifespan
        poller.add("initech")   # tenants come and go while it runs
        yield
    ```

    Each tenant is polled every `interval` seconds (>= 5) and drained while its queue
    reports more, one batch per turn so that no tenant holds a slot for long; errors back
    off that tenant only. At most `max_concurrent` tenants poll (and handle) at once.
    With `redis` (a URL or a `redis.asyncio.Redis`), a lease of `lease_ttl` seconds
    (default: twice the interval plus 10) lets one replica at a time poll a tenant, and
    de-duplication is shared by the replicas, per tenant (a dead replica's claims on the
    events it was handling lapse after `claim_ttl`).
    """

    _task_name = "smartai-tenant-poller"
    _exit_grace = 5.0  # a tenant's turn may be renewing its lease

    def __init__(
        self,
        client: SmartAIClient,
        handlers: TenantHandler | Mapping[str, TenantHandler],
        *,
        keys: AnyKeys,
        tenants: Iterable[str] | None = None,
        interval: float = 30.0,
        limit: int = 100,
        max_concurrent: int = 8,
        redis: Any = None,
        prefix: str = "assessment_asgi:",
        lease_ttl: float | None = None,
        claim_ttl: float = 300.0,
        keys_timeout: float = 10.0,
        ack_unhandled: bool = True,
        handler_timeout: float | None = 60.0,
        max_backoff: float = 300.0,
        stop_timeout: float = 10.0,
        concurrency: int = 1,
        on_invalid: TenantInvalidHandler | None = None,
    ) -> None:
        self._keys, listed = as_keys(keys)
        if callable(handlers) and not isinstance(handlers, Mapping):
            self._handlers: dict[str, TenantHandler] = {"*": handlers}
        elif isinstance(handlers, Mapping):
            self._handlers = dict(handlers)
        else:
            raise TypeError("handlers must be a callable or a non-empty mapping of callables")
        if on_invalid is not None and not callable(on_invalid):
            raise TypeError("on_invalid must be a callable taking (tenant, InvalidEvent)")
        self._on_invalid = on_invalid
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
        self.max_concurrent = max_concurrent
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("prefix must be a non-empty string")
        self._options: dict[str, Any] = dict(
            interval=interval, limit=limit, ack_unhandled=ack_unhandled, handler_timeout=handler_timeout,
            max_backoff=max_backoff, concurrency=concurrency)
        self._client = client
        # A throwaway poller checks every option now, with the poller's own messages.
        probe = self._new_poller("probe", Credentials("probe", "probe"), dedup=False)
        self.interval = probe.interval
        self.stop_timeout = seconds("stop_timeout", stop_timeout)
        self.keys_timeout = seconds("keys_timeout", keys_timeout)
        self.claim_ttl = seconds("claim_ttl", claim_ttl)
        self.lease_ttl = seconds("lease_ttl", 2 * self.interval + 10 if lease_ttl is None else lease_ttl)
        if not self.lease_ttl > self.interval:
            raise ValueError(f"lease_ttl must be more seconds than interval ({self.interval:g})")
        self.prefix = prefix
        self._redis: Any
        self._redis, self._owns_redis = redis_client(redis) if redis is not None else (None, False)
        ttl = self.lease_ttl
        self._lease = None if redis is None else _RedisLease(self._redis, prefix=prefix + "lease:", ttl=ttl)
        self._tenants: dict[str, _Tenant] = {}
        self._order = itertools.count()
        self._active = 0
        self._wake: anyio.Event | None = None  # made on the event loop, by run()
        self._stopping = False
        self._running = False
        self._polls: set[anyio.CancelScope] = set()
        self._task_group: TaskGroup | None = None
        self._finished: anyio.Event | None = None
        for name in tenants if tenants is not None else listed:
            self.add(name)

    def __repr__(self) -> str:
        return f"TenantPoller(tenants={len(self._tenants)}, running={self._running!r})"

    @property
    def running(self) -> bool:
        return self._running

    @property
    def tenants(self) -> list[str]:
        return [t.name for t in self._tenants.values() if not t.removed]

    def report(self, tenant: str) -> PollReport:
        """What this process did for `tenant` so far (all polls added up)."""
        return self._tenants[tenant].total

    async def drain(self) -> dict[str, PollReport]:
        """Drain each tenant's queue once; one that failed (logged) or is leased elsewhere is left out."""
        reports: dict[str, PollReport] = {}
        limiter = anyio.CapacityLimiter(self.max_concurrent)

        async def one(tenant: _Tenant) -> None:
            async with limiter:
                try:
                    if self._lease is not None and await self._lease.acquire(tenant.name):
                        logger.info("tenant %s is polled by another replica: skipped", tenant.name)
                        return
                    keys = await keys_for(self._keys, tenant.name, self.keys_timeout)
                    if keys is None:
                        logger.warning("tenant %s has no platform keys here: not polled", tenant.name)
                        return
                    tenant.poller._credentials = keys
                    reports[tenant.name] = report = await tenant.poller.drain()
                    tenant.total += report
                except Exception as exc:
                    logger.warning("tenant %s: draining failed (%s)", tenant.name, type(exc).__name__)
                finally:
                    await self._give_up(tenant.name)  # only if ours: another replica may go on

        async with anyio.create_task_group() as task_group:
            for tenant in [t for t in self._tenants.values() if not t.removed]:
                task_group.start_soon(one, tenant)
        return reports

    # ─── tenants ─────────────────────────────────────────────────────────────────

    def _new_poller(self, tenant: str, keys: Credentials, *, dedup: DedupStore | bool) -> ResultsPoller:
        handlers: dict[str, Handler] = {kind: bind(fn, tenant) for kind, fn in self._handlers.items()}
        on_invalid = bind(self._on_invalid, tenant) if self._on_invalid is not None else log_invalid
        return ResultsPoller(
            self._client, handlers, credentials=keys, dedup=dedup, on_invalid=on_invalid, **self._options
        )

    def add(self, tenant: str) -> None:
        """Start polling `tenant`'s queue (its first poll is due now); a no-op if polled."""
        check_tenant(tenant)
        current = self._tenants.get(tenant)
        if current is not None:
            current.removed = False
            return
        dedup: DedupStore | bool = MemoryDedupStore(claim_ttl=self.claim_ttl)
        if self._redis is not None:
            # Length first: tenant "a:b" and tenant "a" with event "b:…" never share a key.
            scope = f"{self.prefix}event:{len(tenant)}:{tenant}:"
            dedup = RedisDedupStore(self._redis, prefix=scope, claim_ttl=self.claim_ttl)
        # Keys are read before every poll (they may rotate): none are needed yet.
        poller = self._new_poller(tenant, Credentials("unset", "unset"), dedup=dedup)
        self._tenants[tenant] = _Tenant(tenant, poller, order=next(self._order))
        self._poke()

    def remove(self, tenant: str) -> None:
        """Stop polling `tenant` (a poll in progress finishes; its lease is given up)."""
        current = self._tenants.get(tenant)
        if current is None:
            return
        current.removed = True
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ─── one turn of one tenant ──────────────────────────────────────────────────

    def _backoff(self, tenant: _Tenant, retry_after: float | None = None) -> float:
        tenant.failures += 1
        return tenant.poller._backoff(tenant.failures, retry_after)

    async def _turn(self, tenant: _Tenant) -> float:
        """Poll one batch of `tenant`'s queue and handle it; the seconds until its next turn."""
        name = tenant.name
        if self._lease is not None:
            try:
                held_for = await self._lease.acquire(name)
            except Exception as exc:
                delay = self._backoff(tenant)
                logger.warning("tenant %s: the lease store failed (%s); next try in %.1fs",
                               name, type(exc).__name__, delay)
                return delay
            if held_for:  # another replica polls it: try again once its lease may have lapsed
                return min(held_for, self.lease_ttl) + random.uniform(0, 0.5)  # noqa: S311 - jitter
        batch = None
        with anyio.CancelScope() as scope:  # stop() cuts a key lookup or poll short, never a handler
            self._polls.add(scope)
            try:
                try:
                    credentials = await keys_for(self._keys, name, self.keys_timeout)
                except Exception as exc:
                    delay = self._backoff(tenant)
                    logger.warning("tenant %s: its keys are unavailable (%s); next try in %.1fs",
                                   name, type(exc).__name__, delay)
                    return delay
                if credentials is None:
                    logger.warning("tenant %s has no platform keys here: not polled", name)
                    return self._backoff(tenant)
                tenant.poller._credentials = credentials
                batch = await tenant.poller._fetch()
            except SmartAIRateLimitError as exc:
                delay = self._backoff(tenant, exc.retry_after)
                logger.warning("tenant %s: polling was rate limited; next poll in %.1fs", name, delay)
                return delay
            except SmartAIError as exc:
                delay = self._backoff(tenant)
                logger.warning("tenant %s: polling failed (%s, status %s); next poll in %.1fs",
                               name, type(exc).__name__, exc.status_code, delay)
                return delay
            finally:
                self._polls.discard(scope)
        if batch is None:
            return self.interval
        step = tenant.poller._step(batch)
        report, store_error, more = await (renewing(self._lease, name, step) if self._lease else step)
        tenant.total += report
        if store_error is not None:
            return self._backoff(tenant)
        tenant.failures = 0
        return 0.0 if more else self.interval

    async def _run_turn(self, tenant: _Tenant) -> None:
        delay = self.interval
        try:
            delay = await self._turn(tenant)
        except Exception as exc:  # a bug must not end the supervisor: that tenant backs off
            delay = self._backoff(tenant)
            logger.error("tenant %s: the poll failed unexpectedly (%s)", tenant.name, type(exc).__name__)
        finally:
            tenant.busy = False
            tenant.due = anyio.current_time() + delay
            tenant.order = next(self._order)
            self._active -= 1
            self._poke()

    # ─── the loop ────────────────────────────────────────────────────────────────

    async def _forget_removed(self) -> None:
        for tenant in [t for t in self._tenants.values() if t.removed and not t.busy]:
            del self._tenants[tenant.name]
            await self._give_up(tenant.name)

    async def _give_up(self, name: str) -> None:
        if self._lease is not None:
            with anyio.move_on_after(2, shield=True):
                try:
                    await self._lease.release(name)
                except Exception as exc:  # it expires by itself
                    logger.debug("tenant %s: giving up the lease failed (%s)", name, type(exc).__name__)


    async def _run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        if self._running:
            raise RuntimeError("this TenantPoller is already running")
        self._running = True
        self._finished = anyio.Event()
        task_status.started()
        logger.info("tenant poller started: %d tenant(s), every %gs", len(self._tenants), self.interval)
        try:
            async with anyio.create_task_group() as task_group:
                while not self._stopping:
                    self._wake = anyio.Event()
                    await self._forget_removed()
                    now = anyio.current_time()
                    ready = sorted(
                        (t for t in self._tenants.values() if not t.busy and not t.removed and t.due <= now),
                        key=lambda t: (t.due, t.order),
                    )
                    for tenant in ready[: self.max_concurrent - self._active]:
                        tenant.busy = True
                        self._active += 1
                        task_group.start_soon(self._run_turn, tenant, name=f"smartai-tenant-{tenant.name}")
                    waiting = [t.due for t in self._tenants.values() if not t.busy and not t.removed]
                    room = self._active < self.max_concurrent
                    pause = max(0.0, min(waiting) - now) if waiting and room else math.inf
                    with anyio.move_on_after(pause):
                        await self._wake.wait()
                self._wake = anyio.Event()
                with anyio.move_on_after(self.stop_timeout, shield=True):
                    while self._active:
                        await self._wake.wait()
                        self._wake = anyio.Event()
                if self._active:
                    logger.warning("tenant poller did not stop within %gs: cancelled", self.stop_timeout)
                    task_group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                for name in list(self._tenants):
                    await self._give_up(name)
            self._running = False
            self._finished.set()
            logger.info("tenant poller stopped")

    def stop(self) -> None:
        """Ask `run()` to return: polls and waits end now; running handlers finish first."""
        self._stopping = True
        for scope in list(self._polls):
            scope.cancel()
        self._poke()

    async def aclose(self) -> None:
        """Close the Redis connection pool if it was built here from a URL."""
        if self._owns_redis:
            await self._redis.aclose()
