"""Each engine behind the transport seam against real servers on 127.0.0.1: uvicorn apps and
raw misbehaving sockets. Every engine must classify the same faults the same way."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx2
import pytest

from assessment_asgi.platform import _engines
from assessment_asgi.platform._engines import Answer, Engine, EngineError, Options, Prepared
from tests._servers import serve

from ._engine_runs import (
    pytest_generate_tests,  # noqa: F401 - runs engine_name tests per engine
    raw_server,
    read_request_head,
    silent_until_hang_up,
)

API_KEY = "wc_ak_test_0123456789abcdef"


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echo method, path, headers and body as JSON; a few paths misbehave on purpose."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/redirect":
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", b"/elsewhere"), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/gzip":
        payload = gzip.compress(json.dumps({"token": "t" * 2000}).encode())
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-encoding", b"gzip"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return
    if path == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(200):
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    client_port = scope["client"][1]
    answer = {
        "method": scope["method"],
        "path": path,
        "query": scope["query_string"].decode(),
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
        "body": body.decode("latin-1"),
        "client_port": client_port,
    }
    raw = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"content-type", b"application/json"),
                (b"x-reply", b"1"),
                (b"x-reply", b"2"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serve(echo_app, "uvicorn") as url:
        yield url



@contextlib.asynccontextmanager
async def open_engine(name: str, *, limit: int = 100) -> AsyncIterator[Engine]:
    from assessment_asgi._compat import current_loop

    options = Options(
        limits=httpx2.Limits(max_connections=limit, keepalive_expiry=4.0),
        headers={"user-agent": "engine-test", "accept": "application/json"},
    )
    engine = _engines.factory(name, options)(current_loop()[0])
    assert engine.name == name
    try:
        yield engine
    finally:
        await engine.aclose()


def prepared(
    url: str,
    *,
    method: str = "POST",
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    connect: float = 5.0,
    read: float = 5.0,
    deadline: float = 10.0,
    max_bytes: int = 1 << 20,
) -> Prepared:
    return Prepared(method, url, headers or {}, body, connect, read, deadline, max_bytes)


async def failure_of(engine: Engine, request: Prepared) -> EngineError:
    with pytest.raises(EngineError) as caught:
        await engine.send(request)
    return caught.value


@pytest.mark.anyio
async def test_a_round_trip_keeps_method_query_headers_and_body(echo_url: str, engine_name: str) -> None:
    body = json.dumps({"users": [{"name": "Zoë", "email": "z@example.com"}]}).encode()
    async with open_engine(engine_name) as engine:
        answer = await engine.send(prepared(
            f"{echo_url}/api/v1/sessions?x=a%20b", body=body,
            headers={"x-api-key": API_KEY, "content-type": "application/json"},
        ))
    assert isinstance(answer, Answer)
    assert answer.status == 201
    assert answer.headers.get("X-Reply") in {"1", "1, 2"}  # case-insensitive lookup
    echoed = json.loads(answer.body)
    assert (echoed["method"], echoed["path"], echoed["query"]) == ("POST", "/api/v1/sessions", "x=a%20b")
    assert echoed["headers"]["x-api-key"] == API_KEY
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["user-agent"] == "engine-test"
    assert echoed["headers"]["accept"] == "application/json"
    assert "cookie" not in echoed["headers"]
    assert echoed["body"].encode("latin-1") == body


@pytest.mark.anyio
async def test_a_gzip_answer_is_decoded(echo_url: str, engine_name: str) -> None:
    async with open_engine(engine_name) as engine:
        answer = await engine.send(prepared(f"{echo_url}/gzip", method="GET", body=b""))
    assert json.loads(answer.body) == {"token": "t" * 2000}


@pytest.mark.anyio
async def test_redirects_are_returned_not_followed(echo_url: str, engine_name: str) -> None:
    async with open_engine(engine_name) as engine:
        answer = await engine.send(prepared(f"{echo_url}/redirect"))
    assert answer.status == 302
    assert answer.headers.get("location") == "/elsewhere"


@pytest.mark.anyio
async def test_sequential_requests_reuse_one_connection(echo_url: str, engine_name: str) -> None:
    async with open_engine(engine_name) as engine:
        ports = {json.loads((await engine.send(prepared(f"{echo_url}/p"))).body)["client_port"]
                 for _ in range(20)}
    assert len(ports) == 1


@pytest.mark.anyio
async def test_concurrent_requests_respect_the_connection_limit(echo_url: str, engine_name: str) -> None:
    answers: dict[int, Answer] = {}
    async with open_engine(engine_name, limit=3) as engine:

        async def one(i: int) -> None:
            answers[i] = await engine.send(prepared(f"{echo_url}/p", body=json.dumps({"i": i}).encode()))

        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(one, i)
    echoed = [json.loads(answers[i].body) for i in range(30)]
    assert [json.loads(e["body"])["i"] for e in echoed] == list(range(30))
    assert len({e["client_port"] for e in echoed}) <= 3


@pytest.mark.anyio
async def test_an_endless_body_stops_at_the_cap_and_frees_its_connection(
    echo_url: str, engine_name: str
) -> None:
    async with open_engine(engine_name, limit=1) as engine:
        big = prepared(f"{echo_url}/big", method="GET", body=b"", connect=2.0, max_bytes=100_000)
        caught = await failure_of(engine, big)
        # The single connection slot is free again: the next request gets it in time.
        again = await engine.send(prepared(f"{echo_url}/p", connect=2.0))
    assert (caught.kind, caught.status, caught.sent) == ("too_large", 200, True)
    assert again.status == 201


@pytest.mark.anyio
async def test_a_refused_connection_was_never_sent(engine_name: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    async with open_engine(engine_name) as engine:
        caught = await failure_of(engine, prepared(f"http://127.0.0.1:{port}/"))
    assert (caught.kind, caught.sent) == ("connect", False)


@pytest.mark.anyio
async def test_a_silent_server_is_a_read_timeout_that_may_have_been_sent(engine_name: str) -> None:
    with raw_server(lambda conn: (read_request_head(conn), threading.Event().wait(5))) as url:
        async with open_engine(engine_name) as engine:
            caught = await failure_of(engine, prepared(url, headers={"x-api-key": API_KEY}, read=0.3))
    assert (caught.kind, caught.sent) == ("read_timeout", True)
    assert API_KEY not in str(caught)
    assert API_KEY not in repr(caught)


@pytest.mark.anyio
async def test_a_full_accept_queue_is_a_connect_timeout_never_sent(engine_name: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        # Fill the accept queue; Linux then drops further SYNs, so connect() hangs.
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        await anyio.sleep(0.1)
        async with open_engine(engine_name) as engine:
            caught = await failure_of(engine, prepared(f"http://127.0.0.1:{port}/", connect=0.3))
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert (caught.kind, caught.sent) == ("connect_timeout", False)


@pytest.mark.anyio
async def test_a_busy_pool_is_a_connect_timeout_never_sent(engine_name: str) -> None:
    received = threading.Event()

    def hold(conn: socket.socket) -> None:
        read_request_head(conn)
        received.set()
        threading.Event().wait(5)

    with raw_server(hold) as url:
        async with open_engine(engine_name, limit=1) as engine, anyio.create_task_group() as tg:
            # The same timeouts for both: pyreqwest keeps one pool per (connect, read) pair.
            tg.start_soon(engine.send, prepared(url, connect=0.2, read=10.0))  # holds the only connection
            assert await anyio.to_thread.run_sync(received.wait, 10)
            caught = await failure_of(engine, prepared(url, connect=0.2, read=10.0))
            tg.cancel_scope.cancel()
    assert (caught.kind, caught.sent) == ("connect_timeout", False)


def _close_after_head(conn: socket.socket) -> None:
    read_request_head(conn)
    conn.close()


def _garbage(conn: socket.socket) -> None:
    read_request_head(conn)
    conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    conn.close()


def _short_body(conn: socket.socket) -> None:
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
    conn.close()


def _reset_mid_body(conn: socket.socket) -> None:
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    threading.Event().wait(0.2)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()  # RST


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "kind", "status"),
    [
        (_close_after_head, "dropped", None),
        (_garbage, "dropped", None),
        (_short_body, "cut_off", 200),
        (_reset_mid_body, "cut_off", 200),
    ],
    ids=["closed-after-request", "garbage", "short-body", "reset-mid-body"],
)
async def test_broken_answers_are_classified_as_sent(
    engine_name: str, handler: Callable[[socket.socket], None], kind: str, status: int | None
) -> None:
    with raw_server(handler) as url:
        async with open_engine(engine_name) as engine:
            caught = await failure_of(engine, prepared(url))
    assert (caught.kind, caught.status, caught.sent) == (kind, status, True)


@pytest.mark.anyio
async def test_cancelling_a_call_ends_its_request(engine_name: str) -> None:
    """aiohttp and httpx2 hang up at once. pyreqwest cannot stop a request (a documented
    limit): the caller's cancel scope still ends cleanly at once, and the request ends at
    its own timeout, set just past the attempt's deadline."""
    received, hung_up = threading.Event(), threading.Event()

    # Only a cancel can end this request within the test: its own limits are 30 s, except
    # pyreqwest's deadline, which is its only way to end a request it was told to drop.
    deadline = 1.0 if engine_name == "pyreqwest" else 30.0
    with raw_server(silent_until_hang_up(received, hung_up)) as url:
        async with open_engine(engine_name) as engine:
            async with anyio.create_task_group() as tg:
                tg.start_soon(engine.send, prepared(url, read=30.0, deadline=deadline))
                assert await anyio.to_thread.run_sync(received.wait, 10)
                tg.cancel_scope.cancel()
            assert tg.cancel_scope.cancelled_caught  # the cancel ended the scope, nothing escaped
            assert await anyio.to_thread.run_sync(hung_up.wait, 10)


def test_closing_the_pyreqwest_engine_ends_the_attempts_its_callers_gave_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """pyreqwest cannot stop a request whose caller was cancelled: its attempt runs on to its
    own timeout. Closing the engine (as `SmartAIClient.aclose()` and the app's shutdown do)
    ends those attempts first, so a program that ends right after logs nothing: no "unhandled
    exception during asyncio.run() shutdown" for an attempt still running."""

    async def give_up_then_close(url: str) -> None:
        async with open_engine("pyreqwest") as engine:
            with anyio.move_on_after(0.1):
                await engine.send(prepared(url, read=30.0, deadline=5.0))

    with raw_server(silent_until_hang_up()) as url:
        for _ in range(10):  # the program's end races the abandoned attempt: try it often
            asyncio.run(give_up_then_close(url))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_caller_still_waiting_when_the_pyreqwest_engine_closes_gets_an_error() -> None:
    """Closing ends only the attempts whose callers gave up: one still waiting is answered
    with an engine error, never handed a cancel it did not ask for."""
    received = threading.Event()

    async def close_under_a_caller(url: str) -> EngineError:
        async with open_engine("pyreqwest") as engine:
            waiting = asyncio.ensure_future(failure_of(engine, prepared(url, read=30.0, deadline=5.0)))
            assert await anyio.to_thread.run_sync(received.wait, 10)
            await engine.aclose()
            return await waiting

    with raw_server(silent_until_hang_up(received)) as url:
        caught = asyncio.run(close_under_a_caller(url))
    assert (caught.kind, caught.sent) == ("dropped", True)


@pytest.mark.anyio
@pytest.mark.parametrize(("anyio_backend", "native"), [("asyncio", "aiohttp"), ("asyncio", "pyreqwest")])
async def test_native_engines_ignore_proxies_from_the_environment(
    echo_url: str, native: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # a proxy that refuses: used, it would fail the request
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with open_engine(native) as engine:
        answer = await engine.send(prepared(f"{echo_url}/p"))
    assert answer.status == 201
