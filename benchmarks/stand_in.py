"""A minimal, fast stand-in for the platform's ``POST /api/v1/sessions`` (loopback only).

A raw asyncio protocol, no framework: keep-alive, Content-Length bodies, pipelining. It
answers 401 when ``x-api-key`` or ``x-secret-key`` is missing (so a variant that forgets the
keys shows up as errors), 404 for other paths, and otherwise the contract's success body.

    python benchmarks/stand_in.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

try:
    from benchmarks._common import STAND_IN_EXPIRES, STAND_IN_TOKEN
except ModuleNotFoundError:  # run as a script from benchmarks/
    from _common import STAND_IN_EXPIRES, STAND_IN_TOKEN  # type: ignore[no-redef]


def _response(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


OK = _response(
    "200 OK",
    json.dumps(
        {"success": True, "data": {"token": STAND_IN_TOKEN, "expiresAt": STAND_IN_EXPIRES}},
        separators=(",", ":"),
    ).encode(),
)
UNAUTHORIZED = _response("401 Unauthorized", b'{"success":false,"error":"Invalid API key"}')
NOT_FOUND = _response("404 Not Found", b'{"success":false,"error":"Not found"}')


class _Session(asyncio.Protocol):
    __slots__ = ("buffer", "transport")

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        out = []
        close = False
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end].lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else None])
            if len(buffer) < end + 4 + length:
                break
            buffer = buffer[end + 4 + length :]
            if not head.startswith(b"post /api/v1/sessions "):
                out.append(NOT_FOUND)
            elif b"\r\nx-api-key:" in head and b"\r\nx-secret-key:" in head:
                out.append(OK)
            else:
                out.append(UNAUTHORIZED)
            if b"\r\nconnection: close" in head:
                close = True
                break
        self.buffer = buffer
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
            if close:
                self.transport.close()


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Session, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    asyncio.run(main(parser.parse_args().port))
