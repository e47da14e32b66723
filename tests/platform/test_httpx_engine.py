"""The httpx engine: a backend's own ``httpx.AsyncClient`` (or transport) carries the calls,
and respx mocks the platform through it, as the backend's tests already do for httpx.

The real-server matrices (tests/platform/test_faults.py, test_engines.py) run on this engine
too; here is what only an injected client shows."""

from __future__ import annotations

import json

import httpx
import httpx2
import pytest
import respx

from assessment_asgi.platform import (
    Credentials,
    PlatformCall,
    RetryPolicy,
    SmartAIAuthError,
    SmartAIClient,
    SmartAIServerError,
)

# Loopback: even if respx missed a request, nothing could leave the machine.
BASE = "http://127.0.0.1:9/api/v1"
CREDS = Credentials("wc_ak_test_httpx_engine", "wc_sk_test_httpx_engine")
TOKEN = {"success": True, "data": {"token": "tok-1", "expiresAt": "2030-01-01T00:00:00Z"}}
EVENTS = {"status": "success", "code": 200, "data": {"events": [], "pendingCount": 4}}
RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.02)


@pytest.mark.anyio
async def test_respx_mocks_the_platform_through_an_injected_httpx_client() -> None:
    seen: list[PlatformCall] = []
    with respx.mock(base_url=BASE, assert_all_called=True) as platform:
        route = platform.post("/sessions").respond(200, json=TOKEN)
        async with httpx.AsyncClient(headers={"x-backend": "ours"}) as http:
            client = SmartAIClient(base_url=BASE, credentials=CREDS, http_client=http, on_call=seen.append)
            token = await client.create_session(name="Ada", email="ada@example.com", recruiter_id="r-1")
            await client.aclose()
            assert not http.is_closed  # the caller's client is never closed by ours
    assert (token.token, client.engine) == ("tok-1", None)
    assert [call.engine for call in seen] == ["httpx"]
    request = route.calls.last.request
    assert request.headers["x-api-key"] == "wc_ak_test_httpx_engine"
    assert request.headers["x-secret-key"] == "wc_sk_test_httpx_engine"
    assert request.headers["x-backend"] == "ours"  # the caller's own client configuration
    assert json.loads(request.content) == {"name": "Ada", "email": "ada@example.com", "recruiterId": "r-1"}


@pytest.mark.anyio
async def test_respx_answers_are_classified_and_retried_as_on_every_engine() -> None:
    with respx.mock(base_url=BASE) as platform:
        create = platform.post("/sessions").respond(503, json={"success": False, "error": "busy"})
        poll = platform.get("/webhook/events").mock(side_effect=[
            httpx.Response(503), httpx.Response(502), httpx.Response(200, json=EVENTS),
        ])
        refused = platform.get("/assessments").respond(401, json={"message": "bad key"})
        async with httpx.AsyncClient() as http:
            client = SmartAIClient(base_url=BASE, credentials=CREDS, http_client=http, retry=RETRY)
            with pytest.raises(SmartAIServerError) as failed:
                await client.create_session(name="Ada", email="ada@example.com", recruiter_id="r-1")
            batch = await client.poll_events()
            with pytest.raises(SmartAIAuthError):
                await client.list_assessments()
    assert (failed.value.status_code, failed.value.platform_message) == (503, "busy")
    assert create.call_count == 1  # a create that may have reached the platform is never repeated
    assert (batch.pending_count, poll.call_count) == (4, 3)  # a read is retried
    assert refused.call_count == 1
    assert "x-signature" in refused.calls.last.request.headers


@pytest.mark.anyio
async def test_an_injected_httpx_transport_carries_the_calls_in_our_own_pool() -> None:
    seen: list[PlatformCall] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["user-agent"].startswith("assessment-asgi")  # our pool's headers
        return httpx.Response(200, json=EVENTS)

    client = SmartAIClient(
        base_url=BASE, credentials=CREDS, transport=httpx.MockTransport(handler), on_call=seen.append
    )
    assert (await client.poll_events()).pending_count == 4
    await client.aclose()
    assert [call.engine for call in seen] == ["httpx"]


def test_what_an_injected_client_or_transport_may_be() -> None:
    with pytest.raises(TypeError, match=r"httpx2\.AsyncClient or an httpx\.AsyncClient"):
        SmartAIClient(base_url=BASE, http_client=httpx.Client())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"httpx2\.AsyncBaseTransport or an httpx\.AsyncBaseTransport"):
        SmartAIClient(base_url=BASE, transport=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="httpx's: leave engine unset or pass engine='httpx'"):
        SmartAIClient(base_url=BASE, engine="httpx2", http_client=httpx.AsyncClient())
    with pytest.raises(ValueError, match="httpx2's"):
        SmartAIClient(
            base_url=BASE, engine="httpx",
            transport=httpx2.MockTransport(lambda request: httpx2.Response(200)),
        )
    assert SmartAIClient(base_url=BASE, engine="httpx", http_client=httpx.AsyncClient()).engine == "httpx"
