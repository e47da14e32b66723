"""Construction, secrets hygiene, the public names, and asyncio/trio."""

from __future__ import annotations

import logging

import httpx2
import pytest

import assessment_asgi.sandbox as sandbox_module
from assessment_asgi.platform import Credentials
from assessment_asgi.sandbox import SandboxApp, generate_test_credentials
from tests._servers import Server, serve

from .conftest import Running


def test_public_names() -> None:
    assert sandbox_module.__all__ == sorted(sandbox_module.__all__)
    assert set(sandbox_module.__all__) == {
        "RecordedRequest", "RequestRecorder", "SandboxApp", "ScriptedAnswer",
        "generate_test_credentials",
    }


def test_generated_keys_are_test_keys_and_differ() -> None:
    first, second = SandboxApp().credentials, SandboxApp().credentials
    assert first.is_test
    assert first.api_key.get_secret_value().startswith("wc_ak_test_")
    assert first.secret_key.get_secret_value().startswith("wc_sk_test_")
    assert first.api_key.get_secret_value() != second.api_key.get_secret_value()
    assert generate_test_credentials().is_test


@pytest.mark.parametrize(
    ("api_key", "secret_key"),
    [("wc_ak_live_abc", "wc_sk_test_abc"), ("wc_ak_test_abc", "wc_sk_live_abc"),
     ("VFN_LIVE_abc", "VFN_SK_LIVE_abc")],
)
def test_live_looking_keys_are_refused_without_echoing_them(api_key: str, secret_key: str) -> None:
    with pytest.raises(ValueError, match="credentials") as caught:
        SandboxApp(credentials=Credentials(api_key, secret_key))
    assert "abc" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"token_ttl": 0}, ValueError, "token_ttl"),
        ({"token_ttl": "900"}, TypeError, "token_ttl"),
        ({"max_sessions": 0}, ValueError, "max_sessions"),
        ({"max_events": 1.5}, TypeError, "max_events"),
        ({"min_poll_interval": -1}, ValueError, "min_poll_interval"),
        ({"credentials": ("wc_ak_test_a", "wc_sk_test_b")}, TypeError, "credentials"),
        ({"max_sessions": True}, TypeError, "max_sessions"),
    ],
)
def test_settings_are_checked_at_construction(
    kwargs: dict[str, object], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        SandboxApp(**kwargs)  # type: ignore[arg-type]


def test_repr_never_shows_the_keys() -> None:
    app = SandboxApp()
    text = repr(app)
    assert app.credentials.api_key.get_secret_value() not in text
    assert app.credentials.secret_key.get_secret_value() not in text


def test_logs_carry_no_keys_tokens_names_or_emails(
    sandbox: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="assessment_asgi")
    session = httpx2.post(
        f"{sandbox.url}/api/v1/sessions", headers=sandbox.keys,
        json={"users": [{"name": "Secret Person", "email": "hidden@example.com"}],
              "recruiterEmail": "boss@example.com"},
    ).json()["data"]
    data = httpx2.post(f"{sandbox.url}/portal/open", json={"token": session["token"]}).json()
    httpx2.post(f"{sandbox.url}/portal/open", json={"token": session["token"]})
    httpx2.post(f"{sandbox.url}/portal/complete", json={
        "assessmentId": data["data"]["assessmentId"],
        "candidateId": data["data"]["candidates"][0]["id"],
        "candidateKey": data["data"]["candidates"][0]["key"]})
    httpx2.get(f"{sandbox.url}/api/v1/webhook/events", headers={"x-api-key": sandbox.api_key})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "session created" in logged  # the sandbox does log, just not the secrets
    for secret in (sandbox.api_key, sandbox.secret_key, session["token"], "Secret Person",
                   "hidden@example.com", "boss@example.com"):
        assert secret not in logged


@pytest.mark.anyio
@pytest.mark.parametrize("server", ["uvicorn", "hypercorn-trio"])
async def test_async_clients_on_asyncio_and_trio_with_a_slow_campaign(server: Server) -> None:
    # campaign_delay sleeps through anyio, so it must work under a trio server too.
    app = SandboxApp(campaign_delay=0.05)
    with serve(app, server) as url:
        running = Running(app, url)
        async with httpx2.AsyncClient(base_url=url, headers=running.keys) as client:
            campaign = await client.post("/api/v1/campaigns", json={
                "workflowId": "w", "method": "programming", "name": "J",
                "email": "j@example.com"})
            assert campaign.status_code == 200
            polled = await client.get("/api/webhook/events")
            assert polled.json()["data"]["pendingCount"] == 0
            assert len(polled.json()["data"]["events"]) == 1
