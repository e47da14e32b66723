"""The httpx2 engine: for trio, and for a caller's own `http_client` or `transport`.

httpx2 and httpx share one API, so this engine serves both: `lib` names the library, and
`_httpx.py` is the same engine with `lib = httpx`.
"""

from __future__ import annotations

import functools
import http.cookiejar
import logging
from types import ModuleType
from typing import Any, Self

import httpx2

from ..._capped import BadLength, Capped, OverCap
from ._seam import Answer, EngineError, Options, Prepared, refused

logger = logging.getLogger("assessment_asgi.platform")


@functools.cache
def _borrowing(base: type) -> type:
    """A transport of `base`'s library that uses a caller's transport and never closes it."""

    class Borrowed(base):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        async def handle_async_request(self, request: Any) -> Any:
            return await self._inner.handle_async_request(request)

        async def aclose(self) -> None:
            return None

    return Borrowed


class Httpx2Engine:
    name = "httpx2"
    #: The library: `httpx2` here, `httpx` in `HttpxEngine`; their APIs are the same.
    lib: ModuleType = httpx2

    def __init__(self, client: Any, *, owned: bool) -> None:
        self._client = client
        self._owned = owned

    @classmethod
    def owned(cls, options: Options) -> Self:
        """Our own pool (over the caller's `transport` when there is one)."""
        lib = cls.lib
        transport = None if options.transport is None else _borrowing(lib.AsyncBaseTransport)(
            options.transport
        )
        limits = options.limits
        # Cookies are refused: per-call credentials must never share a platform session.
        jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        client = lib.AsyncClient(
            transport=transport,
            limits=lib.Limits(
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
            ),
            follow_redirects=False,
            cookies=jar,
            headers=options.headers,
        )
        return cls(client, owned=True)

    async def send(self, request: Prepared) -> Answer:
        client, lib = self._client, self.lib
        timeout = lib.Timeout(
            connect=request.connect, read=request.read, write=request.read, pool=request.connect
        )
        built = client.build_request(
            request.method, request.url, content=request.body or None, headers=request.headers,
            timeout=timeout,
        )
        try:
            response = await client.send(built, stream=True, follow_redirects=False)
        except (lib.ConnectTimeout, lib.PoolTimeout):
            raise EngineError("connect_timeout") from None
        except lib.ConnectError:
            raise EngineError("connect") from None
        except lib.TimeoutException:
            raise EngineError("read_timeout") from None
        except (lib.TransportError, OSError):
            raise EngineError("dropped") from None
        try:
            body = await _read_capped(lib, response, request.max_bytes)
        finally:
            try:
                await response.aclose()
            except (lib.HTTPError, OSError):
                logger.debug("closing a response failed", exc_info=True)
        return Answer(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()


async def _read_capped(lib: ModuleType, response: Any, max_bytes: int) -> bytes:
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
                # out would leave the library's nested async generators unfinished, which
                # trio reports as a ResourceWarning.
                overflow = True
                await response.aclose()
    except Exception as exc:
        if overflow:
            raise EngineError("too_large", status=status, headers=headers) from None
        if isinstance(exc, lib.TimeoutException):
            raise EngineError("stalled", status=status, headers=headers) from None
        if isinstance(exc, lib.TransportError | lib.DecodingError | OSError):
            raise EngineError("cut_off", status=status, headers=headers) from None
        raise
    if overflow:
        raise EngineError("too_large", status=status, headers=headers)
    return body.value()
