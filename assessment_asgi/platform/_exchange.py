"""One HTTP exchange with the platform: send, read under a size cap, classify the answer.

Everything here is per attempt; the retry loop, deadline and operations live in
``_client.py``. A failed attempt raises :class:`Failure`, which carries the public error and
whether repeating the request is safe.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx2

from ._config import Timeout, parse_retry_after
from ._credentials import Credentials
from ._errors import (
    SmartAIAuthError,
    SmartAIConnectionError,
    SmartAIError,
    SmartAIRateLimitError,
    SmartAIResponseError,
    SmartAIServerError,
    SmartAIStatusError,
    SmartAITimeoutError,
    SmartAIValidationError,
)

if TYPE_CHECKING:  # aiohttp is an optional extra
    from ._aiohttp_transport import AiohttpTransport

logger = logging.getLogger("assessment_asgi.platform")

_REQUEST_ID_HEADERS = (
    "x-request-id",
    "x-correlation-id",
    "request-id",
    "x-amzn-requestid",
    "x-cloud-trace-context",
)
_SAFE_ID = re.compile(r"[^A-Za-z0-9._:/;=+-]")
_EMAIL = re.compile(r"[^\s@\"'<>]+@[^\s@\"'<>]+")
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+(\.[\w-]*)?")
_RETRY_STATUSES = frozenset({429, 502, 503, 504})

Auth = Literal["secret", "signed", "key"]
#: The strings never to repeat from a platform message, computed only when there is one.
Redact = Callable[[], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Op:
    """One operation of the wire contract and how it may be retried."""

    name: str
    method: str
    path: str
    auth: Auth
    #: Safe to repeat after it may have reached the platform (reads and the idempotent ack).
    repeatable: bool
    queue: bool = False


class Failure(Exception):
    """One failed attempt: the public error, and whether trying again is safe."""

    def __init__(
        self,
        error: SmartAIError,
        *,
        sent: bool,
        retry_after: float | None = None,
        transient: bool = True,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent = sent  # the request may have reached the platform
        self.retry_after = retry_after
        self.transient = transient  # worth repeating, if repeating is safe


def _request_id(headers: httpx2.Headers) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return _SAFE_ID.sub("", value)[:128] or None
    return None


async def exchange(
    http_client: httpx2.AsyncClient,
    op: Op,
    *,
    url: str,
    path: str,
    headers: dict[str, str],
    content: bytes,
    limits: Timeout,
    attempt: int,
    redact: Redact,
    max_bytes: int,
    fast: AiohttpTransport | None = None,
) -> tuple[Any, int, str | None]:
    """One request and its answer: ``(data, status, request id)``, or a :class:`Failure`.

    ``fast`` is the client's own aiohttp transport, when it has one: the request then goes
    straight to its pool, skipping httpx2's Request/Response machinery (which costs more
    than the aiohttp call itself). Both paths classify failures the same way.
    """
    timeouts = {"connect": limits.connect, "read": limits.read, "write": limits.read,
                "pool": limits.connect}
    started = anyio.current_time()
    try:
        if fast is not None:
            status, response_headers, raw = await _fetch(
                fast, op, url, http_client.headers, headers, content, timeouts, max_bytes
            )
        else:
            status, response_headers, raw = await _send(
                http_client, op, url, headers, content, timeouts, max_bytes
            )
    except (httpx2.TransportError, OSError) as exc:
        _log_failure(op, path, attempt, started, type(exc).__name__)
        raise _send_failure(exc, op) from exc
    request_id = _request_id(response_headers)
    latency_ms = (anyio.current_time() - started) * 1000
    logger.debug(
        "smartai %s %s -> %d in %.0f ms (attempt %d, request id %s)",
        op.name,
        path,
        status,
        latency_ms,
        attempt,
        request_id,
        extra={"operation": op.name, "path": path, "attempt": attempt, "status": status,
               "request_id": request_id, "latency_ms": round(latency_ms, 1)},
    )
    if 200 <= status < 300:
        return _unwrap(raw, op, status, request_id, redact), status, request_id
    raise _status_failure(op, status, response_headers, raw, request_id, redact)


def _send_failure(exc: BaseException, op: Op) -> Failure:
    """A failure before any answer arrived; ``sent`` says whether the request may have."""
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return Failure(
            SmartAITimeoutError(f"{op.name}: could not connect in time", operation=op.name),
            sent=False,
        )
    if isinstance(exc, httpx2.ConnectError):
        return Failure(
            SmartAIConnectionError(f"{op.name}: could not connect", operation=op.name), sent=False
        )
    if isinstance(exc, httpx2.TimeoutException):
        return Failure(
            SmartAITimeoutError(f"{op.name}: the platform did not answer in time", operation=op.name),
            sent=True,
        )
    return Failure(
        SmartAIConnectionError(f"{op.name}: the connection dropped before an answer", operation=op.name),
        sent=True,
    )


async def _send(
    http_client: httpx2.AsyncClient,
    op: Op,
    url: str,
    headers: dict[str, str],
    content: bytes,
    timeouts: dict[str, float],
    max_bytes: int,
) -> tuple[int, httpx2.Headers, bytes]:
    request = http_client.build_request(
        op.method, url, content=content or None, headers=headers, timeout=httpx2.Timeout(**timeouts)
    )
    response = await http_client.send(request, stream=True, follow_redirects=False)
    status = response.status_code
    try:
        _refuse_redirect(op, status, response.headers)
        raw = await _read_capped(response, op, _request_id(response.headers), max_bytes)
    finally:
        try:
            await response.aclose()
        except (httpx2.HTTPError, OSError):
            logger.debug("closing a response failed", exc_info=True)
    return status, response.headers, raw


async def _fetch(
    fast: AiohttpTransport,
    op: Op,
    url: str,
    client_headers: httpx2.Headers,
    headers: dict[str, str],
    content: bytes,
    timeouts: dict[str, float],
    max_bytes: int,
) -> tuple[int, httpx2.Headers, bytes]:
    from ._aiohttp_transport import BodyReadError  # only reached when aiohttp is installed

    merged = {**dict(client_headers.items()), **headers}  # both lower-case: ours win
    try:
        status, raw_headers, raw = await fast.fetch(
            op.method, url, headers=list(merged.items()), content=content or None,
            timeout=timeouts, max_bytes=max_bytes,
        )
    except BodyReadError as exc:
        raise _body_failure(exc.error, exc.status, op, None) from exc
    response_headers = httpx2.Headers(raw_headers)
    _refuse_redirect(op, status, response_headers)
    declared = response_headers.get("content-length", "")
    if len(raw) > max_bytes or (declared.isdigit() and int(declared) > max_bytes):
        raise Failure(_too_large(op, status, _request_id(response_headers), max_bytes),
                      sent=True, transient=False)
    return status, response_headers, raw


def _refuse_redirect(op: Op, status: int, headers: httpx2.Headers) -> None:
    if 300 <= status < 400:
        raise Failure(
            SmartAIResponseError(
                f"{op.name}: the platform answered a redirect ({status}), not followed",
                operation=op.name,
                status_code=status,
                request_id=_request_id(headers),
            ),
            sent=True,
            transient=False,
        )


def _too_large(op: Op, status: int, request_id: str | None, cap: int) -> SmartAIResponseError:
    return SmartAIResponseError(
        f"{op.name}: the answer is larger than {cap} bytes",
        operation=op.name,
        status_code=status,
        request_id=request_id,
    )


def _log_failure(op: Op, path: str, attempt: int, started: float, reason: str) -> None:
    latency_ms = (anyio.current_time() - started) * 1000
    logger.debug(
        "smartai %s %s failed after %.0f ms: %s (attempt %d)",
        op.name,
        path,
        latency_ms,
        reason,
        attempt,
        extra={
            "operation": op.name,
            "path": path,
            "attempt": attempt,
            "latency_ms": round(latency_ms, 1),
        },
    )


async def _read_capped(response: httpx2.Response, op: Op, request_id: str | None, max_bytes: int) -> bytes:
    cap = max_bytes
    too_large = _too_large(op, response.status_code, request_id, cap)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise Failure(too_large, sent=True, transient=False)
    buffer = bytearray()
    overflow = False
    try:
        async for chunk in response.aiter_bytes():
            if overflow:
                continue
            buffer += chunk
            if len(buffer) > cap:
                # Hang up, then let the iteration end on the closed connection:
                # breaking out would leave httpx2's nested async generators
                # unfinished, which trio reports as a ResourceWarning.
                overflow = True
                await response.aclose()
    except Exception as exc:
        if overflow:
            raise Failure(too_large, sent=True, transient=False) from None
        raise _body_failure(exc, response.status_code, op, request_id) from exc
    if overflow:
        raise Failure(too_large, sent=True, transient=False)
    return bytes(buffer)


def _body_failure(exc: Exception, status: int, op: Op, request_id: str | None) -> BaseException:
    if isinstance(exc, httpx2.TimeoutException):
        return Failure(
            SmartAITimeoutError(
                f"{op.name}: the answer stalled",
                operation=op.name,
                status_code=status,
                request_id=request_id,
            ),
            sent=True,
        )
    if isinstance(exc, httpx2.TransportError | httpx2.DecodingError | OSError):
        return Failure(
            SmartAIResponseError(
                f"{op.name}: the answer was cut off",
                operation=op.name,
                status_code=status,
                request_id=request_id,
            ),
            sent=True,
        )
    return exc


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _unwrap(raw: bytes, op: Op, status: int, request_id: str | None, redact: Redact) -> Any:
    payload = _json(raw)
    context: dict[str, Any] = {
        "operation": op.name,
        "status_code": status,
        "request_id": request_id,
    }
    if payload is _NOT_JSON:
        raise SmartAIResponseError(f"{op.name}: the answer is not JSON", **context)
    if not isinstance(payload, Mapping):
        raise SmartAIResponseError(f"{op.name}: the answer is not a JSON object", **context)
    if payload.get("success") is False or payload.get("status") in {"error", "fail", False}:
        raise SmartAIResponseError(
            f"{op.name}: the platform reported a failure",
            platform_message=_platform_message(payload, redact),
            **context,
        )
    if "data" not in payload:
        raise SmartAIResponseError(f"{op.name}: the answer has no data", **context)
    return payload["data"]


def _status_failure(
    op: Op,
    status: int,
    headers: httpx2.Headers,
    raw: bytes,
    request_id: str | None,
    redact: Redact,
) -> Failure:
    payload = _json(raw)
    message = _platform_message(payload, redact) if isinstance(payload, Mapping) else None
    context: dict[str, Any] = {
        "operation": op.name,
        "status_code": status,
        "platform_message": message,
        "request_id": request_id,
    }
    suffix = f" (request id {request_id})" if request_id else ""
    retry_after = parse_retry_after(headers.get("retry-after"))
    error: SmartAIError
    if status in {401, 403}:
        error = SmartAIAuthError(
            f"{op.name}: the platform refused our credentials ({status}){suffix}", **context
        )
    elif status == 429:
        error = SmartAIRateLimitError(
            f"{op.name}: rate limited by the platform (429){suffix}",
            retry_after=retry_after,
            **context,
        )
    elif status >= 500:
        error = SmartAIServerError(f"{op.name}: the platform failed ({status}){suffix}", **context)
    elif status in {400, 404, 409, 422}:
        error = SmartAIValidationError(
            f"{op.name}: the platform refused the request ({status}){suffix}", **context
        )
    else:
        error = SmartAIStatusError(f"{op.name}: unexpected status {status}{suffix}", **context)
    return Failure(error, sent=True, retry_after=retry_after, transient=status in _RETRY_STATUSES)


_NOT_JSON = object()


def sensitive(creds: Credentials, body: Any) -> tuple[str, ...]:
    """Strings never to repeat: the keys and every value we sent (names, emails, ids)."""
    found = {creds.api_key.get_secret_value(), creds.secret_key.get_secret_value()}
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) >= 3:
                found.add(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return tuple(sorted(found, key=len, reverse=True))


def _platform_message(payload: Mapping[str, Any], redact: Redact) -> str | None:
    """The platform's own error text, without our secrets, what we sent, tokens or emails."""
    for key in ("error", "message"):
        value = payload.get(key)
        if isinstance(value, Mapping):
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            text = value.strip()
            for secret in redact():
                text = text.replace(secret, "[redacted]")
            text = _JWT.sub("[token]", text)
            return _EMAIL.sub("[email]", text)[:300]
    return None
