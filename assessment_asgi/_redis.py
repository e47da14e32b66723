"""One way to talk to Redis: `redis.asyncio` on the running event loop, on a bounded pool.

Every Redis user of the package (the rate limiter, idempotency keys, the poller's
de-duplication) gets its client here. A `redis.asyncio` connection belongs to the loop
that opened it, so each running loop has its own client and pool (`LoopLocal`), built on
first use (building an app never connects) and closed on its own loop when that loop ends.
The pool is bounded: at most `max_connections` sockets per loop; a request beyond them
waits up to `timeout` seconds for a free one, then fails (the callers answer 503).

Scripts go through `RedisPool.eval`, which pipelines automatically: the scripts that
requests submit in one turn of the event loop leave together in one pipeline (one socket
write, one read), as ioredis' auto-pipelining does. Each request still makes one round trip,
but redis-py's per-command work (a pool checkout and its checks, a write, a read: most of the
CPU a Redis call costs; see benchmarks/README.md) is paid once per batch, not once per request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import SecretStr

from . import _rules
from ._compat import current_loop
from ._concurrency import LoopLocal
from ._exceptions import ConfigurationError

SETTING = "ASSESSMENT_REDIS_URL"
TIMEOUT = 2.0
MAX_CONNECTIONS = 64


def redis_url(url: str | SecretStr, setting: str = SETTING) -> SecretStr:
    """A checked Redis URL for `redis.asyncio` (`redis+unix://` is `limits`' spelling
    of `unix://`); the scheme is checked by the one rule in `_rules.py`."""
    return SecretStr(_rules.redis_py_url(_rules.redis_url(url, setting)))


class RedisPool:
    """A `redis.asyncio.Redis` client per running asyncio loop, each on a bounded pool.

    For example:

    ```python
    pool = RedisPool(redis_url("redis://127.0.0.1:6379/0"))
    await pool.client().ping()
    ```
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
        self._clients: LoopLocal[_LoopClient] = LoopLocal(self._connect, close=_close)

    def __repr__(self) -> str:
        return f"RedisPool(max_connections={self.max_connections})"

    def _connect(self, library: str) -> _LoopClient:
        import redis.asyncio as redis_asyncio

        pool = redis_asyncio.BlockingConnectionPool.from_url(
            self.url.get_secret_value(),
            max_connections=self.max_connections,
            timeout=self.timeout,  # waiting for a free connection
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
        )
        return _LoopClient(redis_asyncio.Redis(connection_pool=pool))

    def _here(self) -> _LoopClient:
        if current_loop()[0] != "asyncio":
            raise RuntimeError("redis.asyncio needs asyncio")
        return self._clients.get()

    def client(self) -> Any:
        """The running loop's client (`RuntimeError` on trio: `redis.asyncio` needs asyncio)."""
        return self._here().redis

    def eval(self, script: str, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """`EVAL script` on the running loop's client, pipelined with the other scripts
        submitted in the same turn of the loop: await the result (or what Redis or the
        connection raised). `RuntimeError` at once on trio."""
        return self._here().submit(script, keys, args)

    async def aclose(self) -> None:
        """Close the running loop's client and pool now; other loops close theirs on their own."""
        await self._clients.aclose()


class _LoopClient:
    """One loop's client, and the scripts waiting for the next pipeline."""

    __slots__ = ("_pending", "_tasks", "redis")

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._pending: list[tuple[str, list[str], list[Any], asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, script: str, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)  # after every task ready in this turn has submitted
        self._pending.append((script, keys, args, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[str, list[str], list[Any], asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                script, keys, args, _ = batch[0]
                results = [await self.redis.eval(script, len(keys), *keys, *args)]
            else:
                pipeline = self.redis.pipeline(transaction=False)
                for script, keys, args, _ in batch:
                    pipeline.eval(script, len(keys), *keys, *args)
                results = await pipeline.execute(raise_on_error=False)
        except asyncio.CancelledError:  # the loop is shutting down
            for *_, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), result in zip(batch, results, strict=True):
            if future.done():  # its request was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def aclose(self) -> None:
        await self.redis.aclose()
        await self.redis.connection_pool.aclose()


async def _close(client: _LoopClient) -> None:
    await client.aclose()
