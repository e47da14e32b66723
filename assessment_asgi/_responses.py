"""The one error envelope (the table of stable error codes lives in `_exceptions.py`).

Every answer the app gives is `{"success": true, "data": …}` or
`{"success": false, "error": "<readable message>", "code": "<stable_code>"}` (plus
`details` for field errors). `error` is a plain string, as in the platform's own
envelope, so a frontend written for the platform docs can show it as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._exceptions import HTTPException
from ._types import Send

JSON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)


# The package's own name for the public HTTPException, kept for the modules that raise it.


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
