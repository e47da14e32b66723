"""Abuse limits: a per-recruiter rate limit and a cap on concurrent platform calls.

- `RecruiterRateLimiter` counts session requests per recruiter with the `limits`
  library: in memory for one process, or in Redis (`ASSESSMENT_REDIS_URL`) so that every
  replica shares one count. Over the limit the app answers 429 `rate_limited` with
  `Retry-After`. If Redis cannot be reached the limiter fails closed (503): an endpoint
  that emails candidates on a paid platform must not lose its brakes silently.
- `PlatformCallLimiter` caps concurrent calls to the platform. A request over the cap
  waits for a free slot for at most `queue_timeout` seconds, then gets 503
  `service_unavailable` with `Retry-After`: a slow platform then costs the host a bounded
  number of sockets and tasks instead of all of them.

Both work on asyncio and trio: the memory storage (`._ratestore`, bounded: an idle
recruiter's entry is freed once its window has passed) is thread-safe and never blocks. On
asyncio a Redis hit is one script on the running loop (`_HIT`: every item of the limit
counted, or the refusal and its reset, in one round trip), auto-pipelined with the other
requests' scripts over the bounded per-loop pool of `_redis.py`. It keeps the data layout of
`limits`' Redis storage (same keys, same lists and counters), so on trio, where
`redis.asyncio` cannot run, `limits`' blocking Redis storage in a worker thread shares the
same counts.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Literal

import anyio
import anyio.to_thread
from limits import RateLimitItem
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from pydantic import SecretStr

from ._claims import Claim, ClaimStore, RedisClaimStore
from ._compat import current_loop, deadline
from ._concurrency import LoopLocal
from ._exceptions import ConfigurationError, HTTPException
from ._models import Recruiter
from ._ratestore import BoundedMemoryStorage
from ._redis import RedisPool, redis_url
from ._rules import limits_url, parse_rate_limit

logger = logging.getLogger("assessment_asgi.ratelimit")

Strategy = Literal["moving-window", "fixed-window"]
STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
}
# pre(n) counts a hit on KEYS[1..n], one per item, named as limits names them. ARGV: now (Unix
# seconds, as limits' moving window stores it), the strategy, then each item's amount and expiry
# (s). Items are counted in turn (limits' acquire_moving_window.lua / incr_expire.lua); at the
# first one over: {index, seconds until it frees up}; {0, "0"} when every item allowed the hit.
_PRE_HIT = """
local function pre(n)
  local now = tonumber(ARGV[1])
  local moving = ARGV[2] == 'moving-window'
  for i = 1, n do
    local limit, expiry = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
    if moving then
      local entry = redis.call('lindex', KEYS[i], limit - 1)
      if entry and tonumber(entry) >= now - expiry then
        return {i, tostring(tonumber(entry) + expiry - now)}
      end
      redis.call('lpush', KEYS[i], ARGV[1])
      redis.call('ltrim', KEYS[i], 0, limit - 1)
      redis.call('expire', KEYS[i], expiry)
    else
      local count = redis.call('incrby', KEYS[i], 1)
      if count == 1 then redis.call('expire', KEYS[i], expiry) end
      if count > limit then return {i, tostring(redis.call('pttl', KEYS[i]) / 1000)} end
    end
  end
  return {0, '0'}
end
"""
_HIT = _PRE_HIT + "return pre(#KEYS)"
REDIS_TIMEOUT = 2.0
KEY_PREFIX = "assessment_asgi"


class RecruiterRateLimiter:
    """At most `limit` session requests per recruiter (`"30/minute"` by default):

    ```python
    limiter = RecruiterRateLimiter(limit="10/minute", storage_uri="redis://127.0.0.1:6379/0")
    await limiter.check(Recruiter(id="rec_42"))   # raises HTTPException 429 when over
    ```
    """

    def __init__(
        self,
        *,
        limit: str = "30/minute",
        strategy: Strategy = "moving-window",
        storage_uri: str | SecretStr | None = None,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        # The rules of _rules.py, as AssessmentSettings applies them; errors name the keyword.
        self.items = parse_rate_limit(limit, "limit")
        if strategy not in STRATEGIES:
            raise ConfigurationError(
                f"strategy must be one of {', '.join(STRATEGIES)}", setting="strategy"
            )
        memory = storage_uri is None or storage_uri == "memory://"
        self.strategy = strategy
        self.limit = limit
        self.backend = "memory" if memory else "redis"
        # May hold a Redis password: never shown.
        redis = None if memory else redis_url(storage_uri or "", "storage_uri")  # the one check
        self._uri = SecretStr("memory://" if redis is None else limits_url(redis))
        self._key_prefix = key_prefix
        self._limiter: RateLimiter | None = None
        # On asyncio: one script per hit on the running loop's client (see _HIT).
        self._pool = None if redis is None else RedisPool(redis, timeout=REDIS_TIMEOUT)
        # Each item's key as `limits` names it (`item.key_for("session", key)`), split around
        # the recruiter's key: built once, not per request.
        self._key_parts: list[tuple[str, str, int, int]] = []
        for item in self.items:
            before, _, after = item.key_for("session", "\0").partition("\0")
            self._key_parts.append((before, after, item.amount, item.get_expiry()))

    def __repr__(self) -> str:
        return (
            f"RecruiterRateLimiter(limit={self.limit!r}, strategy={self.strategy!r}, "
            f"backend={self.backend!r})"
        )

    def _get_limiter(self) -> RateLimiter:
        # Created on first use, so building the app never connects to Redis.
        if self._limiter is None:
            options: dict[str, float | str | bool] = {}
            if self.backend == "redis":
                options = {
                    "key_prefix": self._key_prefix,
                    "socket_timeout": REDIS_TIMEOUT,
                    "socket_connect_timeout": REDIS_TIMEOUT,
                }
            storage = (
                BoundedMemoryStorage()
                if self.backend == "memory"
                else storage_from_string(self._uri.get_secret_value(), **options)
            )
            if not isinstance(storage, Storage):  # an async (limits.aio) scheme
                raise ConfigurationError("storage_uri names an unsupported storage",
                                         setting="storage_uri")
            self._limiter = STRATEGIES[self.strategy](storage)
        return self._limiter

    async def check(self, recruiter: Recruiter) -> None:
        """Count one request for `recruiter`; raise 429 `rate_limited` when over the limit."""
        key = recruiter_key(recruiter)
        try:
            if self.backend == "memory":
                retry_after = self._hit(key)
            elif current_loop()[0] == "asyncio":
                retry_after = await self._ahit(key)
            else:  # trio: redis.asyncio cannot run here
                retry_after = await anyio.to_thread.run_sync(self._hit, key)
        except Exception as exc:
            raise _unavailable(exc) from None
        if retry_after is not None:
            raise self._over(recruiter, retry_after)

    async def check_and_claim(
        self, recruiter: Recruiter, store: ClaimStore, key: str, fingerprint: str, lease: float
    ) -> Claim:
        """Count one request, then claim `key` in `store`: one script (one round trip) when
        both live in the same Redis, else one after the other. 429 when over the limit (the
        key is then not claimed); the store's own errors otherwise."""
        pool = self._pool
        if (pool is None or not isinstance(store, RedisClaimStore) or store.url != pool.url
                or current_loop()[0] != "asyncio"):
            await self.check(recruiter)
            return await store.claim(key, fingerprint, lease)
        keys, args = self._script_args(recruiter_key(recruiter))
        try:
            over, seconds, claim = await store.claim_after(_PRE_HIT, keys, args, key, fingerprint, lease)
        except Exception as exc:
            raise _unavailable(exc) from None
        if over:
            raise self._over(recruiter, self._retry_after(over, seconds))
        assert claim is not None
        return claim

    def _over(self, recruiter: Recruiter, retry_after: int) -> HTTPException:
        logger.info("recruiter %s is over the rate limit %s", recruiter, self.limit)
        return HTTPException(
            "rate_limited",
            f"Too many session requests: at most {self.limit} per recruiter",
            headers={"Retry-After": str(retry_after)},
        )

    def _hit(self, key: str) -> int | None:
        limiter = self._get_limiter()
        storage = limiter.storage
        if isinstance(storage, BoundedMemoryStorage):
            # The package's own storage: every item in one call (the keys and counts are
            # those `limits`' strategies would use), the per-request path in memory.
            over = storage.hit_all(
                [(prefix + key + suffix, amount, expiry)
                 for prefix, suffix, amount, expiry in self._key_parts],
                self.strategy == "moving-window",
            )
            return None if over < 0 else self._reset_in(limiter, self.items[over], key)
        for item in self.items:
            if not limiter.hit(item, "session", key):
                return self._reset_in(limiter, item, key)
        return None

    @staticmethod
    def _reset_in(limiter: RateLimiter, item: RateLimitItem, key: str) -> int:
        """Whole seconds until `item` lets `key` in again: at least 1, at most its window."""
        reset = limiter.get_window_stats(item, "session", key).reset_time
        return min(max(math.ceil(reset - time.time()), 1), item.get_expiry())

    def _script_args(self, key: str) -> tuple[list[str], list[str]]:
        prefix = self._key_prefix + ":"
        keys, args = [], [repr(time.time()), self.strategy]
        for before, after, amount, expiry in self._key_parts:
            keys.append(prefix + before + key + after)
            args += (str(amount), str(expiry))
        return keys, args

    def _retry_after(self, over: int | bytes, seconds: bytes | str) -> int:
        item = self.items[int(over) - 1]
        return min(max(math.ceil(float(seconds)), 1), item.get_expiry())

    async def _ahit(self, key: str) -> int | None:
        assert self._pool is not None
        keys, args = self._script_args(key)
        over, seconds = await self._pool.eval(_HIT, keys, args)
        return self._retry_after(over, seconds) if over else None

    def reset(self) -> None:
        """Forget every count (tests and operators; with Redis, a blocking call)."""
        if self._limiter is not None or self.backend == "redis":
            self._get_limiter().storage.reset()

    async def aclose(self) -> None:
        """Close the running loop's Redis connections (other loops close theirs when they end)."""
        if self._pool is not None:
            await self._pool.aclose()


def _unavailable(exc: Exception) -> HTTPException:
    logger.error("rate limit storage unavailable (%s): refusing the request", type(exc).__name__)
    return HTTPException("service_unavailable", headers={"Retry-After": "5"})


def recruiter_key(recruiter: Recruiter) -> str:
    """A stable, opaque key per recruiter (`Recruiter.scope`, hashed): no email (personal
    data) ever reaches the store."""
    return hashlib.sha256(recruiter.scope.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class PlatformCallLimiter:
    """At most `max_concurrent` platform calls at once; others wait `queue_timeout` seconds.

    One `anyio.CapacityLimiter` per event loop, since limiters are bound to their loop:

    ```python
    limiter = PlatformCallLimiter(max_concurrent=8, queue_timeout=2.0)
    async with limiter.slot():   # raises HTTPException 503 after 2 s in the queue
        ...
    ```
    """

    def __init__(self, *, max_concurrent: int = 64, queue_timeout: float = 5.0) -> None:
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ConfigurationError(
                "max_concurrent must be a positive integer", setting="max_concurrent"
            )
        if not queue_timeout >= 0:
            raise ConfigurationError(
                "queue_timeout must be zero or more seconds", setting="queue_timeout"
            )
        self.max_concurrent = max_concurrent
        self.queue_timeout = queue_timeout
        self._limiters: LoopLocal[anyio.CapacityLimiter] = LoopLocal(
            lambda _library: anyio.CapacityLimiter(max_concurrent)
        )

    def __repr__(self) -> str:
        return (
            f"PlatformCallLimiter(max_concurrent={self.max_concurrent}, "
            f"queue_timeout={self.queue_timeout})"
        )

    def _limiter(self) -> anyio.CapacityLimiter:
        return self._limiters.get()  # one per event loop: a limiter belongs to its loop

    @property
    def in_use(self) -> int:
        """Platform calls in flight on the current event loop."""
        return int(self._limiter().borrowed_tokens)

    def slot(self) -> _Slot:
        """Hold one slot for the duration of a platform call, or raise 503."""
        return _Slot(self)


class _Slot:
    """`async with limiter.slot():` as a plain class: no generator per request."""

    __slots__ = ("_borrower", "_limiter", "_owner")

    def __init__(self, owner: PlatformCallLimiter) -> None:
        self._owner = owner
        self._limiter: anyio.CapacityLimiter | None = None
        # One borrower per call, not per task: a task may hold several slots (nested calls).
        self._borrower = object()

    async def __aenter__(self) -> None:
        owner = self._owner
        limiter = owner._limiter()
        borrower = self._borrower
        acquired = False
        try:
            limiter.acquire_on_behalf_of_nowait(borrower)
            acquired = True
        except anyio.WouldBlock:
            async with deadline(owner.queue_timeout, move_on=True):
                await limiter.acquire_on_behalf_of(borrower)
                acquired = True
        if not acquired:
            logger.warning(
                "%d platform calls already in flight: refusing a request after %.1f s in queue",
                owner.max_concurrent, owner.queue_timeout,
            )
            raise HTTPException(
                "service_unavailable",
                "Too many requests in flight; try again shortly",
                headers={"Retry-After": "1"},
            )
        self._limiter = limiter

    async def __aexit__(self, *exc_info: object) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter.release_on_behalf_of(self._borrower)
