"""The httpx2 engine: for trio, and for a caller's own ``http_client`` or ``transport``."""

from __future__ import annotations

import http.cookiejar
import logging

import httpx2

from ..._capped import BadLength, Capped, OverCap
from ._seam import Answer, EngineError, Options, Prepared, refused

logger = logging.getLogger("assessment_asgi.platform")


class _Borrowed(httpx2.AsyncBaseTransport):
    """A caller's transport: used, never closed by us."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


class Httpx2Engine:
    name = "httpx2"

    def __init__(self, client: httpx2.AsyncClient, *, owned: bool) -> None:
        self._client = client
        self._owned = owned

    @classmethod
    def owned(cls, options: Options) -> Httpx2Engine:
        """Our own pool (over the caller's ``transport`` when there is one)."""
        transport = None if options.transport is None else _Borrowed(options.transport)
        # Cookies are refused: per-call credentials must never share a platform session.
        jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        client = httpx2.AsyncClient(
            transport=transport,
            limits=options.limits,
            follow_redirects=False,
            cookies=jar,
            headers=options.headers,
        )
        return cls(client, owned=True)

    async def send(self, request: Prepared) -> Answer:
        client = self._client
        timeout = httpx2.Timeout(
            connect=request.connect, read=request.read, write=request.read, pool=request.connect
        )
        built = client.build_request(
            request.method, request.url, content=request.body or None, headers=request.headers,
            timeout=timeout,
        )
        try:
            response = await client.send(built, stream=True, follow_redirects=False)
        except (httpx2.ConnectTimeout, httpx2.PoolTimeout):
            raise EngineError("connect_timeout") from None
        except httpx2.ConnectError:
            raise EngineError("connect") from None
        except httpx2.TimeoutException:
            raise EngineError("read_timeout") from None
        except (httpx2.TransportError, OSError):
            raise EngineError("dropped") from None
        try:
            body = await _read_capped(response, request.max_bytes)
        finally:
            try:
                await response.aclose()
            except (httpx2.HTTPError, OSError):
                logger.debug("closing a response failed", exc_info=True)
        return Answer(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()


async def _read_capped(response: httpx2.Response, max_bytes: int) -> bytes:
    status, headers = response.status_code, response.headers
    try:
        body = Capped(max_bytes, headers.get("content-length"))
    except (BadLength, OverCap) as exc:
        raise refused(exc, status=status, headers=headers) from None
    overflow = False
    try:
        async for chunk in response.aiter_bytes():
            if overflow:
                continue
            try:
                body.add(chunk)
            except OverCap:
                # Hang up, then let the iteration end on the closed connection: breaking
                # out would leave httpx2's nested async generators unfinished, which trio
                # reports as a ResourceWarning.
                overflow = True
                await response.aclose()
    except Exception as exc:
        if overflow:
            raise EngineError("too_large", status=status, headers=headers) from None
        if isinstance(exc, httpx2.TimeoutException):
            raise EngineError("stalled", status=status, headers=headers) from None
        if isinstance(exc, httpx2.TransportError | httpx2.DecodingError | OSError):
            raise EngineError("cut_off", status=status, headers=headers) from None
        raise
    if overflow:
        raise EngineError("too_large", status=status, headers=headers)
    return body.value()
