"""What one attempt means: an engine's answer or failure, as data or a classified `Failure`.

Everything here is per attempt and the same for every engine; the retry loop and deadline
live in `_retry.py`, the engines behind the seam in `_engines/`. A failed attempt raises
`Failure`, which carries the public error and whether repeating the request is safe.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._redact import redact as redact_known
from ._config import parse_retry_after
from ._credentials import Credentials
from ._engines import Engine, EngineError, Headers, Prepared
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


def _request_id(headers: Headers | None) -> str | None:
    if headers is None:
        return None
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return _SAFE_ID.sub("", value)[:128] or None
    return None


async def exchange(
    engine: Engine, op: Op, request: Prepared, *, path: str, attempt: int, redact: Redact
) -> tuple[Any, int, str | None]:
    """One request through the engine and its meaning: `(data, status, request id)`, or
    a `Failure` saying whether trying again is safe."""
    started = time.monotonic()
    try:
        answer = await engine.send(request)
    except EngineError as exc:
        _log_failure(op, path, attempt, started, exc.kind)
        raise _engine_failure(exc, op, request.max_bytes) from None
    status = answer.status
    request_id = _request_id(answer.headers)
    if logger.isEnabledFor(logging.DEBUG):
        latency_ms = (time.monotonic() - started) * 1000
        logger.debug(
            "smartai %s %s -> %d in %.0f ms (attempt %d, request id %s)",
            op.name, path, status, latency_ms, attempt, request_id,
            extra={"operation": op.name, "path": path, "attempt": attempt, "status": status,
                   "request_id": request_id, "latency_ms": round(latency_ms, 1)},
        )
    if 200 <= status < 300:
        return _unwrap(answer.body, op, status, request_id, redact), status, request_id
    if 300 <= status < 400:
        raise Failure(
            SmartAIResponseError(
                f"{op.name}: the platform answered a redirect ({status}), not followed",
                operation=op.name, status_code=status, request_id=request_id,
            ),
            sent=True,
            transient=False,
        )
    raise _status_failure(op, status, answer.headers, answer.body, request_id, redact)


_MESSAGES: dict[str, tuple[type[SmartAIError], str]] = {
    "connect": (SmartAIConnectionError, "could not connect"),
    "connect_timeout": (SmartAITimeoutError, "could not connect in time"),
    "read_timeout": (SmartAITimeoutError, "the platform did not answer in time"),
    "dropped": (SmartAIConnectionError, "the connection dropped before an answer"),
    "stalled": (SmartAITimeoutError, "the answer stalled"),
    "cut_off": (SmartAIResponseError, "the answer was cut off"),
    "too_large": (SmartAIResponseError, "the answer is larger than {cap} bytes"),
    "malformed": (SmartAIResponseError, "the answer's Content-Length is not a number"),
}
#: Failures the same request would only meet again.
_FINAL = frozenset({"too_large", "malformed"})


def _engine_failure(exc: EngineError, op: Op, cap: int) -> Failure:
    """The public error for an engine's failure; an answer too large or malformed is not
    worth repeating."""
    error_type, text = _MESSAGES[exc.kind]
    error = error_type(
        f"{op.name}: {text.format(cap=cap)}",
        operation=op.name,
        status_code=exc.status,
        request_id=_request_id(exc.headers),
    )
    return Failure(error, sent=exc.sent, transient=exc.kind not in _FINAL)


def _log_failure(op: Op, path: str, attempt: int, started: float, reason: str) -> None:
    latency_ms = (time.monotonic() - started) * 1000
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
    headers: Headers,
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


#: Values we sent this short ("Al", "3") are left alone: they would redact ordinary words.
_SHORTEST_SENT = 3


def sensitive(creds: Credentials, body: Any) -> tuple[str, ...]:
    """Strings never to repeat: the keys and every value we sent (names, emails, ids)."""
    found = {creds.api_key.get_secret_value(), creds.secret_key.get_secret_value()}
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) >= _SHORTEST_SENT:
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
            text = redact_known(value.strip(), redact(), shortest=_SHORTEST_SENT)
            text = _JWT.sub("[token]", text)
            return _EMAIL.sub("[email]", text)[:300]
    return None
