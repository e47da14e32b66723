"""The poller started from a real host's lifespan (uvicorn/asyncio and hypercorn/trio)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette

from assessment_asgi.platform import Event, ResultsPoller, SmartAIClient
from assessment_asgi.sandbox import SandboxApp
from tests._servers import Server, serve

from ._portal import candidates_finish

PEOPLE = [{"name": "Grace Hopper", "email": "grace@example.com"}]


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn-trio"])
def test_a_host_lifespan_runs_the_poller_and_stops_it(server: Server) -> None:
    sandbox = SandboxApp()
    received: list[str] = []
    arrived = threading.Event()
    stopped = threading.Event()

    with serve(sandbox) as sandbox_url:
        platform_url = SandboxApp.platform_url(sandbox_url)

        async def on_completed(event: Event) -> None:
            received.append(event.candidate_email or "")
            arrived.set()

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            client = SmartAIClient(base_url=platform_url, credentials=sandbox.credentials)
            async with client, ResultsPoller(client, {"assessment.completed": on_completed}, interval=5):
                yield
            stopped.set()

        host = Starlette(lifespan=lifespan)

        async def finish() -> Any:
            async with SmartAIClient(base_url=platform_url, credentials=sandbox.credentials) as client:
                return await candidates_finish(client, sandbox_url, PEOPLE)

        anyio.run(finish)
        with serve(host, server, lifespan="on") if server == "uvicorn" else serve(host, server):
            assert arrived.wait(20)  # the first poll, at start-up, finds the result
        assert stopped.wait(10)  # the host's shutdown ended the poller and closed the client
    assert received == ["grace@example.com"]
    assert sandbox.pending_events() == []
