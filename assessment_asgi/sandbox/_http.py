"""Small HTTP helpers shared by the sandbox's routes: envelopes, bodies, base URL, CORS."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._numbers import ascii_int
from ._validation import BodyError

Handler = Callable[[Request], Awaitable[Response]]

NO_STORE = {"Cache-Control": "no-store"}
_CORS = {"Access-Control-Allow-Origin": "*"}
_CORS_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "content-type",
    "Access-Control-Max-Age": "600",
}


class TooLarge(Exception):
    """The request body is over the sandbox's ``max_body_bytes``."""


def base_url(request: Request) -> str:
    """The sandbox's own absolute URL, wherever it is mounted.

    ``request.base_url`` is the *host's* root; the sandbox may be mounted below it, and a
    mount appends its prefix to ``root_path``.
    """
    root_path = request.scope.get("root_path", "")
    url = URL(scope={**request.scope, "path": root_path or "/", "query_string": b""})
    return str(url).rstrip("/")


async def read_body(request: Request, limit: int) -> bytes:
    declared = ascii_int(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise BodyError(["Invalid JSON body"]) from exc


def ok(data: Any, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{success: true, data}``: sessions, campaigns, assessments and the portal."""
    return JSONResponse({"success": True, "data": data}, headers=headers)


def fail(
    status: int,
    message: str,
    *,
    details: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    # Both "error" and "message": every SDK reads one or the other.
    body: dict[str, Any] = {"success": False, "error": message, "message": message}
    if details and len(details) > 1:
        body["errors"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def queue_ok(data: Any) -> JSONResponse:
    # SDK 2.0.4 reads {status, code, data}; SDK 1.0.2 and Node read {success, data}.
    return JSONResponse({"success": True, "status": "success", "code": 200, "data": data})


def queue_fail(status: int, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "success": False,
        "status": "error",
        "code": status,
        "message": message,
        "error": message,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def cors(handler: Handler) -> Handler:
    """Let a host page on another origin call a portal endpoint.

    The portal endpoints carry no ambient credentials (the token or the assessment id in the
    body is the capability), so any origin may call them; the platform API is not opened.
    """

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=_CORS_PREFLIGHT)
        response = await handler(request)
        response.headers.update(_CORS)
        return response

    return endpoint
