"""The one error envelope and the table of stable error codes.

Every answer the app gives is ``{"success": true, "data": …}`` or
``{"success": false, "error": "<readable message>", "code": "<stable_code>"}`` (plus
``details`` for field errors). ``error`` is a plain string, as in the platform's own
envelope, so a frontend written for the platform docs can show it as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._exceptions import HTTPException
from ._types import Send

# code → (status, default message). Codes are part of the public contract: never renamed.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "The request body is not valid JSON"),
    "invalid_body": (400, "The request body is invalid"),
    "users_required": (400, "users must be a non-empty list of {name, email}"),
    "too_many_users": (400, "Too many users in one session"),
    "recruiter_required": (400, "Provide recruiterId or recruiterEmail"),
    "invalid_idempotency_key": (400, "Idempotency-Key must be 1-255 printable ASCII characters"),
    "unauthorized": (401, "Authentication required"),
    "forbidden": (403, "Not allowed"),
    "recruiter_mismatch": (403, "The recruiter in the body does not match the signed-in recruiter"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "request_timeout": (408, "The request body was not received in time"),
    "idempotency_key_in_flight": (409, "A request with this Idempotency-Key is still in progress"),
    "payload_too_large": (413, "The request body is too large"),
    "unsupported_media_type": (415, "Content-Type must be application/json"),
    "idempotency_key_reused": (422, "This Idempotency-Key was already used with another request body"),
    "rate_limited": (429, "Too many requests"),
    "platform_rate_limited": (429, "The assessment platform is rate limiting this server"),
    "internal_error": (500, "Internal server error"),
    "not_configured": (500, "The assessment endpoint is not configured on the server"),
    "platform_error": (502, "The assessment platform failed to answer properly"),
    "platform_auth_failed": (502, "The assessment platform refused this server's credentials"),
    "platform_rejected": (502, "The assessment platform refused the request"),
    "service_unavailable": (503, "Service temporarily unavailable"),
    "platform_timeout": (504, "The assessment platform did not answer in time"),
}

JSON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)


# The package's own name for the public HTTPException, kept for the modules that raise it.
HTTPProblem = HTTPException


# Built once: ``json.dumps`` with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(payload: Any) -> bytes:
    return _ENCODER.encode(payload).encode()


async def send_json(
    send: Send,
    status: int,
    payload: Any,
    headers: Mapping[str, str] | None = None,
) -> None:
    body = dumps(payload)
    raw_headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if headers:
        raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def send_problem(send: Send, problem: HTTPException) -> None:
    await send_json(send, problem.status_code, problem.body(), problem.headers)
