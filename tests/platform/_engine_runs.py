"""Shared by the engine tests. A test that takes ``engine_name`` runs once per engine: every
engine on asyncio, httpx2 and httpx on trio (aiohttp and pyreqwest are asyncio-only). A module
opts in with ``from ._engine_runs import pytest_generate_tests``."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

ENGINE_RUNS = [
    ("asyncio", "aiohttp"), ("asyncio", "pyreqwest"), ("asyncio", "httpx2"), ("asyncio", "httpx"),
    ("trio", "httpx2"), ("trio", "httpx"),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        metafunc.parametrize(
            ("anyio_backend", "engine_name"),
            ENGINE_RUNS,
            ids=[f"{backend}-{engine}" for backend, engine in ENGINE_RUNS],
        )


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


def silent_until_hang_up(
    received: threading.Event | None = None, hung_up: threading.Event | None = None
) -> Callable[[socket.socket], None]:
    """A `raw_server` handler that reads the request head (then sets `received`), never
    answers, and sets `hung_up` once the client closes the connection (30 s at most)."""

    def handle(conn: socket.socket) -> None:
        read_request_head(conn)
        if received is not None:
            received.set()
        conn.settimeout(30)
        with contextlib.suppress(OSError):
            while conn.recv(1024):
                pass
        if hung_up is not None:
            hung_up.set()

    return handle
