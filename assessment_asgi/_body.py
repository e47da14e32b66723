"""The guard: the checks every request passes before any hook runs.

Method 405 · content type 415 · body size 413 (before and while reading) · slow body 408 ·
JSON 400. Nothing here needs to know who is calling, so it runs first and cheaply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator
from typing import Any

from ._capped import BadLength, Capped, OverCap
from ._compat import current_loop, fail_after
from ._exceptions import HTTPException
from ._types import Receive, Scope

ALLOWED_METHODS = "POST, OPTIONS"


class ClientDisconnected(Exception):
    """The client went away before its body arrived: nothing to answer."""


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def check_content_type(scope: Scope) -> None:
    found = [value for key, value in scope["headers"] if key == b"content-type"]
    if not found:
        raise HTTPException("unsupported_media_type")
    if len(found) > 1:
        # Parsers disagree on which one counts (the first, the last, both joined).
        raise HTTPException("duplicate_content_type")
    raw = bytes(found[0])
    media_type, _, params = raw.decode("latin-1").partition(";")
    if media_type.strip().lower() != "application/json":
        raise HTTPException("unsupported_media_type")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in {
            "utf-8",
            "utf8",
        }:
            raise HTTPException("unsupported_media_type", "Only UTF-8 JSON is accepted")


async def read_body(scope: Scope, receive: Receive, *, max_bytes: int, timeout: float) -> bytes:
    """Read the whole body, refusing it as soon as it is known to be too large or too slow.

    On asyncio the usual body, arrived with the headers, is taken without arming a timer: the
    first `receive()` that has to wait arms the deadline, which then covers the rest. (Not on
    trio: a wait begun outside a cancel scope cannot end inside it.)
    """
    try:
        body = Capped(max_bytes, header(scope, b"content-length"))
        waiting: Any = None
        if current_loop()[0] == "asyncio":
            waiting = receive().__await__()
            try:
                first = waiting.send(None)
            except StopIteration as ready:  # there already
                if not _add(body, ready.value):
                    return body.value()
                waiting = None
        async with fail_after(timeout):
            message = await (receive() if waiting is None else _Resumed(waiting, first))
            while _add(body, message):
                message = await receive()
    except BadLength:
        raise HTTPException("invalid_body", "Invalid Content-Length") from None
    except OverCap:
        raise HTTPException(
            "payload_too_large", f"The request body exceeds {max_bytes} bytes"
        ) from None
    except TimeoutError:
        raise HTTPException("request_timeout", headers={"Connection": "close"}) from None
    return body.value()


def _add(body: Capped, message: Any) -> bool:
    """Adds one ASGI message's chunk; whether more are coming."""
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    chunk = message.get("body", b"")
    if chunk:
        body.add(chunk)
    return bool(message.get("more_body", False))


class _Resumed:
    """Awaits the rest of an awaitable already started (and suspended once) by `read_body`:
    what it waits for goes to the event loop, what comes back (values, cancellation) to it."""

    __slots__ = ("_first", "_waiting")

    def __init__(self, waiting: Any, first: Any) -> None:
        self._waiting, self._first = waiting, first

    def __await__(self) -> Generator[Any, Any, Any]:
        waiting, step = self._waiting, self._first
        while True:
            try:
                sent = yield step
            except BaseException as exc:  # cancellation and the like go to the receive call
                try:
                    step = waiting.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    step = waiting.send(sent)
                except StopIteration as done:
                    return done.value


def parse_json(body: bytes) -> Any:
    if not body:
        raise HTTPException("invalid_json", "The request body is empty")
    try:
        # One parse. Strict UTF-8 (no BOM, no UTF-16 guessing); NaN, Infinity and numbers
        # that overflow to infinity refused; duplicate keys refused: parsers disagree on
        # which one wins, which is how checks get smuggled past ("recruiterId" checked
        # once, forwarded twice).
        data = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_not_json,
            parse_float=_finite,
        )
    except _DuplicateKey:
        raise HTTPException("invalid_json", "Duplicate keys in a JSON object") from None
    except (ValueError, RecursionError):
        raise HTTPException("invalid_json") from None
    if b"\\u" in body and _has_lone_surrogate(data):
        raise HTTPException("invalid_json")
    return data


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError("number out of range")
    return value


def _has_lone_surrogate(data: Any) -> bool:
    """A `\\udXXX` escape without its pair decodes to a string that cannot be encoded."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result
