"""The pyreqwest engine (Rust reqwest/hyper): opt-in, asyncio only.

Built for this package's guarantees as far as pyreqwest 0.15 allows:

* no proxy from the environment, no redirects, no cookies; connect and read timeouts are
  pyreqwest's own (one client per distinct pair), plus a total timeout just past the
  attempt's deadline, so every request ends by itself;
* the body is streamed and reading stops at `max_bytes`;
* "never sent" only when pyreqwest's causes name the connect phase: anything else counts
  as "maybe sent", so a create is never repeated on a guess;
* the request runs in its own task: a caller's cancel scope is honoured at once, while the
  request itself (which pyreqwest cannot stop) ends at its own timeout, or when the engine
  is closed;
* clients are built lazily per process and event loop (once pyreqwest's runtime has started
  in a process, a child forked from it cannot build a client: upstream issue #51).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import (
    ConnectError,
    ConnectTimeoutError,
    PoolTimeoutError,
    PyreqwestError,
    RequestTimeoutError,
)

from ..._capped import BadLength, Capped, OverCap
from ._seam import Answer, EngineError, Headers, Options, Prepared, refused

# The total timeout ends a request this long after the caller's deadline has already
# cancelled the wait for it: the deadline's error wins, the request still ends.
_AFTER_DEADLINE = 0.25


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


class PyreqwestEngine:
    name = "pyreqwest"

    def __init__(self, options: Options) -> None:
        self._options = options
        self._clients: dict[tuple[float, float], Client] = {}
        self._running: set[asyncio.Task[Answer]] = set()  # held: the loop keeps only weak refs
        self._abandoned: set[asyncio.Task[Answer]] = set()  # running on, their callers gone

    def _client(self, connect: float, read: float) -> Client:
        client = self._clients.get((connect, read))
        if client is None:
            limits = self._options.limits
            builder = (
                ClientBuilder()
                .no_proxy()
                .follow_redirects(False)
                .default_cookie_store(False)
                .default_headers(self._options.headers)
                .gzip(True)  # decoded as aiohttp and httpx2 do; the cap counts decoded bytes
                .connect_timeout(_seconds(connect))
                .pool_timeout(_seconds(connect))
                .read_timeout(_seconds(read))
                .max_connections(limits.max_connections)
                .tcp_nodelay(True)  # small requests and answers: never wait to fill a segment
                .pool_idle_timeout(_seconds(limits.keepalive_expiry or 4.0))
            )
            client = self._clients[(connect, read)] = builder.build()
        return client

    async def send(self, request: Prepared) -> Answer:
        task = asyncio.get_running_loop().create_task(self._exchange(request))
        self._running.add(task)
        task.add_done_callback(self._finished)
        # Awaited through ``shield``: a cancel reaches us as asyncio's own CancelledError
        # (a cancel scope then ends cleanly) and the task runs on to its own timeout.
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                self._abandoned.add(task)
            raise

    def _finished(self, task: asyncio.Task[Answer]) -> None:
        self._running.discard(task)
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned attempt's failure is not news

    async def _exchange(self, request: Prepared) -> Answer:
        builder = (
            self._client(request.connect, request.read)
            .request(request.method, request.url)
            .headers(request.headers)
            .timeout(_seconds(request.deadline + _AFTER_DEADLINE))
            # Nothing read ahead: the status and headers come back first, so a declared
            # size is checked, and a body cut off is told apart from no answer at all.
            .streamed_read_buffer_limit(0)
        )
        if request.body:
            builder = builder.body_bytes(request.body)
        status: int | None = None
        headers: Headers | None = None
        try:
            async with builder.build_streamed() as response:
                status, headers = response.status, _Headers(response.headers)
                body = await _read_capped(response, request.max_bytes, status, headers)
        except EngineError:
            raise
        except PyreqwestError as exc:
            if status is None:
                raise _send_error(exc) from None
            if isinstance(exc, RequestTimeoutError):
                raise EngineError("stalled", status=status, headers=headers) from None
            raise EngineError("cut_off", status=status, headers=headers) from None
        return Answer(status, headers, body)

    async def aclose(self) -> None:
        # First the attempts whose callers gave up (they would run on to their own timeout):
        # cancelled and awaited here, so none ends later, on a closed client, as an error
        # nobody is left to read. A caller still waiting gets its answer or an error.
        abandoned = list(self._abandoned)
        for task in abandoned:
            task.cancel()
        await asyncio.gather(*abandoned, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()


async def _read_capped(response: Any, max_bytes: int, status: int, headers: Headers) -> bytes:
    try:
        body = Capped(max_bytes, headers.get("content-length"))
    except (BadLength, OverCap) as exc:
        raise refused(exc, status=status, headers=headers) from None
    reader = response.body_reader
    if body.declared is not None and headers.get("content-encoding") is None:
        # The common case: a known, acceptable length, read at once.
        return bytes(await reader.bytes())
    while (chunk := await reader.read_chunk()) is not None:
        try:
            body.add(bytes(chunk))
        except OverCap as exc:
            raise refused(exc, status=status, headers=headers) from None
    return body.value()


class _Headers:
    """pyreqwest's headers, read safely: a value that is not visible ASCII (pyreqwest raises
    `ValueError` for it) reads as `"\ufffd"`, never a number and never a crash."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Any) -> None:
        self._headers = headers

    def get(self, key: str, /) -> str | None:
        try:
            value: str | None = self._headers.get(key)
        except ValueError:
            return "\ufffd"
        return value


def _send_error(exc: PyreqwestError) -> EngineError:
    """pyreqwest raises ConnectError for a request dropped after it was sent, too: only
    its causes tell the connect phase apart."""
    if isinstance(exc, PoolTimeoutError):
        return EngineError("connect_timeout")
    if isinstance(exc, ConnectError | ConnectTimeoutError):
        details: Any = getattr(exc, "details", None) or {}
        causes = [cause.get("message") for cause in details.get("causes") or ()]
        if "client error (Connect)" in causes:
            if isinstance(exc, ConnectTimeoutError):
                return EngineError("connect_timeout")
            return EngineError("connect")
    if isinstance(exc, RequestTimeoutError):
        return EngineError("read_timeout")
    return EngineError("dropped")
