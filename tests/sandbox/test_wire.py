"""The wire contract at the HTTP level: keys, signatures, envelopes, validation, limits."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

from .conftest import FakeClock, Running


def _sign(secret: str, method: str, path: str, timestamp: str, body: str = "") -> str:
    payload = f"{method}:{path}:{timestamp}:{body}".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def _signed_headers(
    sandbox: Running, *, path: str = "/api/v1/assessments", method: str = "GET",
    body: str = "", age_ms: int = 0,
) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000) - age_ms)
    return {
        "x-api-key": sandbox.api_key,
        "x-timestamp": timestamp,
        "x-signature": _sign(sandbox.secret_key, method, path, timestamp, body),
    }


SESSION = {"users": [{"name": "Jane Doe", "email": "jane@example.com"}], "recruiterId": "r1"}


# ── keys ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/sessions", SESSION),
        ("POST", "/api/v1/campaigns", {"workflowId": "w", "method": "knowledge", **SESSION}),
        ("GET", "/api/v1/assessments", None),
    ],
)
def test_wrong_or_missing_api_key_is_401_with_an_error(
    sandbox: Running, method: str, path: str, body: Any
) -> None:
    for headers in ({}, {"x-api-key": "wc_ak_test_nope", "x-secret-key": sandbox.secret_key}):
        response = httpx2.request(method, sandbox.url + path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["success"] is False
        assert response.json()["error"] == "Invalid API key"


def test_wrong_secret_key_is_401(sandbox: Running) -> None:
    response = httpx2.post(
        f"{sandbox.url}/api/v1/sessions", json=SESSION,
        headers={"x-api-key": sandbox.api_key, "x-secret-key": "wc_sk_test_nope"},
    )
    assert response.status_code == 401
    assert response.json()["success"] is False


@pytest.mark.parametrize("prefix", ["/api/v1", "/api"])
def test_queue_answers_both_envelopes_on_success_and_error(sandbox: Running, prefix: str) -> None:
    ok = httpx2.get(f"{sandbox.url}{prefix}/webhook/events", headers={"x-api-key": sandbox.api_key})
    assert ok.status_code == 200
    assert ok.json() == {
        "success": True, "status": "success", "code": 200,
        "data": {"events": [], "pendingCount": 0},
    }
    bad = httpx2.post(
        f"{sandbox.url}{prefix}/webhook/events/ack", json={"eventIds": ["x"]},
        headers={"x-api-key": "wc_ak_test_nope"},
    )
    assert bad.status_code == 401
    body = bad.json()
    assert body["success"] is False
    assert body["status"] == "error"
    assert body["code"] == 401
    assert body["message"] == body["error"] == "Invalid API key"


# ── signatures ───────────────────────────────────────────────────────────────────


def test_signed_list_within_the_window_is_accepted(sandbox: Running) -> None:
    headers = _signed_headers(sandbox, age_ms=4 * 60_000)
    response = httpx2.get(f"{sandbox.url}/api/v1/assessments", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": []}


@pytest.mark.parametrize("age_ms", [6 * 60_000, -6 * 60_000])
def test_stale_or_future_timestamp_is_401(sandbox: Running, age_ms: int) -> None:
    headers = _signed_headers(sandbox, age_ms=age_ms)
    response = httpx2.get(f"{sandbox.url}/api/v1/assessments", headers=headers)
    assert response.status_code == 401


def test_bad_or_missing_signature_is_401(sandbox: Running) -> None:
    headers = _signed_headers(sandbox)
    headers["x-signature"] = "0" * 64
    assert httpx2.get(f"{sandbox.url}/api/v1/assessments", headers=headers).status_code == 401
    headers = _signed_headers(sandbox, path="/api/v1/sessions")  # signed for another path
    assert httpx2.get(f"{sandbox.url}/api/v1/assessments", headers=headers).status_code == 401
    only_key = {"x-api-key": sandbox.api_key, "x-secret-key": sandbox.secret_key}
    response = httpx2.get(f"{sandbox.url}/api/v1/assessments", headers=only_key)
    assert response.status_code == 401


def test_signed_session_without_secret_header_python_and_node_canonical_forms(
    sandbox: Running,
) -> None:
    body = {"users": [{"name": "Jane", "email": "jane@example.com"}], "recruiterId": "r1"}
    sent = json.dumps(body)
    python_form = json.dumps(body, sort_keys=True, separators=(",", ":"))
    # JSON.stringify(body, ["recruiterId", "users"]) drops the nested keys.
    node_form = '{"recruiterId":"r1","users":[{}]}'
    for signed in (python_form, node_form):
        headers = _signed_headers(sandbox, path="/api/v1/sessions", method="POST", body=signed)
        response = httpx2.post(
            f"{sandbox.url}/api/v1/sessions", content=sent,
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 200, response.text


def test_mounted_under_a_prefix_signatures_and_links_follow_the_mount() -> None:
    sandbox = SandboxApp()
    host = Starlette(routes=[Mount("/sandbox", app=sandbox)])
    with serve(host, "uvicorn") as url:
        running = Running(sandbox, f"{url}/sandbox")
        for path in ("/api/v1/assessments", "/sandbox/api/v1/assessments"):
            response = httpx2.get(
                f"{running.url}/api/v1/assessments", headers=_signed_headers(running, path=path)
            )
            assert response.status_code == 200, path
        campaign = httpx2.post(
            f"{running.url}/api/v1/campaigns", headers=running.keys,
            json={"workflowId": "w", "method": "knowledge", "name": "J", "email": "j@example.com"},
        ).json()["data"]
        assert campaign["assessmentLink"].startswith(f"{url}/sandbox/assessment/")
        assert httpx2.get(campaign["assessmentLink"]).status_code == 200
        script = httpx2.get(f"{running.url}/portal/sdk.js")
        assert json.dumps(f"{url}/sandbox") in script.text


# ── validation ───────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"users": [], "recruiterId": "r"}, "users must be a non-empty array"),
        ({"users": [{"name": "J", "email": "j@example.com"}]},
         "Provide at least one of recruiterId or recruiterEmail"),
        ({"users": [{"email": "j@example.com"}], "recruiterId": "r"}, "users[0]: name is required"),
        ({"name": "J", "recruiterId": "r"}, "email is required"),
        ({"name": "J", "email": "nope", "recruiterId": "r"}, "email must be a valid email address"),
        (["not", "an", "object"], "Request body must be a JSON object"),
    ],
)
def test_session_bodies_are_validated_like_the_platform(
    sandbox: Running, body: Any, message: str
) -> None:
    response = httpx2.post(f"{sandbox.url}/api/v1/sessions", json=body, headers=sandbox.keys)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"] == message


def test_single_session_accepts_a_null_candidate_id(sandbox: Running) -> None:
    body = {"candidateId": None, "name": "J", "email": "j@example.com", "recruiterEmail": "r@x.io"}
    response = httpx2.post(f"{sandbox.url}/api/v1/sessions", json=body, headers=sandbox.keys)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"method": "knowledge", "name": "J", "email": "j@example.com"}, "workflowId is required"),
        ({"workflowId": "w", "method": "video", "name": "J", "email": "j@example.com"},
         'method must be "programming" or "knowledge"'),
        ({"workflowId": "w", "method": "knowledge", "users": []},
         "users must be a non-empty array"),
    ],
)
def test_campaign_bodies_are_validated(sandbox: Running, body: Any, message: str) -> None:
    response = httpx2.post(f"{sandbox.url}/api/v1/campaigns", json=body, headers=sandbox.keys)
    assert response.status_code == 400
    assert response.json()["error"] == message


def test_invalid_json_and_oversized_bodies(sandbox: Running) -> None:
    bad = httpx2.post(
        f"{sandbox.url}/api/v1/sessions", content=b"{nope", headers=sandbox.keys
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "Invalid JSON body"
    huge = httpx2.post(
        f"{sandbox.url}/api/v1/sessions", content=b"x" * 2_000_000, headers=sandbox.keys
    )
    assert huge.status_code == 413


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"eventIds": []}, "eventIds must be a non-empty array"),
        ({}, "eventIds must be a non-empty array"),
        ({"eventIds": [f"e{i}" for i in range(101)]}, "eventIds must have at most 100 entries"),
    ],
)
def test_ack_takes_1_to_100_ids(sandbox: Running, body: Any, message: str) -> None:
    response = httpx2.post(
        f"{sandbox.url}/api/v1/webhook/events/ack", json=body,
        headers={"x-api-key": sandbox.api_key},
    )
    assert response.status_code == 400
    assert response.json()["message"] == message


def test_unknown_ids_are_skipped_silently(sandbox: Running) -> None:
    response = httpx2.post(
        f"{sandbox.url}/api/webhook/events/ack", json={"eventIds": ["unknown"]},
        headers={"x-api-key": sandbox.api_key},
    )
    assert response.json()["data"] == {"acknowledged": 0}


def test_poll_limit_is_capped_at_100(sandbox: Running) -> None:
    with httpx2.Client(base_url=sandbox.url, headers=sandbox.keys) as client:
        for n in range(101):
            client.post("/api/v1/campaigns", json={
                "workflowId": "w", "method": "knowledge", "name": f"N{n}",
                "email": f"n{n}@example.com",
            }).raise_for_status()
        page = client.get("/api/v1/webhook/events", params={"limit": 500}).json()["data"]
        assert len(page["events"]) == 100
        assert page["pendingCount"] == 1
        default = client.get("/api/v1/webhook/events").json()["data"]
        assert len(default["events"]) == 50
        bad = client.get("/api/v1/webhook/events", params={"limit": "many"})
        assert bad.status_code == 400


def test_polling_faster_than_the_minimum_interval_is_429_with_retry_after(
    clock: FakeClock,
) -> None:
    app = SandboxApp(min_poll_interval=5, clock=clock)
    with serve(app, "uvicorn") as url:
        headers = {"x-api-key": app.credentials.api_key.get_secret_value()}
        assert httpx2.get(f"{url}/api/v1/webhook/events", headers=headers).status_code == 200
        clock.advance(2)
        limited = httpx2.get(f"{url}/api/webhook/events", headers=headers)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3"
        assert limited.json()["success"] is False
        clock.advance(3)
        assert httpx2.get(f"{url}/api/v1/webhook/events", headers=headers).status_code == 200


def test_unknown_paths_answer_json_404(sandbox: Running) -> None:
    response = httpx2.get(f"{sandbox.url}/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_the_root_page_names_the_platform_url_and_the_portal_script(sandbox: Running) -> None:
    page = httpx2.get(sandbox.url)
    assert page.status_code == 200
    assert f"{sandbox.url}/api/v1" in page.text
    assert f"{sandbox.url}/portal/sdk.js" in page.text
    assert sandbox.api_key not in page.text
