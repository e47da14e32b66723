"""Real servers on loopback for the test suite.

``serve(app)`` runs an ASGI app under uvicorn (or hypercorn, on asyncio or trio) in a
background thread, bound to 127.0.0.1 on a free port, and yields its base URL. Nothing
here is a fake: the app answers real HTTP over a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

Server = Literal["uvicorn", "hypercorn", "hypercorn-trio"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"server on port {port} did not start within {timeout}s")


@contextlib.contextmanager
def _uvicorn(app: Any, port: int, lifespan: str) -> Iterator[None]:
    import uvicorn

    # log_config=None: uvicorn leaves logging alone (its default config stops its loggers
    # propagating), so its records reach the root logger and the canary check in
    # tests/_canary.py; no log_level, so they are created at DEBUG like every other record.
    # http/loop named: with the bench group installed (httptools, uvloop), uvicorn's "auto"
    # would pick another parser and loop, and the suite would test another server.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, log_level=None, lifespan=lifespan,
        access_log=False, http="h11", loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def _hypercorn(app: Any, port: int, use_trio: bool) -> Iterator[None]:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    # A Logger instance is used as it is: hypercorn's error log propagates to the root logger
    # and the canary check in tests/_canary.py, instead of going to stderr unscanned.
    config.errorlog = logging.getLogger("hypercorn.error")
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            if use_trio:
                import trio
                from hypercorn.trio import serve as trio_serve

                async def trigger_trio() -> None:
                    while not stop.is_set():
                        await trio.sleep(0.02)

                trio.run(lambda: trio_serve(app, config, shutdown_trigger=trigger_trio))
            else:
                from hypercorn.asyncio import serve as asyncio_serve

                async def trigger_asyncio() -> None:
                    while not stop.is_set():
                        await asyncio.sleep(0.02)

                asyncio.run(asyncio_serve(app, config, shutdown_trigger=trigger_asyncio))
        except BaseException as exc:  # surfaced to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"hypercorn:{port}", daemon=True)
    thread.start()
    try:
        _wait_for_port(port)
        yield
    finally:
        stop.set()
        thread.join(10)
        if failure:
            raise failure[0]


@contextlib.contextmanager
def serve(app: Any, server: Server = "uvicorn", *, lifespan: str = "auto") -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL (no trailing slash)."""
    port = free_port()
    if server == "uvicorn":
        ctx = _uvicorn(app, port, lifespan)
    else:
        ctx = _hypercorn(app, port, use_trio=server == "hypercorn-trio")
    with ctx:
        yield f"http://127.0.0.1:{port}"
