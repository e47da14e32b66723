"""Organisations: each key pair sees only what it created, through the official Python SDK."""

from __future__ import annotations

import httpx2
import pytest
from record_assessment_backend import AssessmentClient

from assessment_asgi import Credentials
from assessment_asgi.sandbox import SandboxApp, generate_test_credentials
from tests._servers import serve

from .conftest import Running


def _sdk(sandbox: Running, keys: Credentials) -> AssessmentClient:
    return AssessmentClient(
        api_key=keys.api_key.get_secret_value(),
        secret_key=keys.secret_key.get_secret_value(),
        base_url=sandbox.platform_url,
        webhook_base_url=sandbox.platform_url,
        timeout=10.0,
    )


def _finish_one(sandbox: Running, client: AssessmentClient, email: str) -> str:
    """A session through the SDK, opened and finished in the portal; its event's id."""
    session = client.create_session(
        users=[{"name": "Priya Sharma", "email": email}], recruiter_id="rec_1"
    )
    opened = httpx2.post(f"{sandbox.url}/portal/open", json={"token": session["token"]})
    data = opened.json()["data"]
    done = httpx2.post(
        f"{sandbox.url}/portal/complete",
        json={"assessmentId": data["assessmentId"], "candidateId": data["candidates"][0]["id"],
              "candidateKey": data["candidates"][0]["key"], "score": 80},
    )
    assert done.status_code == 200, done.text
    return str(done.json()["data"]["eventId"])


def test_two_organisations_never_see_each_others_events_sessions_or_acks(
    sandbox: Running,
) -> None:
    org_a = sandbox.app.credentials
    org_b = sandbox.app.add_organisation()
    a, b = _sdk(sandbox, org_a), _sdk(sandbox, org_b)

    event_a = _finish_one(sandbox, a, "a@example.com")
    a.create_campaign(workflow_id="wf_a", method="knowledge", name="A", email="ca@example.com")

    # B sees none of A's events or assessments.
    assert b.get_webhook_events() == {"events": [], "pendingCount": 0}
    assert b.list_assessments() == []
    # B acknowledging A's event id removes nothing from A's queue.
    assert b.acknowledge_webhook_events([event_a]) == {"acknowledged": 0}
    assert event_a in [e["eventId"] for e in a.get_webhook_events()["events"]]

    event_b = _finish_one(sandbox, b, "b@example.com")
    (seen_by_b,) = b.get_webhook_events()["events"]
    assert seen_by_b["eventId"] == event_b
    assert seen_by_b["candidateEmail"] == "b@example.com"
    assert [x["eventId"] for x in a.get_assessment_results()["events"]] == [event_a]
    assert event_b not in [e["eventId"] for e in a.get_webhook_events()["events"]]
    # Each organisation's events name their own organisation and key.
    (event_a_as_read,) = a.get_assessment_results()["events"]
    assert seen_by_b["orgId"] != event_a_as_read["orgId"]
    assert seen_by_b["keyId"] != event_a_as_read["keyId"]

    assert b.acknowledge_webhook_events([event_b]) == {"acknowledged": 1}
    assert sandbox.app.acknowledged_events(organisation=org_b) == [event_b]
    assert sandbox.app.acknowledged_events() == []
    own_queue = sandbox.app.pending_events()
    assert [e["event"] for e in own_queue] == ["assessment.completed", "campaign.generated"]
    assert own_queue[0]["eventId"] == event_a
    assert sandbox.app.pending_events(organisation=org_b) == []


def test_enqueue_reaches_only_the_named_organisation(sandbox: Running) -> None:
    org_b = sandbox.app.add_organisation()
    stored = sandbox.app.enqueue(
        {"eventId": "evt_b", "event": "assessment.completed"}, organisation=org_b
    )
    assert stored["eventId"] == "evt_b"
    sandbox.app.enqueue({"eventId": "evt_a", "event": "assessment.completed"})

    assert [e["eventId"] for e in _sdk(sandbox, org_b).get_webhook_events()["events"]] == ["evt_b"]
    assert [e["eventId"] for e in _sdk(sandbox, sandbox.app.credentials)
            .get_webhook_events()["events"]] == ["evt_a"]


def test_a_fast_poller_in_one_organisation_does_not_slow_another() -> None:
    app = SandboxApp(min_poll_interval=60)
    org_b = app.add_organisation()
    with serve(app, "uvicorn") as url:
        running = Running(app, url)
        a, b = _sdk(running, app.credentials), _sdk(running, org_b)
        assert a.get_webhook_events()["events"] == []
        with pytest.raises(RuntimeError, match="Polling too frequently"):
            a.get_webhook_events()
        assert b.get_webhook_events()["events"] == []  # B's first poll: not limited by A's


def test_the_organisations_keys_are_checked_and_never_echoed() -> None:
    app = SandboxApp()
    added = app.add_organisation()
    assert app.organisations == [app.credentials, added]
    with pytest.raises(ValueError, match="test keys only"):
        app.add_organisation(Credentials("wc_ak_live_x", "wc_sk_live_y"))
    with pytest.raises(ValueError, match="another organisation") as duplicate:
        app.add_organisation(added)
    stranger = generate_test_credentials()
    with pytest.raises(ValueError, match="no organisation") as unknown:
        app.enqueue({"event": "assessment.completed"}, organisation=stranger)
    with pytest.raises(ValueError, match="another organisation"):
        app.credentials = added  # rotating the own pair onto another organisation's
    for refused in (duplicate, unknown):
        for pair in (added, stranger):
            assert pair.api_key.get_secret_value() not in str(refused.value)
            assert pair.secret_key.get_secret_value() not in str(refused.value)


def test_reset_empties_every_organisation_and_keeps_their_keys(sandbox: Running) -> None:
    org_b = sandbox.app.add_organisation()
    sandbox.app.enqueue({"event": "assessment.completed"}, organisation=org_b)
    sandbox.app.reset()
    assert sandbox.app.pending_events(organisation=org_b) == []
    assert _sdk(sandbox, org_b).get_webhook_events() == {"events": [], "pendingCount": 0}
