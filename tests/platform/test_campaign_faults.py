"""``create_campaign`` in the fault matrix: a create that may have reached the platform is never
sent again (a retry could generate a second campaign and invite every candidate twice), while
``list_assessments``, a read, is retried on the same faults. Real misbehaving servers on
loopback (``_faulty.py``); each call is bounded by ``anyio.fail_after``."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
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
    SmartAIServerError,
    SmartAITimeoutError,
    Timeout,
)

from . import _faulty
from ._faulty import Behaviour, FaultServer, answer, sequence

pytestmark = pytest.mark.anyio

CREDS = Credentials("wc_ak_test_campaign", "wc_sk_test_campaign")
TIMEOUT = Timeout(connect=1.0, read=0.5, deadline=3.0)
RETRY = RetryPolicy(attempts=3, backoff=0.05, max_backoff=0.1, max_retry_after=2.0)


async def campaign(client: SmartAIClient) -> Any:
    return await client.create_campaign(
        workflow_id="wf_1", method="knowledge", users=[{"name": "Ada", "email": "ada@example.com"}],
        timeout=TIMEOUT,  # a campaign has its own long default deadline
    )


async def assessments(client: SmartAIClient) -> Any:
    return await client.list_assessments(timeout=TIMEOUT)


OPS: dict[str, Callable[[SmartAIClient], Awaitable[Any]]] = {
    "create_campaign": campaign, "list_assessments": assessments,
}


def reset(conn: socket.socket, server: FaultServer) -> None:
    """Read the request, then hang up with a TCP reset: it may have been acted upon."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


FAULTS: dict[str, tuple[Behaviour, type[SmartAIError]]] = {
    "stall": (_faulty.stall, SmartAITimeoutError),
    "502": (answer(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}), SmartAIServerError),
    "503": (answer(503, b"{}"), SmartAIServerError),
    "504": (answer(504, b"{}"), SmartAIServerError),
    "429": (answer(429, b"{}", {"Retry-After": "1"}), SmartAIRateLimitError),
    "reset": (reset, SmartAIConnectionError),
}


async def call(base_url: str, op: str) -> Any:
    client = SmartAIClient(base_url=base_url, credentials=CREDS, timeout=TIMEOUT, retry=RETRY)
    try:
        with anyio.fail_after(TIMEOUT.deadline + 5):
            return await OPS[op](client)
    finally:
        await client.aclose()


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_campaign_that_may_have_been_sent_is_never_sent_again(fault: str) -> None:
    behaviour, error = FAULTS[fault]
    with FaultServer(behaviour) as server, pytest.raises(error) as caught:
        await call(server.base_url, "create_campaign")
    assert caught.value.operation == "create_campaign"
    assert len(server.requests) == 1


@pytest.mark.parametrize("fault", ["stall", "503", "429"])
async def test_the_same_faults_are_retried_for_a_read(fault: str) -> None:
    """The matrix tells the two apart: a read is sent again on the same faults."""
    behaviour, _ = FAULTS[fault]
    empty = answer(200, b'{"success": true, "data": []}')
    with FaultServer(sequence(behaviour, empty)) as server:
        assert await call(server.base_url, "list_assessments") == []
    assert len(server.requests) == 2
