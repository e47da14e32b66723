"""The aiohttp engine: one pooled `aiohttp.ClientSession` per event loop (asyncio only).

Public API only. Cancelling a call closes its connection (aiohttp closes a connection whose
request or body read is interrupted), so a cancelled call never lingers on the server.
"""

from __future__ import annotations

import functools

import aiohttp
from yarl import URL

from ..._capped import BadLength, Capped, OverCap
from ._seam import Answer, EngineError, Options, Prepared, refused

# Our headers say what they mean; aiohttp must not add its own defaults next to them.
_SKIP_AUTO_HEADERS = frozenset({"Accept", "Content-Type", "User-Agent"})


@functools.lru_cache(maxsize=256)
def _url(url: str) -> URL:
    return URL(url, encoded=True)  # already encoded: yarl must not quote it again


@functools.lru_cache(maxsize=64)
def _timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    # ``connect`` covers the wait for a pool slot and opening the connection (nothing sent);
    # ``sock_read`` the silence allowed while waiting for or reading the answer.
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)


class AiohttpEngine:
    name = "aiohttp"

    def __init__(self, options: Options) -> None:
        limits = options.limits
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry or 4.0,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=options.headers,
            cookie_jar=aiohttp.DummyCookieJar(),  # per-call credentials never share a session
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            trust_env=False,  # no proxy from the environment: the platform URL is the target
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def send(self, request: Prepared) -> Answer:
        try:
            response = await self._session.request(
                request.method,
                _url(request.url),
                headers=request.headers,
                data=request.body or None,
                allow_redirects=False,
                timeout=_timeout(request.connect, request.read),
            )
        except aiohttp.ConnectionTimeoutError:
            raise EngineError("connect_timeout") from None
        except aiohttp.ClientConnectorError:  # DNS, refused, TLS handshake: nothing sent
            raise EngineError("connect") from None
        except TimeoutError:  # sock_read while waiting for the status line
            raise EngineError("read_timeout") from None
        except (aiohttp.ClientError, OSError):
            raise EngineError("dropped") from None
        status, headers = response.status, response.headers
        try:
            body = Capped(request.max_bytes, headers.get("content-length"))
            if body.declared is not None and "content-encoding" not in headers:
                # The common case: one read of a known length (a decoded body may grow).
                data = await response.read()
            else:
                async for chunk in response.content.iter_any():
                    body.add(chunk)
                data = body.value()
        except (BadLength, OverCap) as exc:
            response.close()
            raise refused(exc, status=status, headers=headers) from None
        except TimeoutError:
            response.close()
            raise EngineError("stalled", status=status, headers=headers) from None
        except (aiohttp.ClientError, OSError):
            response.close()
            raise EngineError("cut_off", status=status, headers=headers) from None
        except BaseException:  # cancelled: hang up rather than leave the answer half read
            response.close()
            raise
        response.release()
        return Answer(status, headers, data)

    async def aclose(self) -> None:
        await self._session.close()
