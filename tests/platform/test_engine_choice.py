"""Choosing an engine through the client: by keyword or ``ASSESSMENT_ENGINE``, named in
``on_call``, one per event loop and per process, closed with the client, and a caller's
cancel scope honoured on every engine."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import threading
import warnings
from collections.abc import Iterator

import anyio
import httpx2
import pytest

from assessment_asgi._exceptions import ConfigurationError
from assessment_asgi.platform import Credentials, PlatformCall, SmartAIClient, Timeout, _engines
from assessment_asgi.platform._engines import Engine

from ._engine_runs import (
    pytest_generate_tests,  # noqa: F401 - runs engine_name tests per engine
    raw_server,
    read_request_head,
)
from ._faulty import FaultServer, answer

OK_SESSION = b'{"success": true, "data": {"token": "t", "expiresAt": "x"}}'


def test_a_new_event_loop_gets_a_new_engine_without_warnings() -> None:
    seen: list[PlatformCall] = []
    with _faulty_server(OK_SESSION) as base_url:
        for engine in ("aiohttp", "pyreqwest", "httpx2", "httpx"):
            client = SmartAIClient(base_url=base_url, credentials=CREDS, engine=engine, on_call=seen.append)

            async def call(client: SmartAIClient = client) -> str:
                token = await client.create_session(name="A", email="a@x.io", recruiter_id="r")
                return token.token

            with warnings.catch_warnings():
                warnings.simplefilter("error")
                assert asyncio.run(call()) == "t"  # the first loop ends with its engine open
                assert asyncio.run(call()) == "t"
                gc.collect()
            assert client._pool.active == 0  # each loop closed its engine on shutdown
    assert [call.engine for call in seen] == (
        ["aiohttp"] * 2 + ["pyreqwest"] * 2 + ["httpx2"] * 2 + ["httpx"] * 2
    )


@pytest.mark.anyio
async def test_calls_name_the_engine_that_carried_them(anyio_backend: str) -> None:
    seen: list[PlatformCall] = []
    with _faulty_server(OK_SESSION) as base_url:
        for engine in (None, "aiohttp", "pyreqwest", "httpx2", "httpx"):
            async with SmartAIClient(
                base_url=base_url, credentials=CREDS, engine=engine, on_call=seen.append
            ) as client:
                await client.create_session(name="A", email="a@x.io", recruiter_id="r")
    # The default is aiohttp on asyncio; on trio the asyncio-only engines fall back to httpx2.
    expected = (
        ["aiohttp", "aiohttp", "pyreqwest", "httpx2", "httpx"] if anyio_backend == "asyncio"
        else ["httpx2"] * 4 + ["httpx"]
    )
    assert [call.engine for call in seen] == expected


def test_an_engine_is_checked_when_the_client_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="engine must be one of aiohttp, pyreqwest, httpx2"):
        SmartAIClient(base_url="https://platform.example/api/v1", engine="curl")
    with pytest.raises(ValueError, match="http_client or transport"):
        SmartAIClient(
            base_url="https://platform.example/api/v1", engine="pyreqwest", transport=httpx2.MockTransport(
                lambda request: httpx2.Response(200)
            ),
        )
    # An optional engine that is not installed names the extra that installs it.
    monkeypatch.setattr(_engines, "_installed", lambda name: name != "pyreqwest")
    with pytest.raises(ConfigurationError, match=r"pip install 'assessment-asgi\[pyreqwest\]'"):
        SmartAIClient(base_url="https://platform.example/api/v1", engine="pyreqwest")


CREDS = Credentials("wc_ak_test_engines", "wc_sk_test_engines")


@contextlib.contextmanager
def _faulty_server(body: bytes) -> Iterator[str]:
    with FaultServer(answer(200, body)) as server:
        yield server.base_url


@pytest.mark.anyio
async def test_aclose_closes_the_engine_and_the_next_call_builds_a_new_one(engine_name: str) -> None:
    with _faulty_server(OK_SESSION) as base_url:
        client = SmartAIClient(base_url=base_url, credentials=CREDS, engine=engine_name)
        first = client._pool.get()
        assert (await client.create_session(name="A", email="a@x.io", recruiter_id="r")).token == "t"
        await client.aclose()
        assert client._pool.active == 0
        assert (await client.create_session(name="A", email="a@x.io", recruiter_id="r")).token == "t"
        assert client._pool.get() is not first
        await client.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_app_takes_its_engine_from_assessment_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from assessment_asgi import AssessmentApp

    with _faulty_server(OK_SESSION) as base_url:
        monkeypatch.setenv("ASSESSMENT_ENGINE", "pyreqwest")
        monkeypatch.setenv("ASSESSMENT_BASE_URL", base_url)
        client = AssessmentApp().client
        assert client.engine == "pyreqwest"
        token = await client.create_session(name="A", email="a@x.io", recruiter_id="r", credentials=CREDS)
        assert token.token == "t"
        assert client._pool.get().name == "pyreqwest"
        await client.aclose()


@pytest.mark.anyio
async def test_a_callers_cancel_scope_ends_a_call_inside_its_deadline(engine_name: str) -> None:
    """The client's own deadline scope composes with the caller's: a cancel from outside
    ends the call at once and is not mistaken for (or swallowed as) the client's deadline."""
    received = threading.Event()

    def stall(conn: socket.socket) -> None:
        read_request_head(conn)
        received.set()
        threading.Event().wait(5)

    with raw_server(stall) as url:
        client = SmartAIClient(
            base_url=url, credentials=CREDS, engine=engine_name,
            timeout=Timeout(connect=5, read=30, deadline=30),
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.poll_events)
            assert await anyio.to_thread.run_sync(received.wait, 10)
            tg.cancel_scope.cancel()
        assert tg.cancel_scope.cancelled_caught
        await client.aclose()


@pytest.mark.parametrize("engine", ["aiohttp", "httpx2", "httpx"])
def test_after_fork_the_child_builds_its_own_engine(engine: str) -> None:
    """gunicorn --preload forks after the app is imported (and maybe used): the child must
    not touch the parent's pool. pyreqwest is left out: once its runtime has started in the
    parent, a child cannot build a client (pyreqwest 0.15 raises RuntimeError, upstream issue
    #51), a documented limit of that engine."""
    with _faulty_server(OK_SESSION) as base_url:
        client = SmartAIClient(base_url=base_url, credentials=CREDS, engine=engine)

        async def call() -> str:
            return (await client.create_session(name="A", email="a@x.io", recruiter_id="r")).token

        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(call()) == "t"  # the parent's pool is open
            parent_engine = loop.run_until_complete(_current_engine(client))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads, 3.12+
                pid = os.fork()
            if pid == 0:  # the child: a fresh loop, as a worker starts one
                code = 1
                try:
                    child_loop = asyncio.new_event_loop()
                    ok = child_loop.run_until_complete(call()) == "t"
                    fresh = child_loop.run_until_complete(_current_engine(client)) is not parent_engine
                    code = 0 if ok and fresh else 1
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            assert loop.run_until_complete(call()) == "t"  # the parent's pool still works
            loop.run_until_complete(client.aclose())
        finally:
            loop.close()


async def _current_engine(client: SmartAIClient) -> Engine:
    return client._pool.get()
