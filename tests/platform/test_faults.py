"""The fault matrix: real misbehaving servers on loopback, each call ends within its deadline
with the documented error, and only safe operations are retried."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest

from assessment_asgi.platform import (
    Credentials,
    RetryPolicy,
    SmartAIClient,
    SmartAIConnectionError,
    SmartAIError,
    SmartAIRateLimitError,
    SmartAIResponseError,
    SmartAIServerError,
    SmartAITimeoutError,
    Timeout,
)
from assessment_asgi.platform._config import parse_retry_after
from tests._fake import FakeAPI, build_app
from tests._servers import serve

from . import _faulty
from ._engine_runs import ENGINE_RUNS
from ._faulty import FaultServer, answer, sequence

CREDS = Credentials("wc_ak_test_faults", "wc_sk_test_faults")
TIMEOUT = Timeout(connect=1.0, read=0.5, deadline=3.0)
RETRY = RetryPolicy(attempts=3, backoff=0.05, max_backoff=0.1, max_retry_after=2.0)
OK_SESSION = b'{"success": true, "data": {"token": "t", "expiresAt": "x"}}'
OK_EVENTS = b'{"status": "success", "code": 200, "data": {"events": [], "pendingCount": 0}}'
Op = Callable[[SmartAIClient], Awaitable[Any]]


async def create(client: SmartAIClient) -> Any:
    return await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")


async def poll(client: SmartAIClient) -> Any:
    return await client.poll_events()


OPS = {"create_session": create, "poll_events": poll}

# ENGINE_RUNS: every engine on asyncio; trio runs httpx2 and httpx (aiohttp, pyreqwest: asyncio only).
_engine: str | None = None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "anyio_backend" in metafunc.fixturenames:
        metafunc.parametrize(
            ("anyio_backend", "engine"),
            ENGINE_RUNS,
            indirect=["engine"],
            ids=[f"{backend}-{engine}" for backend, engine in ENGINE_RUNS],
        )


@pytest.fixture(autouse=True)
def engine(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The engine every client of this test uses (the whole matrix runs once per engine)."""
    global _engine
    _engine = getattr(request, "param", None)
    yield _engine
    _engine = None


async def call(base_url: str, op: Op, **options: Any) -> Any:
    """Run one call and prove it ends within its deadline (plus scheduling slack)."""
    options.setdefault("timeout", TIMEOUT)
    options.setdefault("retry", RETRY)
    options.setdefault("engine", _engine)
    client = SmartAIClient(base_url=base_url, credentials=CREDS, **options)
    try:
        with anyio.fail_after(options["timeout"].deadline + 5):
            return await op(client)
    finally:
        await client.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPS)
async def test_refused_connections_are_a_connection_error(op: str) -> None:
    with _faulty.refusing() as base_url, pytest.raises(SmartAIConnectionError) as caught:
        await call(base_url, OPS[op])
    assert caught.value.operation == op
    assert caught.value.status_code is None


@pytest.mark.anyio
@pytest.mark.parametrize(("op", "attempts"), [("create_session", 1), ("poll_events", 3)])
async def test_a_stalled_server_times_out_and_only_reads_are_retried(op: str, attempts: int) -> None:
    with FaultServer(_faulty.stall) as server, pytest.raises(SmartAITimeoutError):
        await call(server.base_url, OPS[op])
    assert len(server.requests) == attempts


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPS)
async def test_a_dripping_server_hits_the_overall_deadline(op: str) -> None:
    """Each byte arrives well within the read timeout: only the deadline can end this."""
    timeout = Timeout(connect=1.0, read=1.0, deadline=1.5)
    with FaultServer(_faulty.drip) as server, pytest.raises(SmartAITimeoutError) as caught:
        await call(server.base_url, OPS[op], timeout=timeout)
    assert "deadline" in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPS)
async def test_500_is_a_server_error_and_never_retried(op: str) -> None:
    body = b'{"success": false, "error": "boom"}'
    server = FaultServer(answer(500, body, {"X-Request-Id": "rid-500"}))
    with server, pytest.raises(SmartAIServerError) as caught:
        await call(server.base_url, OPS[op])
    assert (caught.value.status_code, caught.value.request_id) == (500, "rid-500")
    assert caught.value.platform_message == "boom"
    assert len(server.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize(("op", "attempts"), [("create_session", 1), ("poll_events", 3)])
async def test_gateway_errors_are_retried_for_reads_only(op: str, attempts: int, status: int) -> None:
    with (
        FaultServer(answer(status, b"<html>bad gateway</html>", {"Content-Type": "text/html"})) as server,
        pytest.raises(SmartAIServerError) as caught,
    ):
        await call(server.base_url, OPS[op])
    assert caught.value.status_code == status
    assert caught.value.platform_message is None
    assert len(server.requests) == attempts


@pytest.mark.anyio
async def test_a_read_recovers_after_a_transient_503() -> None:
    behaviour = sequence(answer(503, b"{}"), answer(200, OK_EVENTS))
    with FaultServer(behaviour) as server:
        batch = await call(server.base_url, poll)
    assert batch.events == []
    assert len(server.requests) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "retry_after",
    ["1", "soon", "-3", email.utils.formatdate(time.time() - 60, usegmt=True)],
    ids=["seconds", "garbage", "negative", "past-date"],
)
async def test_429_on_a_read_waits_then_retries(retry_after: str) -> None:
    behaviour = sequence(answer(429, b"{}", {"Retry-After": retry_after}), answer(200, OK_EVENTS))
    with FaultServer(behaviour) as server:
        batch = await call(server.base_url, poll)
    assert batch.pending_count == 0
    assert len(server.requests) == 2


@pytest.mark.anyio
async def test_429_beyond_the_cap_is_raised_at_once_with_its_delay() -> None:
    server = FaultServer(answer(429, b'{"message": "slow down"}', {"Retry-After": "3600"}))
    with server, pytest.raises(SmartAIRateLimitError) as caught:
        await call(server.base_url, poll)
    assert caught.value.retry_after == 3600
    assert caught.value.platform_message == "slow down"
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_429_on_a_create_is_not_retried() -> None:
    server = FaultServer(answer(429, b"{}", {"Retry-After": "1"}))
    with server, pytest.raises(SmartAIRateLimitError) as caught:
        await call(server.base_url, create)
    assert caught.value.retry_after == 1
    assert len(server.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(("op", "attempts"), [("create_session", 1), ("poll_events", 3)])
async def test_a_connection_reset_after_sending_is_retried_for_reads_only(op: str, attempts: int) -> None:
    def reset(conn: socket.socket, server: FaultServer) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with FaultServer(reset) as server, pytest.raises(SmartAIConnectionError):
        await call(server.base_url, OPS[op])
    if attempts == 1:
        assert len(server.requests) == 1
    else:  # aiohttp itself may repeat an idempotent GET once per attempt
        assert attempts <= len(server.requests) <= 2 * attempts


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!doctype html><h1>Welcome to nginx</h1>", "text/html"),
        (b'{"success": true, "data": {"tok', "application/json"),
        (b'["not", "an", "envelope"]', "application/json"),
        (b'{"success": true}', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ],
    ids=["html", "truncated-json", "not-an-object", "no-data", "deeply-nested"],
)
@pytest.mark.parametrize("op", OPS)
async def test_a_2xx_that_breaks_the_contract_is_a_response_error(
    op: str, body: bytes, content_type: str
) -> None:
    server = FaultServer(answer(200, body, {"Content-Type": content_type}))
    with server, pytest.raises(SmartAIResponseError) as caught:
        await call(server.base_url, OPS[op])
    assert caught.value.status_code == 200
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_a_create_whose_token_is_missing_is_a_response_error() -> None:
    server = FaultServer(answer(200, b'{"success": true, "data": {"expiresAt": "x"}}'))
    with server, pytest.raises(SmartAIResponseError, match="SessionToken"):
        await call(server.base_url, create)


@pytest.mark.anyio
@pytest.mark.parametrize(("op", "attempts"), [("create_session", 1), ("poll_events", 3)])
async def test_a_body_cut_off_mid_way_is_a_response_error(op: str, attempts: int) -> None:
    with FaultServer(_faulty.truncate) as server, pytest.raises(SmartAIResponseError) as caught:
        await call(server.base_url, OPS[op])
    assert "cut off" in str(caught.value)
    assert len(server.requests) == attempts


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPS)
async def test_an_endless_body_is_cut_at_the_size_cap(op: str) -> None:
    with FaultServer(_faulty.huge_chunked) as server, pytest.raises(SmartAIResponseError) as caught:
        await call(server.base_url, OPS[op], max_response_bytes=256 * 1024)
    assert "larger than 262144 bytes" in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_a_declared_huge_body_is_refused_without_reading_it() -> None:
    def huge_declared(conn: socket.socket, server: FaultServer) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{")
        server.stop.wait(30)

    with FaultServer(huge_declared) as server, pytest.raises(SmartAIResponseError, match="larger"):
        await call(server.base_url, create)


@pytest.mark.anyio
@pytest.mark.parametrize("op", OPS)
async def test_redirects_are_not_followed(op: str) -> None:
    target = FakeAPI()
    with serve(build_app(target)) as elsewhere:
        location = {"Location": f"{elsewhere}/api/v1/sessions"}
        server = FaultServer(answer(307, b"", location))
        with server, pytest.raises(SmartAIResponseError, match="redirect") as caught:
            await call(server.base_url, OPS[op])
    assert caught.value.status_code == 307
    assert target.seen == []  # our keys never went to the redirect target


@pytest.mark.anyio
async def test_errors_share_one_base_class() -> None:
    with _faulty.refusing() as base_url, pytest.raises(SmartAIError):
        await call(base_url, poll, retry=1)


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0
    for garbage in (None, "", "soon", "-5", "nan", "inf", "1e999", "Mon, 99 Foo 2024", "9" * 100):
        assert parse_retry_after(garbage, now=now) is None, garbage


@pytest.mark.anyio
async def test_one_operation_can_have_its_own_timeout() -> None:
    with FaultServer(_faulty.stall) as server:
        client = SmartAIClient(
            base_url=server.base_url,
            credentials=CREDS,
            timeout=Timeout(connect=1, read=30, deadline=30),
            operation_timeouts={"poll_events": Timeout(connect=1, read=0.3, deadline=0.5)},
            retry=1,
            engine=_engine,
        )
        with anyio.fail_after(10), pytest.raises(SmartAITimeoutError):
            await client.poll_events()
        await client.aclose()
    with pytest.raises(ValueError, match="unknown operation 'poll'"):
        SmartAIClient(base_url=server.base_url, operation_timeouts={"poll": 5})
