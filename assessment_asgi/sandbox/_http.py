"""Small HTTP helpers shared by the sandbox's routes: envelopes, bodies, base URL, CORS."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._capped import BadLength, OverCap, read_capped
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
    """The request body is over the sandbox's `max_body_bytes`."""


def server_url(request: Request) -> str:
    """The sandbox's own absolute URL, wherever it is mounted: the address the connection
    really reached (`scope["server"]`) plus the mount (`root_path`).

    Never the `Host` header: any client sets that, and these URLs end up in queued events
    and pages other people open. Behind a proxy, configure `SandboxApp(public_url=...)`.
    """
    scheme = request.scope.get("scheme", "http")
    server = request.scope.get("server")
    if server and server[0]:
        host, port = str(server[0]), server[1]
        if ":" in host:
            host = f"[{host}]"
        default = {"http": 80, "https": 443}.get(scheme)
        netloc = host if port in (None, default) else f"{host}:{port}"
    else:  # a unix socket: nothing trustworthy to name
        netloc = "localhost"
    root_path = request.scope.get("root_path", "")
    return f"{scheme}://{netloc}{root_path}".rstrip("/")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes (`TooLarge`); a non-number length is a `BodyError`."""
    try:
        return await read_capped(request.stream(), limit, request.headers.get("content-length"))
    except OverCap:
        raise TooLarge from None
    except BadLength:
        raise BodyError(["Invalid Content-Length"]) from None


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise BodyError(["Invalid JSON body"]) from exc


def ok(data: Any, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """`{success: true, data}`: sessions, campaigns, assessments and the portal."""
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
