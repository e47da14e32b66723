"""Wire twin of the official SDK: the same operations send the same requests (minus its
defects), and our signatures match its signatures byte for byte."""

from __future__ import annotations

from typing import Any

import anyio
from record_assessment_backend import AssessmentClient

from assessment_asgi.platform import Credentials, SmartAIClient
from assessment_asgi.platform._signing import canonical_json, signature
from tests._fake import API_KEY, SECRET, FakeAPI, RecordedRequest, build_app, completed_event
from tests._servers import serve

USERS = [{"name": "Zoë Ångström", "email": "zoe@example.com"}, {"name": "Bo", "email": "bo@example.com"}]
AUTH_HEADERS = {"x-api-key", "x-secret-key", "x-signature", "x-timestamp"}


def _official(base_url: str) -> list[Any]:
    sdk = AssessmentClient(api_key=API_KEY, secret_key=SECRET, base_url=base_url, webhook_base_url=base_url)
    return [
        sdk.create_session(users=USERS, recruiter_id="r-1", workflow_id="wf"),
        sdk.create_session(name="Ada", email="ada@example.com", candidate_id="c-1", recruiter_email="r@x.io"),
        sdk.create_campaign(workflow_id="wf", method="knowledge", users=USERS, job_title="Dev", level="2-5"),
        sdk.list_assessments(),
        sdk.get_webhook_events(limit=20, since=5),
        sdk.acknowledge_webhook_events(["evt_1", "evt_2"]),
    ]


async def _ours(base_url: str) -> list[Any]:
    async with SmartAIClient(base_url=base_url, credentials=Credentials(API_KEY, SECRET)) as client:
        return [
            await client.create_session(users=USERS, recruiter_id="r-1", workflow_id="wf"),
            await client.create_session(
                name="Ada", email="ada@example.com", candidate_id="c-1", recruiter_email="r@x.io"
            ),
            await client.create_campaign(
                workflow_id="wf", method="knowledge", users=USERS, job_title="Dev", level="2-5"
            ),
            await client.list_assessments(),
            await client.poll_events(limit=20, since=5),
            await client.acknowledge_events(["evt_1", "evt_2"]),
        ]


def _shape(seen: RecordedRequest) -> tuple[str, str, dict[str, str], Any, set[str]]:
    body = seen.json() if seen.body else None
    return seen.method, seen.path, seen.query, body, AUTH_HEADERS & set(seen.headers)


def test_we_send_what_the_official_sdk_sends() -> None:
    official, ours = FakeAPI(), FakeAPI()
    for state in (official, ours):
        state.queue = [completed_event(1), completed_event(2)]
    with serve(build_app(official)) as a, serve(build_app(ours)) as b:
        sdk_results = _official(f"{a}/api/v1")
        our_results = anyio.run(_ours, f"{b}/api/v1")
    assert [_shape(s) for s in ours.seen] == [_shape(s) for s in official.seen]
    assert official.acked == ours.acked == ["evt_1", "evt_2"]
    assert our_results[0].token == "eyJhbGciOiJIUzI1NiJ9.standin1.sig" == sdk_results[0]["token"]
    assert [e.event_id for e in our_results[4].events] == [e["eventId"] for e in sdk_results[4]["events"]]
    assert our_results[5].acknowledged == sdk_results[5]["acknowledged"] == 2
    # The SDK sends its own serialisation; ours is canonical, so the signed bytes are the sent bytes.
    for seen in ours.seen:
        if seen.body:
            assert seen.body == canonical_json(seen.json())


def test_signatures_match_the_official_sdk() -> None:
    sdk = AssessmentClient(api_key=API_KEY, secret_key=SECRET, base_url="http://127.0.0.1:9/api/v1")
    body = {"z": 1, "users": USERS, "nested": {"b": [1, {"y": 2, "x": 1}], "a": None}}
    timestamp = "1700000000123"
    assert sdk._sign("GET", "/api/v1/assessments", timestamp) == signature(
        SECRET, "get", "/api/v1/assessments", timestamp, b""
    )
    assert sdk._sign("POST", "/api/v1/sessions", timestamp, body) == signature(
        SECRET, "POST", "/api/v1/sessions", timestamp, canonical_json(body)
    )
