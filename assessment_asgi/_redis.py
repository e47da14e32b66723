"""One way to talk to Redis: ``redis.asyncio`` on the running event loop, on a bounded pool.

Every Redis user of the package (the rate limiter, idempotency keys, the poller's
de-duplication) gets its client here. A ``redis.asyncio`` connection belongs to the loop
that opened it, so each running loop has its own client and pool (``LoopLocal``), built on
first use (building an app never connects) and closed on its own loop when that loop ends.
The pool is bounded: at most ``max_connections`` sockets per loop; a request beyond them
waits up to ``timeout`` seconds for a free one, then fails (the callers answer 503).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from ._compat import current_loop
from ._concurrency import LoopLocal
from ._exceptions import ConfigurationError

SETTING = "ASSESSMENT_REDIS_URL"
TIMEOUT = 2.0
MAX_CONNECTIONS = 64


def redis_url(url: str | SecretStr, setting: str = SETTING) -> SecretStr:
    """A checked Redis URL for ``redis.asyncio`` (``redis+unix://`` is ``limits``' spelling
    of ``unix://``); ``ConfigurationError`` naming ``setting`` for any other scheme."""
    raw = url.get_secret_value() if isinstance(url, SecretStr) else url
    if isinstance(raw, str) and raw.startswith("redis+unix://"):
        raw = "unix://" + raw.removeprefix("redis+unix://")
    if not isinstance(raw, str) or not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            f"{setting} must be a redis://, rediss:// or redis+unix:// URL", setting=setting
        )
    return SecretStr(raw)


class RedisPool:
    """A ``redis.asyncio.Redis`` client per running asyncio loop, each on a bounded pool.

    Example::

        pool = RedisPool(redis_url("redis://127.0.0.1:6379/0"))
        await pool.client().ping()
    """

    def __init__(
        self, url: SecretStr, *, max_connections: int = MAX_CONNECTIONS, timeout: float = TIMEOUT
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                f"{SETTING} is set but the redis package is missing: "
                "pip install 'assessment-asgi[redis]'",
                setting=SETTING,
            ) from exc
        self.url = url  # may hold a password: SecretStr never shows it
        self.max_connections = max_connections
        self.timeout = timeout
        self._clients: LoopLocal[Any] = LoopLocal(self._connect, close=_close)

    def __repr__(self) -> str:
        return f"RedisPool(max_connections={self.max_connections})"

    def _connect(self, library: str) -> Any:
        import redis.asyncio as redis_asyncio

        pool = redis_asyncio.BlockingConnectionPool.from_url(
            self.url.get_secret_value(),
            max_connections=self.max_connections,
            timeout=self.timeout,  # waiting for a free connection
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
        )
        return redis_asyncio.Redis(connection_pool=pool)

    def client(self) -> Any:
        """The running loop's client (``RuntimeError`` on trio: ``redis.asyncio`` needs asyncio)."""
        if current_loop()[0] != "asyncio":
            raise RuntimeError("redis.asyncio needs asyncio")
        return self._clients.get()

    async def aclose(self) -> None:
        """Close the running loop's client and pool now; other loops close theirs on their own."""
        await self._clients.aclose()


async def _close(client: Any) -> None:
    await client.aclose()
    await client.connection_pool.aclose()
