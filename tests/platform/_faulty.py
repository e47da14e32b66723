"""Raw TCP servers on 127.0.0.1 that misbehave on purpose (refuse, stall, drip, truncate...).

Each connection is served in a thread by a ``behaviour(conn, server)`` function after the
request has been read; every request head is recorded so tests can count attempts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

Behaviour = Callable[[socket.socket, "FaultServer"], None]


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if not any(k.lower() == "content-type" for k in headers or {}):
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class FaultServer:
    """A listening socket whose connections get ``behaviour`` after their request."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(30)
            request = _read_request(conn)
            if not request:
                return
            self.requests.append(request)
            self.behaviour(conn, self)

    def __enter__(self) -> FaultServer:
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for thread in self._threads:
            thread.join(5)


@contextlib.contextmanager
def refusing() -> Iterator[str]:
    """A base URL on a port where nothing listens: every connection is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # bound then closed, never listening: the kernel answers RST
    yield f"http://127.0.0.1:{port}/api/v1"


# ── behaviours ──────────────────────────────────────────────────────────────────


def answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> Behaviour:
    def behaviour(conn: socket.socket, server: FaultServer) -> None:
        conn.sendall(response(status, body, headers))

    return behaviour


def sequence(*behaviours: Behaviour) -> Behaviour:
    """The n-th request gets the n-th behaviour (the last one repeats)."""

    def behaviour(conn: socket.socket, server: FaultServer) -> None:
        index = min(len(server.requests), len(behaviours)) - 1
        behaviours[index](conn, server)

    return behaviour


def stall(conn: socket.socket, server: FaultServer) -> None:
    """Read the request, never answer."""
    server.stop.wait(30)


def drip(conn: socket.socket, server: FaultServer) -> None:
    """Headers at once, then one body byte every 0.2 s: no single read ever times out."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    while not server.stop.wait(0.2):
        conn.sendall(b" ")


def truncate(conn: socket.socket, server: FaultServer) -> None:
    """Promise 1,000 bytes, send 20, hang up."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        b'{"success": true, "d'
    )


def huge_chunked(conn: socket.socket, server: FaultServer) -> None:
    """An endless chunked JSON body without Content-Length."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b'{"success": true, "data": ["' + b"x" * 65536
    with contextlib.suppress(OSError):
        for _ in range(4096):  # 256 MiB at most; the client must hang up long before
            if server.stop.is_set():
                return
            conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            chunk = b"x" * 65536
            time.sleep(0)
