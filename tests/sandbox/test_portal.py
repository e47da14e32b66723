"""The portal: single-use tokens, "Token expired", the page, finishing, the script."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

from .conftest import FakeClock, Running

USERS = [{"name": "Priya Sharma", "email": "priya@example.com"},
         {"name": "Jon <Park>", "email": "jon@example.com"}]

COMPLETED_FIELDS = {
    "eventId", "storedAt", "event", "assessmentId", "assessmentName", "jobTitle", "candidateId",
    "candidateName", "candidateEmail", "score", "totalMarks", "passMarks", "passed", "status",
    "submittedAt", "durationMinutes", "aiFeedback", "reportUrl", "skills", "questionAnswers",
    "verification", "proctoring", "recording",
}


def _session(url: str, keys: dict[str, str], **extra: Any) -> str:
    body = {"users": USERS, "recruiterEmail": "rec@example.com", "recruiterId": "rec_1", **extra}
    response = httpx2.post(f"{url}/api/v1/sessions", json=body, headers=keys)
    response.raise_for_status()
    token: str = response.json()["data"]["token"]
    return token


def _open(url: str, token: Any) -> httpx2.Response:
    return httpx2.post(f"{url}/portal/open", json={"token": token})


def _finish(url: str, data: dict[str, Any], index: int, **extra: Any) -> httpx2.Response:
    """A candidate finishing from their own link (its key comes with the opened portal)."""
    candidate = data["candidates"][index]
    body = {"assessmentId": data["assessmentId"], "candidateId": candidate["id"],
            "candidateKey": candidate["key"], **extra}
    return httpx2.post(f"{url}/portal/complete", json=body)


def _pending(sandbox: Running) -> list[dict[str, Any]]:
    response = httpx2.get(
        f"{sandbox.url}/api/v1/webhook/events", headers={"x-api-key": sandbox.api_key}
    )
    events: list[dict[str, Any]] = response.json()["data"]["events"]
    return events


def test_a_token_opens_its_session_once(sandbox: Running) -> None:
    token = _session(sandbox.url, sandbox.keys)
    first = _open(sandbox.url, token)
    assert first.status_code == 200
    data = first.json()["data"]
    assert [(c["name"], c["email"]) for c in data["candidates"]] == [
        (u["name"], u["email"]) for u in USERS]
    assert data["recruiter"] == {"id": "rec_1", "email": "rec@example.com"}

    second = _open(sandbox.url, token)
    assert second.status_code == 401
    assert second.json() == {"success": False, "error": "Token expired", "message": "Token expired"}


def test_an_expired_token_is_refused(clock: FakeClock) -> None:
    app = SandboxApp(clock=clock, token_ttl=60)
    with serve(app, "uvicorn") as url:
        running = Running(app, url)
        token = _session(url, running.keys)
        clock.advance(61)
        response = _open(url, token)
        assert response.status_code == 401
        assert response.json()["error"] == "Token expired"


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 42, "x" * 10_000])
def test_invalid_tokens_are_token_expired(sandbox: Running, token: Any) -> None:
    response = _open(sandbox.url, token)
    assert response.status_code == 401
    assert response.json()["error"] == "Token expired"


def test_a_token_re_signed_with_another_key_is_refused(sandbox: Running) -> None:
    real = _session(sandbox.url, sandbox.keys)
    payload = real.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # The same claims under the wrong key: the portal must verify, not just decode.
    forged = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(b"k" * 32))
    assert _open(sandbox.url, forged).status_code == 401
    assert _open(sandbox.url, real).status_code == 200


def test_the_portal_page_lists_candidates_and_recruiter_then_says_token_expired(
    sandbox: Running,
) -> None:
    token = _session(sandbox.url, sandbox.keys)
    page = httpx2.post(f"{sandbox.url}/portal/view", data={"token": token})
    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="portal-candidate"') == 2
    assert '<strong data-testid="candidate-name">Priya Sharma</strong>' in html
    assert '<span class="muted" data-testid="candidate-email">priya@example.com</span>' in html
    assert "Jon &lt;Park&gt;" in html  # escaped, never injected
    assert html.count('data-testid="finish-button"') == 2
    assert 'data-testid="recruiter-email">rec@example.com<' in html
    assert "https://" not in html  # no external resources
    assert page.headers["cache-control"] == "no-store"

    again = httpx2.post(f"{sandbox.url}/portal/view", data={"token": token})
    assert again.status_code == 401
    assert re.search(r'data-testid="portal-error"[^>]*>Token expired<', again.text)


def test_finishing_queues_assessment_completed_with_every_documented_field(
    sandbox: Running,
) -> None:
    data = _open(sandbox.url, _session(sandbox.url, sandbox.keys)).json()["data"]
    candidate = data["candidates"][0]
    done = _finish(sandbox.url, data, 0)
    assert done.status_code == 200
    [event] = _pending(sandbox)
    assert set(event) >= COMPLETED_FIELDS
    assert event["event"] == "assessment.completed"
    assert event["eventId"] == done.json()["data"]["eventId"]
    assert event["candidateId"] == candidate["id"]
    assert event["candidateName"] == "Priya Sharma"
    assert event["candidateEmail"] == "priya@example.com"
    assert event["assessmentId"] == data["assessmentId"]
    assert event["totalMarks"] == 100
    assert 0 <= event["score"] <= 100
    assert event["passed"] == (event["score"] >= event["passMarks"])
    assert event["status"] == "completed"
    assert event["aiFeedback"] is None
    assert event["durationMinutes"] >= 1
    assert event["submittedAt"].endswith("Z")
    assert set(event["proctoring"]) == {"score", "violationCount"}
    assert set(event["recording"]) == {"url", "status"}
    assert "imageUrl" in event["verification"]
    assert sum(q["marksAwarded"] for q in event["questionAnswers"]) == event["score"]
    report = httpx2.get(event["reportUrl"])
    assert report.status_code == 200
    assert f"Score {event['score']}/100" in report.text
    assert httpx2.get(event["verification"]["imageUrl"]).status_code == 200

    twice = _finish(sandbox.url, data, 0)
    assert twice.status_code == 409


def test_disqualified_outcome_and_fixed_score(sandbox: Running) -> None:
    data = _open(sandbox.url, _session(sandbox.url, sandbox.keys)).json()["data"]
    _finish(sandbox.url, data, 1, outcome="disqualified", score=90).raise_for_status()
    [event] = _pending(sandbox)
    assert event["event"] == "assessment.disqualified"
    assert event["score"] == 90
    assert event["passed"] is False


def test_finishing_needs_an_opened_session_and_a_known_candidate(sandbox: Running) -> None:
    _session(sandbox.url, sandbox.keys)  # never opened
    unknown = httpx2.post(
        f"{sandbox.url}/portal/complete", json={"assessmentId": "asmnt_nope", "candidateId": "c"}
    )
    assert unknown.status_code == 404
    data = _open(sandbox.url, _session(sandbox.url, sandbox.keys)).json()["data"]
    stranger = httpx2.post(
        f"{sandbox.url}/portal/complete",
        json={"assessmentId": data["assessmentId"], "candidateId": "cand_stranger"},
    )
    assert stranger.status_code == 404
    assert _pending(sandbox) == []


def test_send_queues_assessment_sent_once(sandbox: Running) -> None:
    data = _open(sandbox.url, _session(sandbox.url, sandbox.keys)).json()["data"]
    send = {"assessmentId": data["assessmentId"], "portalKey": data["portalKey"]}
    sent = httpx2.post(f"{sandbox.url}/portal/send", json=send)
    assert sent.status_code == 200
    [event] = _pending(sandbox)
    assert event["event"] == "assessment.sent"
    assert set(event) >= {"eventId", "storedAt", "assessmentId", "assessmentUrl", "keyId",
                          "orgId", "jobTitle", "candidates", "totalCandidates"}
    assert event["keyId"].startswith("wc_key_test_")
    assert event["totalCandidates"] == 2
    assert httpx2.get(event["assessmentUrl"]).status_code == 200
    again = httpx2.post(f"{sandbox.url}/portal/send", json=send)
    assert again.status_code == 409


def test_portal_script_is_served_and_defines_assessment_portal_open(sandbox: Running) -> None:
    script = httpx2.get(SandboxApp.portal_script_url(sandbox.url))
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "window.AssessmentPortal = { open: open" in script.text
    assert "/portal/view" in script.text
    assert "__SANDBOX_BASE_URL__" not in script.text
    assert f'"{sandbox.url}"' in script.text
    portal_js = httpx2.get(f"{sandbox.url}/portal/portal.js")
    assert portal_js.status_code == 200


def test_portal_endpoints_allow_cross_origin_calls(sandbox: Running) -> None:
    preflight = httpx2.options(
        f"{sandbox.url}/portal/open",
        headers={"origin": "http://127.0.0.1:8000", "access-control-request-method": "POST",
                 "access-control-request-headers": "content-type"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    opened = _open(sandbox.url, "garbage")
    assert opened.headers["access-control-allow-origin"] == "*"
    # The platform API itself is not opened to browsers.
    api = httpx2.post(f"{sandbox.url}/api/v1/sessions", json={}, headers=sandbox.keys)
    assert "access-control-allow-origin" not in api.headers
