"""The older official SDK, smartai-assessment-backend 1.0.2: queue under /api, {success, data}."""

from __future__ import annotations

import httpx2
import pytest
from smartai_assessment_backend import AssessmentClient

from .conftest import Running


def _client(sandbox: Running) -> AssessmentClient:
    client = AssessmentClient(
        api_key=sandbox.api_key, secret_key=sandbox.secret_key, base_url=sandbox.platform_url
    )
    # 1.0.2 has no option for the queue host (it is hard-coded to a remote "/api" host): point
    # the attribute it reads at the sandbox, so no call can leave the machine. Should a release
    # rename the attribute, setting it would silently do nothing: fail loudly instead.
    queue_host = getattr(client, "webhook_base_url", None)
    if not isinstance(queue_host, str) or not queue_host.startswith("https://"):
        pytest.fail("smartai-assessment-backend: webhook_base_url no longer holds the queue host")
    client.webhook_base_url = f"{sandbox.url}/api"
    return client


def test_every_method_of_sdk_1_0_2(sandbox: Running) -> None:
    client = _client(sandbox)
    bulk = client.create_session(
        users=[{"name": "A One", "email": "a@example.com"}], recruiter_email="rec@example.com"
    )
    single = client.create_session(name="B Two", email="b@example.com", recruiter_id="rec_1")
    assert bulk["token"] != single["token"]
    assert bulk["expiresAt"].endswith("Z")

    opened = httpx2.post(f"{sandbox.url}/portal/open", json={"token": single["token"]})
    data = opened.json()["data"]
    assert [item["assessmentId"] for item in client.list_assessments()] == [data["assessmentId"]]
    httpx2.post(
        f"{sandbox.url}/portal/complete",
        json={"assessmentId": data["assessmentId"], "candidateId": data["candidates"][0]["id"],
              "candidateKey": data["candidates"][0]["key"]},
    ).raise_for_status()

    events = client.get_webhook_events(limit=10)
    assert [e["event"] for e in events["events"]] == ["assessment.completed"]
    assert events["pendingCount"] == 0
    ids = [e["eventId"] for e in events["events"]]
    assert client.acknowledge_webhook_events(ids) == {"acknowledged": 1}
    assert client.get_webhook_events()["events"] == []


def test_sdk_1_0_2_reads_the_success_flag_of_queue_errors(sandbox: Running) -> None:
    client = _client(sandbox)
    client.api_key = "wc_ak_test_wrong"
    with pytest.raises(RuntimeError, match="Invalid API key"):
        client.get_webhook_events()
