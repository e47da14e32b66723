"""A ``Content-Length`` that is no number (``²`` reads as a digit to ``str.isdigit()``) and
other header bytes that are not ASCII: every engine ends the call with a ``SmartAIError``,
never a plain ``ValueError``, and never repeats a create."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx2
import pytest

from assessment_asgi.platform import (
    Credentials,
    RetryPolicy,
    SmartAIClient,
    SmartAIConnectionError,
    SmartAIError,
    SmartAIResponseError,
    SmartAIServerError,
    Timeout,
)

from ._engine_runs import pytest_generate_tests  # noqa: F401 - runs engine_name tests per engine
from ._faulty import FaultServer

CREDS = Credentials("wc_ak_test_length", "wc_sk_test_length")
TIMEOUT = Timeout(connect=1.0, read=1.0, deadline=3.0)
RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.02)
OK_SESSION = b'{"success": true, "data": {"token": "t", "expiresAt": "x"}}'
OK_EVENTS = b'{"status": "success", "code": 200, "data": {"events": [], "pendingCount": 0}}'
NOT_NUMBERS = ["²".encode(), "٣".encode(), b"\xb2", b"1e3", b"-1", b"0x10"]


def _raw(head: bytes, body: bytes) -> Callable[[socket.socket, FaultServer], None]:
    def behaviour(conn: socket.socket, server: FaultServer) -> None:
        conn.sendall(head + b"\r\n" + body)

    return behaviour


def _chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


async def _create(client: SmartAIClient) -> object:
    return await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")


@pytest.mark.anyio
async def test_a_real_server_declaring_a_length_that_is_no_number_gets_a_smartai_error(
    engine_name: str,
) -> None:
    """Chunked framing next to ``Content-Length: ²``: aiohttp's and httpx2's parsers refuse
    the answer (the connection is dropped); pyreqwest hands it on, and the one capped read
    refuses it. Either way a create is tried once and ends in a ``SmartAIError``."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Length: \xc2\xb2\r\n"
    )
    with FaultServer(_raw(head, _chunked(OK_SESSION))) as server:
        client = SmartAIClient(
            base_url=server.base_url, credentials=CREDS, engine=engine_name, timeout=TIMEOUT, retry=RETRY
        )
        try:
            with pytest.raises(SmartAIError) as caught:
                await _create(client)
        finally:
            await client.aclose()
    assert isinstance(caught.value, SmartAIResponseError | SmartAIConnectionError)
    if isinstance(caught.value, SmartAIResponseError):
        assert "Content-Length" in str(caught.value)
        assert caught.value.status_code == 200
    assert caught.value.operation == "create_session"
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_a_request_id_that_is_not_ascii_leaves_the_status_error_intact(engine_name: str) -> None:
    """pyreqwest refuses to read such a header as text: the id is dropped, the 500 stays a
    ``SmartAIServerError``."""
    body = b'{"success": false, "error": "boom"}'
    head = (
        b"HTTP/1.1 500 X\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"X-Request-Id: r\xc2\xb2d\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    )
    with FaultServer(_raw(head, body)) as server:
        client = SmartAIClient(
            base_url=server.base_url, credentials=CREDS, engine=engine_name, timeout=TIMEOUT, retry=RETRY
        )
        try:
            with pytest.raises(SmartAIServerError) as caught:
                await _create(client)
        finally:
            await client.aclose()
    assert caught.value.status_code == 500
    assert caught.value.platform_message == "boom"
    assert caught.value.request_id in {None, "rd"}


@pytest.mark.anyio
@pytest.mark.parametrize("declared", NOT_NUMBERS, ids=repr)
@pytest.mark.parametrize("operation", ["create_session", "poll_events"])
async def test_through_an_injected_transport_a_length_that_is_no_number_is_a_response_error(
    declared: bytes, operation: str
) -> None:
    """A real HTTP/1.1 parser refuses these before the engine sees them; a caller's own
    transport (an HTTP/2 or a custom one) need not. The answer is refused, not repeated,
    even for a read that is otherwise safe to repeat."""
    sent: list[httpx2.Request] = []
    body = OK_SESSION if operation == "create_session" else OK_EVENTS

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        headers = [(b"content-type", b"application/json"), (b"content-length", declared)]
        return httpx2.Response(200, headers=headers, content=body)

    client = SmartAIClient(
        base_url="http://127.0.0.1:9/api/v1", credentials=CREDS, transport=httpx2.MockTransport(answer),
        timeout=TIMEOUT, retry=RETRY,
    )
    try:
        call = _create(client) if operation == "create_session" else client.poll_events()
        with pytest.raises(SmartAIResponseError) as caught:
            await call
    finally:
        await client.aclose()
    assert str(caught.value) == f"{operation}: the answer's Content-Length is not a number"
    assert (caught.value.operation, caught.value.status_code) == (operation, 200)
    assert len(sent) == 1


@pytest.mark.anyio
async def test_through_an_injected_transport_a_declared_length_over_the_cap_is_refused_unread() -> None:
    """ASCII digits are still read, and a length over the cap is refused before the body."""
    def answer(request: httpx2.Request) -> httpx2.Response:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"99999999999")]
        return httpx2.Response(200, headers=headers, content=OK_SESSION)

    client = SmartAIClient(
        base_url="http://127.0.0.1:9/api/v1", credentials=CREDS, transport=httpx2.MockTransport(answer),
        timeout=TIMEOUT, retry=RETRY,
    )
    try:
        with pytest.raises(SmartAIResponseError, match="larger than"):
            await _create(client)
    finally:
        await client.aclose()
