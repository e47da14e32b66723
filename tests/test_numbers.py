"""Numbers from the wire are ASCII digits only: ``²`` or ``٣`` is "no number", never a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from assessment_asgi import AssessmentApp
from assessment_asgi._numbers import ascii_int, ascii_seconds
from assessment_asgi.platform._config import parse_retry_after
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

# Each passes str.isdigit() (or float()), and none is a number an HTTP peer meant.
NOT_ASCII = ["²", "³¹", "٣", "\uff11\uff12", "1²", "߁", "1_000", " 1", "1 ", "+1", "-1", "1e3", ""]


@pytest.mark.parametrize("value", NOT_ASCII)
def test_only_ascii_digits_are_numbers(value: str) -> None:
    assert ascii_int(value) is None
    assert ascii_int(value.encode("utf-8")) is None
    assert ascii_seconds(value) is None


def test_ascii_numbers_are_read_and_bounded() -> None:
    assert (ascii_int("120"), ascii_int(b"007"), ascii_seconds("1.5")) == (120, 7, 1.5)
    assert ascii_int("9" * 19) is None  # over max_digits: refused, not computed
    assert ascii_int("9" * 16, max_digits=16) == int("9" * 16)


@pytest.mark.parametrize("value", ["²", "٣", "1²", "߁"])
def test_retry_after_in_other_digits_is_ignored(value: str) -> None:
    # Before: "²".isdigit() let int() raise, so a 429 became a 500 and the poller's task died.
    assert parse_retry_after(value) is None


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = SandboxApp()
    with serve(app) as url:
        yield app, url


def test_the_sandbox_refuses_odd_digits_in_x_timestamp_and_limit(
    sandbox: tuple[SandboxApp, str],
) -> None:
    app, url = sandbox
    api_key = app.credentials.api_key.get_secret_value()
    body = {"users": [{"name": "Ada", "email": "ada@example.com"}], "recruiterEmail": "r@example.com"}
    with httpx2.Client(base_url=url, timeout=10) as client:
        signed = client.post(
            "/api/v1/sessions", json=body,
            headers={"x-api-key": api_key, "x-signature": "0" * 64,
                     "x-timestamp": "²".encode("latin-1")},
        )
        limits = [
            client.get("/api/v1/webhook/events", params={"limit": value},
                       headers={"x-api-key": api_key})
            for value in ("²", "٣", "1²")
        ]
    assert signed.status_code == 401
    assert [r.status_code for r in limits] == [400, 400, 400]


async def _post(app: Any, path: str, content_length: bytes, body: bytes) -> tuple[int, Any]:
    """One POST over plain ASGI: no HTTP server lets such a Content-Length through."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
        "headers": [(b"content-type", b"application/json"), (b"content-length", content_length)],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


@pytest.mark.anyio
@pytest.mark.parametrize("declared", ["²".encode(), "٣".encode(), b"1e3", b"-1"])
async def test_a_content_length_in_other_digits_is_one_refusal_everywhere(declared: bytes) -> None:
    """The guard, the sandbox's portal and the example's sign-in read bodies through one capped
    read: a declared length that is no number is a 400, never a 500, never ignored."""
    from example_app._dev_login import DevLogin

    body = b'{"name": "Ada", "email": "ada@example.com"}'
    login = Starlette(routes=[Route("/login", DevLogin(secret="s" * 32).endpoint, methods=["POST"])])
    assert await _post(login, "/login", declared, body) == (
        400, {"success": False, "error": "Invalid Content-Length", "code": "invalid_body"}
    )
    status, answer = await _post(SandboxApp(), "/portal/open", declared, b'{"token": "t"}')
    assert (status, answer["error"]) == (400, "Invalid Content-Length")
    app = AssessmentApp(jwt_secret="s" * 32, rate_limit="")
    status, answer = await _post(app, "/session", declared, b'{"users": []}')
    assert (status, answer["code"], answer["error"]) == (400, "invalid_body", "Invalid Content-Length")
    await app.aclose()
