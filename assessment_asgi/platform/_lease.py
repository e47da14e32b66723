"""Leases in Redis: which replica polls a tenant's queue, until it stops renewing.

A lease is a key holding the holder's random token, with an expiry. The holder renews it
(same token) each time it polls; another replica gets it only once it has expired, so a
killed replica's tenants are taken over within `ttl` seconds.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable
from typing import Any, TypeVar

import anyio

from .._redis import RedisPool, redis_url

_T = TypeVar("_T")

# Take the lease if free, renew it if ours; else answer how long it is still held (ms).
_ACQUIRE = """
local holder = redis.call('get', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return -3
end
return redis.call('pttl', KEYS[1])
"""

# Give the lease up only if it is still ours (atomic compare-and-delete).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def redis_client(redis: Any) -> tuple[Any, bool]:
    """A Redis for leases and de-duplication: a `RedisPool` (a client per running loop, the
    package's one Redis style) from a URL, or the caller's `redis.asyncio.Redis` as given; and
    whether it was built here."""
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("leases need the redis package: pip install 'assessment-asgi[redis]'") from exc
    if isinstance(redis, str):
        return RedisPool(redis_url(redis, "redis")), True  # the one scheme check
    if isinstance(redis, redis_asyncio.Redis):
        return redis, False
    raise TypeError("redis must be a redis.asyncio.Redis or a redis:// URL")


class _RedisLease:
    """Leases named `<prefix><name>`, held by this replica's token for `ttl` seconds."""

    def __init__(self, redis: Any, *, prefix: str, ttl: float) -> None:
        self._redis = redis
        self.prefix = prefix
        self.ttl_ms = max(1, int(ttl * 1000))
        self.token = secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"RedisLease(prefix={self.prefix!r}, ttl_ms={self.ttl_ms})"

    def _client(self) -> Any:
        return self._redis.client() if isinstance(self._redis, RedisPool) else self._redis

    async def acquire(self, name: str) -> float:
        """Take or renew the lease: 0.0 when held now, else the seconds it is still held."""
        left = int(await self._client().eval(_ACQUIRE, 1, self.prefix + name, self.token, self.ttl_ms))
        if left == -3:
            return 0.0
        return (left if left > 0 else self.ttl_ms) / 1000  # no expiry (-1): as if just renewed

    async def release(self, name: str) -> None:
        await self._client().eval(_RELEASE, 1, self.prefix + name, self.token)


async def renewing(lease: _RedisLease, name: str, work: Awaitable[_T]) -> _T:
    """Await `work` while renewing `name`'s lease every third of its time to live."""
    results: list[_T] = []
    async with anyio.create_task_group() as task_group:

        async def renew() -> None:
            while True:
                await anyio.sleep(lease.ttl_ms / 3000)
                with contextlib.suppress(Exception):  # it may lapse: de-duplication is the net
                    await lease.acquire(name)

        task_group.start_soon(renew)
        try:
            results.append(await work)
        finally:
            task_group.cancel_scope.cancel()
    return results[0]
