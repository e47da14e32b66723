"""An httpx2 transport that sends requests over one pooled ``aiohttp.ClientSession``.

httpx2's own async pool loses throughput under concurrency; aiohttp's C-accelerated HTTP/1.1
stack does not. This transport keeps the httpx2 API (auth, redirects, decoding, events all stay
in httpx2) and swaps only the wire: asyncio only, HTTP/1.1 only, no proxies.

    import httpx2
    from assessment_asgi.platform._aiohttp_transport import AiohttpTransport

    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post("https://platform.example/api/v1/sessions", json={...})
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp
import httpx2
from yarl import URL

__all__ = ["AiohttpTransport"]

# Bodies up to this size go to aiohttp as bytes: they fit in the socket buffers, so a write
# cannot stall. Larger and streaming bodies are fed chunk by chunk under the write timeout.
_SMALL_BODY = 64 * 1024
_CHUNK = 64 * 1024

# httpx2 already sets these; without the skip aiohttp would add e.g. an
# ``application/octet-stream`` content type to a body sent without one.
_SKIP_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "Content-Type", "User-Agent"})

_PoolKey = tuple[str, str, int | None]


@functools.lru_cache(maxsize=256)
def _url(url: str) -> URL:
    # Already encoded (by httpx2 or the caller): yarl must not quote it again.
    return URL(url, encoded=True)


@functools.lru_cache(maxsize=64)
def _client_timeout(connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    # The pool phase is timed by this module's own semaphores, so aiohttp's ``connect``
    # (pool wait + connect) stays unset and ``sock_connect`` is exactly httpx2's ``connect``.
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect, sock_read=read)


class BodyReadError(Exception):
    """Raised by :meth:`AiohttpTransport.fetch` when the answer broke off after its status line.

    ``error`` is the httpx2 exception, ``status`` the status already received: a caller can
    tell "no answer" from "an answer cut off", as it can with httpx2's streamed responses.
    """

    def __init__(self, error: httpx2.TransportError, status: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.status = status


class _BodyState:
    """Progress of a chunked request body, shared with the write watchdog."""

    __slots__ = ("deadline", "done")

    def __init__(self) -> None:
        self.deadline: asyncio.Timeout | None = None
        self.done = False


def _map_error(
    exc: BaseException, request: httpx2.Request | None, *, writing: bool = False
) -> httpx2.TransportError | None:
    """The httpx2 exception for an aiohttp failure (messages carry no URL, header or body)."""
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(f"timed out while connecting ({name})", request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        if writing:
            return httpx2.WriteTimeout(f"timed out while sending ({name})", request=request)
        return httpx2.ReadTimeout(f"timed out while reading ({name})", request=request)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return httpx2.ProxyError(f"could not connect to the proxy ({name})", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx2.ConnectError(f"could not connect ({name})", request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx2.RemoteProtocolError(
            f"server disconnected without a complete response ({name})", request=request
        )
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return httpx2.RemoteProtocolError(f"malformed HTTP response ({name})", request=request)
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return httpx2.UnsupportedProtocol(f"unsupported URL scheme ({name})", request=request)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientError | OSError):
        if writing:
            return httpx2.WriteError(f"connection failed while sending ({name})", request=request)
        return httpx2.ReadError(f"connection failed while reading ({name})", request=request)
    return None


def _force_close(session: aiohttp.ClientSession) -> None:
    """Close a session whose event loop is gone, without its "Unclosed …" warnings.

    Its sockets cannot be closed through a loop that no longer runs, so this reaches into
    aiohttp's connector: close each socket directly and mark the connector closed.
    """
    connector: Any = session.connector
    if connector is None:
        return
    with contextlib.suppress(Exception):
        protocols = [proto for conns in connector._conns.values() for proto, _ in conns]
        protocols.extend(connector._acquired)
        for proto in protocols:
            transport: Any = getattr(proto, "transport", None)
            sock = getattr(transport, "_sock", None)
            if transport is not None and sock is not None:
                sock.close()
                transport._sock = None
        connector._closed = True


class _ResponseStream(httpx2.AsyncByteStream):
    """The response body, read from aiohttp as it arrives (so a size cap can stop early)."""

    __slots__ = ("_closed", "_release", "_request", "_response")

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        request: httpx2.Request,
        release: list[asyncio.Semaphore],
    ) -> None:
        self._response = response
        self._request = request
        self._release = release
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            mapped = _map_error(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._response.content.at_eof():
            self._response.release()  # back to the pool
        else:
            self._response.close()  # unread bytes: the connection cannot be reused
        for semaphore in self._release:
            semaphore.release()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """An httpx2 async transport over one lazily created, pooled ``aiohttp.ClientSession``.

    ``limit`` caps concurrent connections in total and ``limit_per_host`` per host (0: no
    cap); idle connections are kept ``keepalive_timeout`` seconds. httpx2's per-request
    ``timeout`` (connect, read, write, pool) is honoured and aiohttp's errors are raised as
    httpx2's. Redirects, cookies and content decoding are left to httpx2. asyncio only.

        client = httpx2.AsyncClient(transport=AiohttpTransport(limit=50))
    """

    def __init__(self, *, limit: int = 100, limit_per_host: int = 0, keepalive_timeout: float = 30.0) -> None:
        for name, value in (("limit", limit), ("limit_per_host", limit_per_host)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 0:
                raise ValueError(f"{name} must be >= 0 (0 means no limit), got {value}")
        if isinstance(keepalive_timeout, bool) or not isinstance(keepalive_timeout, int | float):
            raise TypeError(f"keepalive_timeout must be a number, got {type(keepalive_timeout).__name__}")
        if not keepalive_timeout > 0:
            raise ValueError(f"keepalive_timeout must be > 0 seconds, got {keepalive_timeout}")
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._keepalive_timeout = float(keepalive_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: asyncio.Semaphore | None = None
        self._host_pools: dict[_PoolKey, asyncio.Semaphore] = {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(limit={self._limit}, limit_per_host={self._limit_per_host}, "
            f"keepalive_timeout={self._keepalive_timeout})"
        )

    def _get_session(self) -> aiohttp.ClientSession:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "AiohttpTransport needs a running asyncio loop (aiohttp does not run on trio); "
                "use httpx2's own transport there"
            ) from None
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        if session is not None and self._loop is not loop:
            self._abandon(session, self._loop)
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=self._keepalive_timeout,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx2 keeps the cookies
            auto_decompress=False,  # httpx2 decodes by Content-Encoding
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            timeout=_client_timeout(None, None),
            trust_env=False,
        )
        self._session = session
        self._loop = loop
        # Semaphores bind to one loop: new loop, new ones.
        self._pool = asyncio.Semaphore(self._limit) if self._limit else None
        self._host_pools = {}
        return session

    @staticmethod
    def _abandon(session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None and loop.is_running() and not loop.is_closed():
            # Still alive in another thread: close it there.
            def close() -> None:
                loop.create_task(session.close())

            loop.call_soon_threadsafe(close)
        else:
            _force_close(session)

    async def _acquire(self, key: _PoolKey, wait: float | None) -> list[asyncio.Semaphore]:
        semaphores: list[asyncio.Semaphore] = []
        if self._pool is not None:
            semaphores.append(self._pool)
        if self._limit_per_host:
            host_pool = self._host_pools.get(key)
            if host_pool is None:
                host_pool = self._host_pools[key] = asyncio.Semaphore(self._limit_per_host)
            semaphores.append(host_pool)
        acquired: list[asyncio.Semaphore] = []
        try:
            for semaphore in semaphores:
                if semaphore.locked() and wait is not None:
                    async with asyncio.timeout(wait):
                        await semaphore.acquire()
                else:
                    await semaphore.acquire()
                acquired.append(semaphore)
        except BaseException:
            for semaphore in acquired:
                semaphore.release()
            raise
        return acquired

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        session = self._get_session()
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        url = request.url
        try:
            held = await self._acquire((url.scheme, url.host, url.port), timeouts.get("pool"))
        except TimeoutError as exc:
            raise httpx2.PoolTimeout("timed out waiting for a free connection", request=request) from exc
        try:
            response = await self._send(session, request, timeouts)
        except BaseException:
            for semaphore in held:
                semaphore.release()
            raise
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        return httpx2.Response(
            response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response, request, held),
            request=request,
            extensions=extensions,
        )

    async def _send(
        self,
        session: aiohttp.ClientSession,
        request: httpx2.Request,
        timeouts: dict[str, float | None],
    ) -> aiohttp.ClientResponse:
        headers = request.headers.multi_items()
        sni = request.extensions.get("sni_hostname")
        client_timeout = _client_timeout(timeouts.get("connect"), timeouts.get("read"))
        target = _url(str(request.url))
        data: Any
        try:
            content = request.content
        except httpx2.RequestNotRead:
            content = None
        if content is not None and len(content) <= _SMALL_BODY:
            data = content or None
            try:
                return await session.request(
                    request.method,
                    target,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    timeout=client_timeout,
                    server_hostname=sni,
                )
            except Exception as exc:
                mapped = _map_error(exc, request)
                if mapped is None:
                    raise
                raise mapped from exc

        # Large or streaming body: aiohttp has no write timeout, so a watchdog deadline is
        # pushed forward each time aiohttp takes the next chunk, and lifted once all is sent.
        write_timeout = timeouts.get("write")
        state = _BodyState()
        loop = asyncio.get_running_loop()

        async def chunks() -> AsyncIterator[bytes]:
            if content is not None:
                parts: Any = (content[i : i + _CHUNK] for i in range(0, len(content), _CHUNK))
                for part in parts:
                    if state.deadline is not None and write_timeout is not None:
                        state.deadline.reschedule(loop.time() + write_timeout)
                    yield part
            else:
                async for part in request.stream:  # type: ignore[union-attr]
                    if state.deadline is not None and write_timeout is not None:
                        state.deadline.reschedule(loop.time() + write_timeout)
                    yield part
            state.done = True
            if state.deadline is not None:
                state.deadline.reschedule(None)

        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        try:
            async with asyncio.timeout(None) as deadline:
                state.deadline = deadline
                try:
                    return await session.request(
                        request.method,
                        target,
                        headers=headers,
                        data=chunks(),
                        allow_redirects=False,
                        timeout=client_timeout,
                        server_hostname=sni,
                    )
                finally:
                    state.deadline = None
        except Exception as exc:
            mapped = _map_error(exc, request, writing=not state.done)
            if mapped is None:
                raise
            raise mapped from exc

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]],
        content: bytes | None = None,
        timeout: Mapping[str, float | None] | None = None,
        max_bytes: int | None = None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One whole request on the same pool, without httpx2's Request/Response objects.

        For a caller that owns this transport and wants the fastest path (httpx2's client
        machinery costs more than the aiohttp call itself). ``url`` must be absolute and
        already percent-encoded; ``timeout`` has httpx2's keys (connect, read, write, pool).
        Returns (status, raw headers, body); the body is decoded per Content-Encoding, and
        reading stops as soon as it exceeds ``max_bytes`` (the body returned is then longer
        than ``max_bytes``: check it), or never starts when Content-Length declares more
        (the body returned is then empty: check the header). Failures raise httpx2's exceptions, without URL,
        headers or body in their text; a failure while reading the body raises
        :class:`BodyReadError` around one. Redirects are returned, not followed.
        """
        session = self._get_session()
        timeouts = timeout or {}
        target = _url(url)
        try:
            held = await self._acquire(
                (target.scheme, target.host or "", target.explicit_port), timeouts.get("pool")
            )
        except TimeoutError as exc:
            raise httpx2.PoolTimeout("timed out waiting for a free connection") from exc
        try:
            try:
                response = await session.request(
                    method,
                    target,
                    headers=headers,
                    data=content or None,
                    allow_redirects=False,
                    auto_decompress=True,
                    timeout=_client_timeout(timeouts.get("connect"), timeouts.get("read")),
                )
            except Exception as exc:
                mapped = _map_error(exc, None)
                if mapped is None:
                    raise
                raise mapped from exc
            if max_bytes is not None and (response.content_length or 0) > max_bytes:
                response.close()  # declared too large: not a byte of it is read
                return response.status, list(response.raw_headers), b""
            try:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_any():
                    chunks.append(chunk)
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        break
            except Exception as exc:
                response.close()
                mapped = _map_error(exc, None)
                if mapped is None:
                    raise
                raise BodyReadError(mapped, response.status) from exc
            except BaseException:  # cancelled (a deadline): hang up rather than leak it
                response.close()
                raise
            if response.content.at_eof():
                response.release()
            else:
                response.close()
            return response.status, list(response.raw_headers), b"".join(chunks)
        finally:
            for semaphore in held:
                semaphore.release()

    async def aclose(self) -> None:
        """Close the pooled connections; the next request opens a new session."""
        session, self._session = self._session, None
        if session is None or session.closed:
            return
        if self._loop is asyncio.get_running_loop():
            await session.close()
        else:
            self._abandon(session, self._loop)
