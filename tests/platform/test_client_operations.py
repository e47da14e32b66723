"""Every operation of the wire contract, against the stand-in and against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from assessment_asgi.platform import (
    Campaign,
    Credentials,
    EventBatch,
    SmartAIAuthError,
    SmartAIClient,
)
from assessment_asgi.sandbox import SandboxApp
from tests._fake import API_KEY, SECRET, FakeAPI, build_app, completed_event
from tests._servers import serve

from ._engine_runs import pytest_generate_tests  # noqa: F401 - runs engine_name tests per engine

CREDS = Credentials(API_KEY, SECRET)


@pytest.fixture
def standin() -> Iterator[tuple[FakeAPI, str]]:
    state = FakeAPI()
    with serve(build_app(state)) as base:
        yield state, f"{base}/api/v1"


@pytest.mark.anyio
async def test_campaign_keeps_unknown_fields_and_sends_only_given_options(
    standin: tuple[FakeAPI, str],
) -> None:
    state, base_url = standin
    async with SmartAIClient(base_url=base_url, credentials=CREDS) as client:
        campaign = await client.create_campaign(
            workflow_id="wf_1", method="knowledge", name="Ada", email="ada@x.io", level="2-5"
        )
    assert isinstance(campaign, Campaign)
    assert campaign.assessment_link == "http://portal.invalid/a/as_1"
    assert campaign.total_questions == 10
    assert campaign.model_extra == {"brandNewField": {"x": 1}}
    (seen,) = state.calls("/campaigns")
    assert seen.json() == {
        "workflowId": "wf_1",
        "method": "knowledge",
        "name": "Ada",
        "email": "ada@x.io",
        "level": "2-5",
    }
    assert seen.headers["x-secret-key"] == SECRET


@pytest.mark.anyio
async def test_campaign_method_is_checked_before_sending(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    client = SmartAIClient(base_url=base_url, credentials=CREDS)
    with pytest.raises(ValueError, match="method"):
        await client.create_campaign(
            workflow_id="wf",
            method="essay",
            name="A",
            email="a@x.io",  # type: ignore[arg-type]
        )
    assert state.seen == []


@pytest.mark.anyio
async def test_list_assessments_is_signed_over_the_base_url_path(engine_name: str) -> None:
    """The signed path follows the base URL (here a gateway prefix), not a literal /api/v1."""
    state = FakeAPI()
    with serve(build_app(state, prefix="/gateway/smartai/api/v1")) as base:
        async with SmartAIClient(
            base_url=f"{base}/gateway/smartai/api/v1", credentials=CREDS, engine=engine_name
        ) as client:
            items = await client.list_assessments()
            bad = SmartAIClient(
                base_url=f"{base}/gateway/smartai/api/v1",
                credentials=Credentials(API_KEY, "wc_sk_test_wrong"),
                engine=engine_name,
            )
            with pytest.raises(SmartAIAuthError):
                await bad.list_assessments()
            await bad.aclose()
    assert [item.id for item in items] == ["as_1"]
    assert items[0].model_extra == {"title": "Backend"}
    seen = state.calls("/assessments")[0]
    assert seen.headers["x-timestamp"].isdigit()
    assert len(seen.headers["x-signature"]) == 64
    assert "x-secret-key" not in seen.headers  # the secret only signs this call


@pytest.mark.anyio
async def test_poll_and_ack_in_chunks_of_100(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [completed_event(n) for n in range(250)]
    async with SmartAIClient(base_url=base_url, credentials=CREDS) as client:
        batch = await client.poll_events(limit=100, since=5)
        everything = [e.event_id for e in batch.events] + [f"evt_{n}" for n in range(100, 250)]
        result = await client.acknowledge_events(everything + everything[:10])  # duplicates
        empty = await client.acknowledge_events([])
        after = await client.poll_events()
    assert isinstance(batch, EventBatch)
    assert len(batch.events) == 100
    assert batch.pending_count == 150
    first = batch.events[0]
    assert (first.event_id, first.type, first.score, first.passed) == (
        "evt_0",
        "assessment.completed",
        80,
        True,
    )
    assert first.payload()["candidateEmail"] == "candidate0@example.com"
    assert "candidate0@example.com" not in repr(first)
    assert result.acknowledged == 250
    assert empty.acknowledged == 0
    assert after.events == []
    assert after.pending_count == 0
    acks = state.calls("/webhook/events/ack")
    assert [len(a.json()["eventIds"]) for a in acks] == [100, 100, 50]
    polls = state.calls("/webhook/events")
    assert polls[0].query == {"limit": "100", "since": "5"}
    assert polls[0].headers["x-api-key"] == API_KEY
    assert "x-secret-key" not in polls[0].headers


@pytest.mark.anyio
async def test_the_queue_can_live_on_another_base_url(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    queue_state = FakeAPI(queue=[completed_event(1)])
    with serve(build_app(queue_state, prefix="/api")) as queue_base:
        async with SmartAIClient(
            base_url=base_url, queue_base_url=f"{queue_base}/api", credentials=CREDS
        ) as client:
            batch = await client.poll_events()
    assert [e.event_id for e in batch.events] == ["evt_1"]
    assert state.seen == []
    assert queue_state.calls("/api/webhook/events")


@pytest.mark.anyio
async def test_events_without_an_id_are_skipped_not_fatal(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [{"event": "assessment.completed"}, completed_event(2)]  # type: ignore[list-item]
    state.queue[0]["eventId"] = None
    async with SmartAIClient(base_url=base_url, credentials=CREDS) as client:
        batch = await client.poll_events()
    assert [e.event_id for e in batch.events] == ["evt_2"]


@pytest.mark.anyio
async def test_an_injected_http_client_is_used_and_left_open(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    async with httpx2.AsyncClient() as http:
        client = SmartAIClient(base_url=base_url, credentials=CREDS, http_client=http)
        await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
        await client.aclose()
        assert not http.is_closed
        await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
    assert len(state.calls("/sessions")) == 2


# ── against the embedded sandbox ────────────────────────────────────────────────


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = SandboxApp()
    with serve(app) as url:
        yield app, url


@pytest.mark.anyio
async def test_every_operation_against_the_sandbox(sandbox: tuple[SandboxApp, str], engine_name: str) -> None:
    app, url = sandbox
    async with SmartAIClient(
        base_url=SandboxApp.platform_url(url), credentials=app.credentials, engine=engine_name
    ) as client:
        tok = await client.create_session(
            users=[{"name": "Ada", "email": "ada@example.com"}], recruiter_id="rec-1"
        )
        single = await client.create_session(
            name="Bob", email="bob@example.com", recruiter_email="rec@example.com"
        )
        campaign = await client.create_campaign(
            workflow_id="wf_1", method="programming", users=[{"name": "C", "email": "c@x.io"}]
        )
        listed = await client.list_assessments()
        # A candidate finishes in the portal: the sandbox queues assessment.completed.
        async with httpx2.AsyncClient(base_url=url) as browser:
            opened = (await browser.post("/portal/open", json={"token": tok.token})).json()
            session = opened["data"]
            done = await browser.post(
                "/portal/complete",
                json={
                    "assessmentId": session["assessmentId"],
                    "candidateId": session["candidates"][0]["id"],
                    "candidateKey": session["candidates"][0]["key"],
                    "score": 77,
                },
            )
            assert done.status_code == 200, done.text
        batch = await client.poll_events()
        completed = [e for e in batch.events if e.type == "assessment.completed"]
        acked = await client.acknowledge_events(batch.events)
        again = await client.poll_events()
    assert tok.token != single.token
    assert campaign.assessment_link
    assert campaign.assessment_id in {a.assessment_id for a in listed}
    assert [(e.candidate_email, e.score) for e in completed] == [("ada@example.com", 77)]
    assert acked.acknowledged == len(batch.events)
    assert again.events == []


@pytest.mark.anyio
async def test_sandbox_refuses_wrong_keys_as_an_auth_error(sandbox: tuple[SandboxApp, str]) -> None:
    _, url = sandbox
    wrong = Credentials("wc_ak_test_nope", "wc_sk_test_nope")
    async with SmartAIClient(base_url=SandboxApp.platform_url(url), credentials=wrong) as client:
        with pytest.raises(SmartAIAuthError) as caught:
            await client.poll_events()
    assert caught.value.status_code == 401
    assert caught.value.platform_message == "Invalid API key"
