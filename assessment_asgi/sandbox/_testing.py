"""The sandbox as a test fake: a record of the requests it received, and scripted answers.

Both sit in front of the sandbox's own routes as one pure ASGI layer, so a test talks to the
same wire contract the official SDKs are tested against, and only steps out of it on purpose.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(slots=True)
class RecordedRequest:
    """One request the sandbox received, as it arrived.

    `path` is the full request path; `headers` have lower-case names; `body` holds at most
    the sandbox's `max_body_bytes` (`truncated` says when there was more). `status` is
    the status it was answered with, or None when no answer was sent (a dropped connection).

    ```python
    (call,) = sandbox.recorder.to("/sessions")
    assert call.json()["recruiterId"] == "rec_42"
    ```
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    truncated: bool = False
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class RequestRecorder:
    """The newest `limit` requests a sandbox received, oldest first (`SandboxApp(record_requests=N)`).

    ```python
    sandbox = SandboxApp(record_requests=100)
    ...
    assert [r.path for r in sandbox.recorder.requests] == ["/api/v1/sessions"]
    ```
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._requests: deque[RecordedRequest] = deque(maxlen=max(limit, 1))

    def __repr__(self) -> str:
        return f"RequestRecorder(limit={self.limit}, recorded={len(self._requests)})"

    def _check_on(self) -> None:
        if not self.limit:
            # An empty list from a recorder that never records would make assertions vacuous.
            raise RuntimeError(
                "request recording is off: construct SandboxApp(record_requests=N) to keep "
                "the newest N requests"
            )

    @property
    def requests(self) -> list[RecordedRequest]:
        self._check_on()
        with self._lock:
            return list(self._requests)

    def to(self, path_suffix: str, method: str | None = None) -> list[RecordedRequest]:
        """Requests whose path ends with `path_suffix` (and of `method`, when given)."""
        return [
            r
            for r in self.requests
            if r.path.endswith(path_suffix) and (method is None or r.method == method.upper())
        ]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def _add(self, request: RecordedRequest) -> None:
        if self.limit:
            with self._lock:
                self._requests.append(request)


@dataclass(slots=True)
class ScriptedAnswer:
    """What `sandbox.script(...)` returns: the rule, and how many uses it has left."""

    method: str
    path: str
    status: int | None
    body: bytes | Callable[[RecordedRequest], object]
    headers: dict[str, str]
    delay: float
    drop: bool
    remaining: int | None  # None: every matching request
    check_keys: bool
    content_type: str | None = field(default=None, repr=False)

    def matches(self, method: str, path: str) -> bool:
        return (
            (self.remaining is None or self.remaining > 0)
            and self.method in ("*", method)
            and path.endswith(self.path)
        )


class DroppedConnection(Exception):
    """Raised mid-response on purpose: the server closes the connection with the body unsent."""


def _encode(body: object) -> tuple[bytes, str | None]:
    if body is None:
        return b"", None
    if isinstance(body, bytes):
        return body, None
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


def make_answer(
    method: str,
    path: str,
    *,
    status: int | None,
    body: object,
    headers: Mapping[str, str] | None,
    delay: float,
    drop: bool,
    times: int | None,
    check_keys: bool,
) -> ScriptedAnswer:
    if not isinstance(method, str) or not method:
        raise TypeError("method must be an HTTP method such as 'POST', or '*'")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    if status is not None and (isinstance(status, bool) or not 100 <= status <= 599):
        raise ValueError(f"status must be an HTTP status 100-599 or None, got {status!r}")
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 3600:
        raise ValueError(f"delay must be 0-3600 seconds, got {delay!r}")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"times must be a positive int, or None for every request, got {times!r}")
    if status is None and not drop and body is not None:
        raise ValueError("body needs a status: without one the sandbox answers as usual")
    raw: bytes | Callable[[RecordedRequest], object]
    if callable(body):
        raw, content_type = body, None
    else:
        raw, content_type = _encode(body)
    return ScriptedAnswer(
        method=method.upper(),
        path=path,
        status=status,
        body=raw,
        headers={k.lower(): v for k, v in (headers or {}).items()},
        delay=float(delay),
        drop=drop,
        remaining=times,
        check_keys=check_keys,
        content_type=content_type,
    )


class TestingLayer:
    """Records each request, then answers from the script or passes to the sandbox."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(
        self,
        app: ASGIApp,
        recorder: RequestRecorder,
        max_body_bytes: int,
        keys_ok: Callable[[Scope, bytes], bool],
    ) -> None:
        self._app = app
        self.recorder = recorder
        self._max_body = max_body_bytes
        self._keys_ok = keys_ok  # the sandbox's own key and signature check
        self._lock = threading.Lock()
        self.script: list[ScriptedAnswer] = []

    def add(self, answer: ScriptedAnswer) -> None:
        with self._lock:
            self.script.append(answer)

    def clear(self) -> None:
        with self._lock:
            self.script.clear()

    def _take(self, scope: Scope, body: bytes) -> ScriptedAnswer | None:
        method, path = scope["method"], scope["path"]
        with self._lock:
            for answer in self.script:
                if answer.matches(method, path) and (
                    not answer.check_keys or self._keys_ok(scope, body)
                ):
                    if answer.remaining is not None:
                        answer.remaining -= 1
                    return answer
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (not self.recorder.limit and not self.script):
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body, truncated, receive = await self._buffer(receive)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        recorded = RecordedRequest(scope["method"], scope["path"], query, headers, body, truncated)
        self.recorder._add(recorded)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                recorded.status = int(message["status"])
            await send(message)

        answer = self._take(scope, body)
        if answer is None:
            await self._app(scope, receive, recording_send)
            return
        if answer.delay:
            await anyio.sleep(answer.delay)
        if answer.status is None and not answer.drop:
            await self._app(scope, receive, recording_send)
            return
        await self._answer(answer, recorded, recording_send)

    async def _buffer(self, receive: Receive) -> tuple[bytes, bool, Receive]:
        """Read the body up to the cap; hand the sandbox a `receive` replaying it whole."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more and size <= self._max_body:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False, _replay([message], receive)
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        replayed: list[Message] = [
            {"type": "http.request", "body": c, "more_body": True} for c in chunks
        ]
        if replayed and not more:
            replayed[-1]["more_body"] = False
        return body[: self._max_body], more or size > self._max_body, _replay(replayed, receive)

    async def _answer(self, answer: ScriptedAnswer, request: RecordedRequest, send: Send) -> None:
        headers = dict(answer.headers)
        body, content_type = (
            _encode(answer.body(request)) if callable(answer.body)
            else (answer.body, answer.content_type)
        )
        if content_type and "content-type" not in headers:
            headers["content-type"] = content_type
        status = answer.status if answer.status is not None else 200
        if answer.drop:
            # Promise a body, send half of it, then fail: the server can only close the
            # connection. (No ASGI app can refuse to answer before the status line.)
            headers["content-length"] = str(len(body) + 64)
        else:
            headers["content-length"] = str(len(body))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        if answer.drop:
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2],
                 "more_body": True}
            )
            raise DroppedConnection("the sandbox dropped this connection, as scripted")
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replaying() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying
