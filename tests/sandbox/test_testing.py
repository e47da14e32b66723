"""The sandbox as a test fake: recorded requests, scripted answers, seeded events, rotation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from assessment_asgi.platform import Credentials
from assessment_asgi.sandbox import RecordedRequest, SandboxApp
from tests._servers import serve

from .conftest import Running

USERS = [{"name": "Ada", "email": "ada@example.com"}]


@pytest.fixture
def fake() -> Iterator[Running]:
    app = SandboxApp(record_requests=50)
    with serve(app, "uvicorn") as url:
        yield Running(app, url)


def test_every_request_is_recorded_as_it_arrived(fake: Running) -> None:
    created = httpx2.post(
        f"{fake.platform_url}/sessions?trace=1", json={"users": USERS, "recruiterId": "r"},
        headers={**fake.keys, "X-Custom": "yes"},
    )
    refused = httpx2.get(f"{fake.platform_url}/webhook/events?limit=5")
    assert created.status_code == 200
    assert refused.status_code == 401
    first, second = fake.app.recorder.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path, first.query) == ("POST", "/api/v1/sessions", {"trace": "1"})
    assert first.headers["x-custom"] == "yes"
    assert first.headers["x-api-key"] == fake.api_key
    assert first.json() == {"users": USERS, "recruiterId": "r"}
    assert first.status == 200
    assert (second.method, second.query, second.status) == ("GET", {"limit": "5"}, 401)
    assert fake.app.recorder.to("/sessions") == [first]
    assert fake.app.recorder.to("/events", method="POST") == []
    fake.app.recorder.clear()
    assert fake.app.recorder.requests == []


def test_a_recorder_that_is_off_says_so_instead_of_answering_empty(sandbox: Running) -> None:
    with pytest.raises(RuntimeError, match="record_requests"):
        _ = sandbox.app.recorder.requests


def test_an_oversized_body_is_recorded_up_to_the_cap_and_still_refused() -> None:
    app = SandboxApp(record_requests=5, max_body_bytes=2048)
    with serve(app) as url:
        response = httpx2.post(
            f"{url}/api/v1/sessions", content=b"x" * 10_000,
            headers={"x-api-key": app.credentials.api_key.get_secret_value()},
        )
    assert response.status_code == 413
    (seen,) = app.recorder.requests
    assert (len(seen.body), seen.truncated, seen.status) == (2048, True, 413)


def test_scripted_answers_are_given_in_order_then_the_platform_answers(fake: Running) -> None:
    fake.app.script("POST", "/sessions", status=503, body={"error": "busy"},
                    headers={"Retry-After": "7"}, times=2)
    fake.app.script("*", "/sessions", status=502, body="<html>bad gateway</html>")
    answers = [
        httpx2.post(f"{fake.platform_url}/sessions", json={"users": USERS, "recruiterId": "r"},
                    headers=fake.keys)
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [503, 503, 502, 200]
    assert answers[0].json() == {"error": "busy"}
    assert answers[0].headers["retry-after"] == "7"
    assert answers[2].text == "<html>bad gateway</html>"
    assert answers[2].headers["content-type"].startswith("text/plain")
    assert answers[3].json()["data"]["token"].startswith("eyJ")
    assert [r.status for r in fake.app.recorder.requests] == [503, 503, 502, 200]


def test_times_none_scripts_every_request_until_cleared(fake: Running) -> None:
    fake.app.script("GET", "/webhook/events", status=429, body={"message": "slow down"},
                    times=None)
    statuses = [httpx2.get(f"{fake.platform_url}/webhook/events").status_code for _ in range(3)]
    fake.app.clear_script()
    after = httpx2.get(f"{fake.platform_url}/webhook/events", headers=fake.keys)
    assert statuses == [429, 429, 429]
    assert after.status_code == 200


def test_a_delay_holds_the_answer_back(fake: Running) -> None:
    fake.app.script("POST", "/sessions", delay=5)  # then the platform's own answer
    with pytest.raises(httpx2.ReadTimeout):
        httpx2.post(f"{fake.platform_url}/sessions", json={}, headers=fake.keys, timeout=0.3)
    normal = httpx2.post(f"{fake.platform_url}/sessions", json={}, headers=fake.keys)
    assert normal.status_code == 400  # no script left: the sandbox validates as usual


def test_a_dropped_connection_ends_the_answer_half_way(fake: Running) -> None:
    fake.app.script("POST", "/sessions", status=200, body={"success": True, "data": {}},
                    drop=True)
    with pytest.raises(httpx2.RemoteProtocolError):
        httpx2.post(f"{fake.platform_url}/sessions", json={}, headers=fake.keys)
    (seen,) = fake.app.recorder.requests
    assert seen.status == 200  # the status line went out; the body never finished


def test_check_keys_scripts_only_callers_with_the_right_keys(fake: Running) -> None:
    canned = {"success": True, "data": {"token": "canned", "expiresAt": "2030-01-01T00:00:00Z"}}
    fake.app.script("POST", "/sessions", status=200, body=canned, times=None, check_keys=True)
    wrong = httpx2.post(f"{fake.platform_url}/sessions", json={},
                        headers={"x-api-key": "wc_ak_test_wrong", "x-secret-key": "x"})
    right = httpx2.post(f"{fake.platform_url}/sessions", json={}, headers=fake.keys)
    assert wrong.status_code == 401
    assert right.json() == canned


def test_script_arguments_are_checked(fake: Running) -> None:
    with pytest.raises(ValueError, match="path"):
        fake.app.script("POST", "sessions", status=500)
    with pytest.raises(ValueError, match="status"):
        fake.app.script("POST", "/sessions", status=99)
    with pytest.raises(ValueError, match="times"):
        fake.app.script("POST", "/sessions", status=500, times=0)
    with pytest.raises(ValueError, match="body needs a status"):
        fake.app.script("POST", "/sessions", body={"x": 1})


def test_seeded_events_are_polled_and_acknowledged(fake: Running) -> None:
    stored = fake.app.enqueue({"eventId": "evt_1", "event": "assessment.completed", "score": 80})
    fake.app.enqueue({"eventId": None, "event": "assessment.completed"})  # as a broken platform might
    assert stored["eventId"] == "evt_1"
    assert stored["storedAt"].endswith("Z")
    polled = httpx2.get(f"{fake.platform_url}/webhook/events", headers=fake.keys).json()["data"]
    assert [e["eventId"] for e in polled["events"]] == ["evt_1", None]
    acked = httpx2.post(f"{fake.platform_url}/webhook/events/ack",
                        json={"eventIds": ["evt_1", "evt_1", "evt_2"]}, headers=fake.keys)
    assert acked.json()["data"] == {"acknowledged": 1}
    assert fake.app.acknowledged_events() == ["evt_1"]


def test_rotated_keys_replace_the_old_pair(fake: Running) -> None:
    old = fake.keys
    fake.app.credentials = Credentials("wc_ak_test_rotated", "wc_sk_test_rotated")
    body = {"users": USERS, "recruiterId": "r"}
    assert httpx2.post(f"{fake.platform_url}/sessions", json=body, headers=old).status_code == 401
    new = {"x-api-key": "wc_ak_test_rotated", "x-secret-key": "wc_sk_test_rotated"}
    assert httpx2.post(f"{fake.platform_url}/sessions", json=body, headers=new).status_code == 200
    with pytest.raises(ValueError, match="test keys only"):
        fake.app.credentials = Credentials("wc_ak_live_x", "wc_sk_live_x")


def test_reset_forgets_sessions_events_scripts_and_records(fake: Running) -> None:
    fake.app.enqueue({"event": "assessment.completed"})
    fake.app.script("GET", "/webhook/events", status=500, times=None)
    fake.app.reset()
    polled = httpx2.get(f"{fake.platform_url}/webhook/events", headers=fake.keys)
    assert polled.status_code == 200
    assert polled.json()["data"]["events"] == []
    assert len(fake.app.recorder.requests) == 1


def test_check_keys_verifies_a_signature_like_the_sandbox(fake: Running) -> None:
    import time

    from assessment_asgi.platform._signing import signature

    fake.app.script("GET", "/assessments", status=200, body={"success": True, "data": []},
                    times=None, check_keys=True)
    stamp = str(int(time.time() * 1000))

    def signed(secret: str) -> int:
        headers = {"x-api-key": fake.api_key, "x-timestamp": stamp,
                   "x-signature": signature(secret, "GET", "/api/v1/assessments", stamp, b"")}
        return httpx2.get(f"{fake.platform_url}/assessments", headers=headers).status_code

    assert signed(fake.secret_key) == 200
    assert signed("wc_sk_test_wrong") == 401


def test_a_body_may_be_computed_from_the_request(fake: Running) -> None:
    fake.app.script("POST", "/sessions", status=200, times=None,
                    body=lambda r: {"echo": r.json()["users"][0]["name"]})
    answer = httpx2.post(f"{fake.platform_url}/sessions", json={"users": USERS}, headers=fake.keys)
    assert answer.json() == {"echo": "Ada"}
    assert answer.headers["content-type"] == "application/json"
