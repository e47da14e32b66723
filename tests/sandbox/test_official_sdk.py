"""The official Python SDK, record-assessment-backend 2.0.4, unmodified, against the sandbox."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from record_assessment_backend import AssessmentClient

from assessment_asgi.sandbox import SandboxApp
from tests._servers import Server, serve

from .conftest import Running


def _client(sandbox: Running, **overrides: str) -> AssessmentClient:
    options = {
        "api_key": sandbox.api_key,
        "secret_key": sandbox.secret_key,
        "base_url": sandbox.platform_url,
        "webhook_base_url": sandbox.platform_url,
    }
    options.update(overrides)
    return AssessmentClient(**options, timeout=10.0)


def _jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(segment: str) -> dict[str, Any]:
        padded = segment + "=" * (-len(segment) % 4)
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
        return decoded

    header, payload, _ = token.split(".")
    return part(header), part(payload)


def _expires(value: str) -> datetime:
    assert value.endswith("Z")
    assert len(value) == len("2026-11-28T10:15:00.000Z")
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _open(sandbox: Running, token: str) -> httpx2.Response:
    return httpx2.post(f"{sandbox.url}/portal/open", json={"token": token})


def test_create_session_bulk_gives_an_hs256_token_valid_15_minutes(sandbox: Running) -> None:
    users = [{"name": "Priya Sharma", "email": "priya@example.com"},
             {"name": "Jon Park", "email": "jon@example.com"}]
    before = datetime.now(UTC)
    result = _client(sandbox).create_session(users=users, recruiter_email="rec@example.com")

    header, claims = _jwt_parts(result["token"])
    assert header["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == 900
    expires = _expires(result["expiresAt"])
    assert before + timedelta(minutes=14) < expires <= datetime.now(UTC) + timedelta(minutes=15)

    opened = _open(sandbox, result["token"]).json()["data"]
    assert [(c["name"], c["email"]) for c in opened["candidates"]] == [
        ("Priya Sharma", "priya@example.com"), ("Jon Park", "jon@example.com")]
    assert opened["recruiter"] == {"id": None, "email": "rec@example.com"}


def test_create_session_single_mode_with_null_candidate_id(sandbox: Running) -> None:
    # SDK 2.0.4 sends "candidateId": null when no id is given.
    result = _client(sandbox).create_session(
        name="Jane Doe", email="jane@example.com", recruiter_id="rec_42", workflow_id="wf_1"
    )
    opened = _open(sandbox, result["token"]).json()["data"]
    assert [(c["name"], c["email"]) for c in opened["candidates"]] == [
        ("Jane Doe", "jane@example.com")]
    assert opened["candidates"][0]["id"].startswith("cand_")
    assert opened["recruiter"] == {"id": "rec_42", "email": None}


def test_create_session_single_mode_keeps_the_given_candidate_id(sandbox: Running) -> None:
    result = _client(sandbox).create_session(
        candidate_id="6a27ad8a55617702aa91b823", name="Jane", email="jane@example.com",
        recruiter_email="rec@example.com",
    )
    opened = _open(sandbox, result["token"]).json()["data"]
    assert opened["candidates"][0]["id"] == "6a27ad8a55617702aa91b823"


def test_create_campaign_answers_the_documented_fields_and_queues_campaign_generated(
    sandbox: Running,
) -> None:
    client = _client(sandbox)
    campaign = client.create_campaign(
        workflow_id="wf_123", method="programming",
        users=[{"name": "A One", "email": "a@example.com"},
               {"name": "B Two", "email": "b@example.com"}],
        job_title="Backend Engineer", experience="3", level="2-5",
    )
    assert campaign["workflowId"] == "wf_123"
    assert campaign["method"] == "programming"
    assert campaign["totalCandidates"] == 2
    assert campaign["totalMarks"] == 100
    assert campaign["totalQuestions"] > 0
    assert campaign["assessmentLink"].startswith(sandbox.url + "/assessment/")
    assert httpx2.get(campaign["assessmentLink"]).status_code == 200

    links = client.get_assessment_links()
    assert len(links["events"]) == 1
    event = links["events"][0]
    assert event["event"] == "campaign.generated"
    for field in ("workflowId", "assessmentId", "assessmentLink", "method", "candidates",
                  "totalCandidates", "jobTitle", "experience", "level", "skills", "orgId"):
        assert field in event, field
    assert event["assessmentId"] == campaign["assessmentId"]
    assert event["assessmentLink"] == campaign["assessmentLink"]
    assert event["jobTitle"] == "Backend Engineer"
    assert [c["email"] for c in event["candidates"]] == ["a@example.com", "b@example.com"]

    assert client.acknowledge_assessment_links([event["eventId"]]) == {"acknowledged": 1}
    assert client.get_webhook_events() == {"events": [], "pendingCount": 0}


def test_create_campaign_single_candidate(sandbox: Running) -> None:
    campaign = _client(sandbox).create_campaign(
        workflow_id="wf_1", method="knowledge", name="Jane", email="jane@example.com"
    )
    assert campaign["totalCandidates"] == 1
    assert campaign["method"] == "knowledge"


def test_list_assessments_is_signed_and_lists_campaigns(sandbox: Running) -> None:
    client = _client(sandbox)
    assert client.list_assessments() == []
    campaign = client.create_campaign(
        workflow_id="wf_1", method="knowledge", name="Jane", email="jane@example.com"
    )
    listed = client.list_assessments()
    assert [item["assessmentId"] for item in listed] == [campaign["assessmentId"]]


def test_results_flow_poll_and_acknowledge(sandbox: Running) -> None:
    client = _client(sandbox)
    session = client.create_session(
        users=[{"name": "Priya Sharma", "email": "priya@example.com"}],
        recruiter_email="rec@example.com",
    )
    opened = _open(sandbox, session["token"]).json()["data"]
    done = httpx2.post(
        f"{sandbox.url}/portal/complete",
        json={"assessmentId": opened["assessmentId"],
              "candidateId": opened["candidates"][0]["id"],
              "candidateKey": opened["candidates"][0]["key"], "score": 78},
    )
    assert done.status_code == 200

    results = client.get_assessment_results()
    assert len(results["events"]) == 1
    event = results["events"][0]
    assert event["event"] == "assessment.completed"
    assert event["candidateEmail"] == "priya@example.com"
    assert event["score"] == 78
    assert event["passed"] is True

    everything = client.get_webhook_events()
    assert [e["eventId"] for e in everything["events"]] == [event["eventId"]]
    assert client.acknowledge_assessment_results([event["eventId"]]) == {"acknowledged": 1}
    # Already acknowledged: skipped silently.
    assert client.acknowledge_webhook_events([event["eventId"]]) == {"acknowledged": 0}
    assert client.get_assessment_results() == {"events": [], "pendingCount": 0}


def test_limit_and_pending_count_drain_the_queue(sandbox: Running) -> None:
    client = _client(sandbox)
    for n in range(5):
        client.create_campaign(
            workflow_id="wf_1", method="knowledge", name=f"C {n}", email=f"c{n}@example.com"
        )
    first = client.get_webhook_events(limit=2)
    assert len(first["events"]) == 2
    assert first["pendingCount"] == 3
    client.acknowledge_webhook_events([e["eventId"] for e in first["events"]])
    rest = client.get_webhook_events(limit=10)
    assert len(rest["events"]) == 3
    assert rest["pendingCount"] == 0


def test_since_returns_only_newer_events(sandbox: Running) -> None:
    client = _client(sandbox)
    client.create_campaign(workflow_id="wf", method="knowledge", name="A", email="a@example.com")
    first = client.get_webhook_events()["events"][0]
    stored_ms = int(_expires(first["storedAt"]).timestamp() * 1000)
    assert client.get_webhook_events(since=stored_ms)["events"] == []
    assert len(client.get_webhook_events(since=stored_ms - 1)["events"]) == 1


def test_wrong_keys_are_refused_with_the_sdk_error(sandbox: Running) -> None:
    wrong_api = _client(sandbox, api_key="wc_ak_test_wrong")
    with pytest.raises(RuntimeError, match="Invalid API key"):
        wrong_api.create_session(name="J", email="j@example.com", recruiter_id="r")
    with pytest.raises(RuntimeError, match="Invalid API key"):
        wrong_api.get_webhook_events()
    wrong_secret = _client(sandbox, secret_key="wc_sk_test_wrong")
    with pytest.raises(RuntimeError, match="secret"):
        wrong_secret.create_campaign(workflow_id="w", method="knowledge", name="J",
                                     email="j@example.com")
    with pytest.raises(RuntimeError, match="signature"):
        wrong_secret.list_assessments()


def test_validation_errors_reach_the_sdk_as_readable_messages(sandbox: Running) -> None:
    client = _client(sandbox)
    # The SDK checks these itself, so call the raw endpoint for what the platform checks.
    with pytest.raises(RuntimeError, match="email"):
        client.create_session(users=[{"name": "No Email"}], recruiter_id="r")
    with pytest.raises(RuntimeError, match="email"):
        client.create_session(name="J", email="not-an-email", recruiter_id="r")


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "hypercorn-trio"])
def test_every_method_on_every_server(server: Server) -> None:
    app = SandboxApp()
    with serve(app, server) as url:
        running = Running(app, url)
        client = _client(running)
        session = client.create_session(
            users=[{"name": "A", "email": "a@example.com"}], recruiter_id="r"
        )
        opened = _open(running, session["token"])
        assert opened.status_code == 200
        campaign = client.create_campaign(
            workflow_id="wf", method="programming", name="B", email="b@example.com"
        )
        listed = {a["assessmentId"]: a["type"] for a in client.list_assessments()}
        assert listed == {opened.json()["data"]["assessmentId"]: "session",
                          campaign["assessmentId"]: "campaign"}
        links = client.get_assessment_links()
        assert client.acknowledge_webhook_events([e["eventId"] for e in links["events"]]) == {
            "acknowledged": 1}
        assert client.get_assessment_results()["events"] == []
