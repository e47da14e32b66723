"""AiohttpTransport against real servers on 127.0.0.1: uvicorn apps and raw misbehaving sockets."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import json
import socket
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest

from assessment_asgi.platform._aiohttp_transport import AiohttpTransport
from tests._servers import serve

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


@contextlib.contextmanager
def raw_server(handle: Callable[[socket.socket], None], backlog: int = 16) -> Iterator[str]:
    """A bare TCP server; ``handle`` gets each accepted socket (in its own thread)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept_loop() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def read_request_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp is asyncio-only; trio is covered by its own test below


@pytest.mark.anyio
async def test_post_round_trip_keeps_headers_body_and_duplicate_response_headers(
    echo_url: str,
) -> None:
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post(
            f"{echo_url}/api/v1/sessions?x=a%20b",
            json={"users": [{"name": "Zoë", "email": "z@example.com"}]},
            headers={"x-api-key": API_KEY},
        )
    assert response.status_code == 201
    assert response.http_version == "HTTP/1.1"
    assert response.headers.get_list("x-reply") == ["1", "2"]
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["query"] == "x=a%20b"
    assert echoed["headers"]["x-api-key"] == API_KEY
    assert echoed["headers"]["content-type"] == "application/json"
    assert json.loads(echoed["body"].encode("latin-1")) == {
        "users": [{"name": "Zoë", "email": "z@example.com"}]
    }


@pytest.mark.anyio
async def test_body_without_content_type_gets_none_added(echo_url: str) -> None:
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post(f"{echo_url}/raw", content=b"abc")
    assert "content-type" not in response.json()["headers"]
    assert response.json()["body"] == "abc"


@pytest.mark.anyio
async def test_gzip_body_is_decoded_once_by_httpx2(echo_url: str) -> None:
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.get(f"{echo_url}/gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == {"token": "t" * 2000}


@pytest.mark.anyio
async def test_redirects_are_returned_not_followed(echo_url: str) -> None:
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post(f"{echo_url}/redirect", json={})
    assert response.status_code == 302
    assert response.headers["location"] == "/elsewhere"


@pytest.mark.anyio
async def test_sequential_requests_reuse_one_connection(echo_url: str) -> None:
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        ports = {(await client.post(f"{echo_url}/p", json={})).json()["client_port"] for _ in range(20)}
    assert len(ports) == 1


@pytest.mark.anyio
async def test_concurrent_requests_respect_the_connection_limit(echo_url: str) -> None:
    async with httpx2.AsyncClient(transport=AiohttpTransport(limit=3)) as client:
        responses = await asyncio.gather(*(client.post(f"{echo_url}/p", json={"i": i}) for i in range(30)))
    assert [json.loads(r.json()["body"])["i"] for r in responses] == list(range(30))
    assert len({r.json()["client_port"] for r in responses}) <= 3


@pytest.mark.anyio
async def test_streamed_request_body_arrives_whole(echo_url: str) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(50):
            yield f"{i:04d}".encode() * 5000

    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post(f"{echo_url}/upload", content=parts())
    body = response.json()["body"]
    assert len(body) == 50 * 4 * 5000
    assert body[:4] + body[-4:] == "00000049"


@pytest.mark.anyio
async def test_large_bytes_body_arrives_whole(echo_url: str) -> None:
    payload = bytes(range(256)) * 2000  # over the small-body threshold
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        response = await client.post(f"{echo_url}/upload", content=payload)
    assert response.json()["body"].encode("latin-1") == payload
    assert response.json()["headers"]["content-length"] == str(len(payload))


@pytest.mark.anyio
async def test_response_streams_so_a_size_cap_can_stop_early(echo_url: str) -> None:
    transport = AiohttpTransport(limit=1)
    async with httpx2.AsyncClient(transport=transport) as client:
        async with client.stream("GET", f"{echo_url}/big") as response:
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > 100_000:
                    break
        assert received < 200 * 65536
        # The abandoned connection was released: the single slot is free again.
        again = await client.post(f"{echo_url}/p", json={}, timeout=httpx2.Timeout(5, pool=1))
    assert again.status_code == 201


@pytest.mark.anyio
async def test_connection_refused_is_connect_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
        with pytest.raises(httpx2.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


@pytest.mark.anyio
async def test_silent_server_is_read_timeout() -> None:
    with raw_server(lambda conn: (read_request_head(conn), threading.Event().wait(5))) as url:
        async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises(httpx2.ReadTimeout) as caught:
                await client.post(url, json={}, headers={"x-api-key": API_KEY}, timeout=httpx2.Timeout(0.3))
    assert API_KEY not in str(caught.value)
    assert caught.value.request.url == httpx2.URL(url)


@pytest.mark.anyio
async def test_server_that_never_reads_is_write_timeout() -> None:
    with raw_server(lambda conn: threading.Event().wait(5)) as url:
        async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises(httpx2.WriteTimeout):
                await client.post(url, content=b"x" * 50_000_000, timeout=httpx2.Timeout(5, write=0.3))


@pytest.mark.anyio
async def test_full_accept_queue_is_connect_timeout() -> None:
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
        await asyncio.sleep(0.1)
        async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises(httpx2.ConnectTimeout):
                await client.get(f"http://127.0.0.1:{port}/", timeout=httpx2.Timeout(5, connect=0.3))
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.anyio
async def test_busy_pool_is_pool_timeout(echo_url: str) -> None:
    transport = AiohttpTransport(limit=1)
    async with (
        httpx2.AsyncClient(transport=transport) as client,
        client.stream("GET", f"{echo_url}/big"),
    ):
        with pytest.raises(httpx2.PoolTimeout):
            await client.get(f"{echo_url}/p", timeout=httpx2.Timeout(5, pool=0.2))


@pytest.mark.anyio
async def test_per_host_limit_also_times_out_as_pool(echo_url: str) -> None:
    transport = AiohttpTransport(limit=10, limit_per_host=1)
    async with (
        httpx2.AsyncClient(transport=transport) as client,
        client.stream("GET", f"{echo_url}/big"),
    ):
        with pytest.raises(httpx2.PoolTimeout):
            await client.get(f"{echo_url}/p", timeout=httpx2.Timeout(5, pool=0.2))


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


@pytest.mark.anyio
@pytest.mark.parametrize("handler", [_close_after_head, _garbage, _short_body])
async def test_broken_responses_are_remote_protocol_errors(
    handler: Callable[[socket.socket], None],
) -> None:
    with raw_server(handler) as url:
        async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises(httpx2.RemoteProtocolError):
                await client.post(url, json={})


def _reset_mid_body(conn: socket.socket) -> None:
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    threading.Event().wait(0.2)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()  # RST


@pytest.mark.anyio
async def test_reset_while_reading_the_body_is_a_transport_error() -> None:
    with raw_server(_reset_mid_body) as url:
        async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
            with pytest.raises((httpx2.ReadError, httpx2.RemoteProtocolError)):
                await client.get(url)


@pytest.mark.anyio
async def test_aclose_closes_cleanly_and_the_transport_reopens(echo_url: str) -> None:
    transport = AiohttpTransport()
    client = httpx2.AsyncClient(transport=transport)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await client.post(f"{echo_url}/p", json={})
        await transport.aclose()
        gc.collect()
        response = await client.post(f"{echo_url}/p", json={})
        await client.aclose()
        gc.collect()
    assert response.status_code == 201


def test_a_new_event_loop_gets_a_new_session_without_warnings(echo_url: str) -> None:
    transport = AiohttpTransport()
    client = httpx2.AsyncClient(transport=transport)

    async def call() -> int:
        return (await client.post(f"{echo_url}/p", json={})).status_code

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.run(call()) == 201  # the first loop ends with the session open
        assert asyncio.run(call()) == 201
        asyncio.run(client.aclose())
        gc.collect()


def test_repr_shows_settings_only() -> None:
    assert repr(AiohttpTransport(limit=5)) == (
        "AiohttpTransport(limit=5, limit_per_host=0, keepalive_timeout=30.0)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"limit": -1}, ValueError, "limit"),
        ({"limit": "10"}, TypeError, "limit"),
        ({"limit_per_host": True}, TypeError, "limit_per_host"),
        ({"keepalive_timeout": 0}, ValueError, "keepalive_timeout"),
        ({"keepalive_timeout": None}, TypeError, "keepalive_timeout"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs: dict[str, Any], error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        AiohttpTransport(**kwargs)


def test_on_trio_it_says_to_use_httpx2s_own_transport(echo_url: str) -> None:
    import trio

    async def call() -> None:
        async with httpx2.AsyncClient(transport=AiohttpTransport()) as client:
            await client.get(f"{echo_url}/p")

    with pytest.raises(RuntimeError, match="asyncio"):
        trio.run(call)


@pytest.mark.anyio
async def test_fetch_returns_status_headers_and_body_on_the_same_pool(echo_url: str) -> None:
    transport = AiohttpTransport()
    try:
        status, headers, body = await transport.fetch(
            "POST",
            f"{echo_url}/api/v1/sessions",
            headers=[("content-type", "application/json"), ("x-api-key", API_KEY)],
            content=b'{"users": []}',
            timeout={"connect": 5, "read": 5, "write": 5, "pool": 5},
        )
        again = await transport.fetch("POST", f"{echo_url}/p", headers=[], content=b"{}")
    finally:
        await transport.aclose()
    assert status == 201
    assert (b"x-reply", b"2") in headers
    echoed = json.loads(body)
    assert echoed["headers"]["x-api-key"] == API_KEY
    assert echoed["body"] == '{"users": []}'
    assert json.loads(again[2])["client_port"] == echoed["client_port"]  # connection reused


@pytest.mark.anyio
async def test_fetch_decodes_gzip_and_stops_reading_past_max_bytes(echo_url: str) -> None:
    transport = AiohttpTransport()
    try:
        _, _, decoded = await transport.fetch("GET", f"{echo_url}/gzip", headers=[])
        _, _, capped = await transport.fetch("GET", f"{echo_url}/big", headers=[], max_bytes=100_000)
    finally:
        await transport.aclose()
    assert json.loads(decoded) == {"token": "t" * 2000}
    assert 100_000 < len(capped) < 200 * 65536


@pytest.mark.anyio
async def test_fetch_raises_httpx2_errors_without_the_key() -> None:
    transport = AiohttpTransport()
    try:
        silent = raw_server(lambda conn: (read_request_head(conn), threading.Event().wait(5)))
        with silent as url, pytest.raises(httpx2.ReadTimeout) as caught:
            await transport.fetch("POST", url, headers=[("x-api-key", API_KEY)], timeout={"read": 0.3})
        with raw_server(_garbage) as url, pytest.raises(httpx2.RemoteProtocolError):
            await transport.fetch("POST", url, headers=[], content=b"{}")
    finally:
        await transport.aclose()
    assert API_KEY not in str(caught.value)
