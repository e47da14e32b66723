"""What the browser sees when the platform misbehaves: clear statuses, never a 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from assessment_asgi import AssessmentApp
from tests._fake import JWT_SECRET, USERS, FakePlatform, auth

pytestmark = pytest.mark.usefixtures("env_keys")


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("500", 502, "platform_error"),
        ("html", 502, "platform_error"),
        ("html200", 502, "platform_error"),
        ("bad_envelope", 502, "platform_error"),
        ("401", 502, "platform_auth_failed"),
        ("429", 429, "platform_rate_limited"),
        ("slow", 504, "platform_timeout"),
    ],
)
def test_platform_failures_map_to_clear_statuses(
    served: Any, platform: FakePlatform, platform_url: str, mode: str, status: int, code: str
) -> None:
    platform.mode, platform.delay = mode, 3.0
    assessment = AssessmentApp(
        base_url=platform_url, jwt_secret=JWT_SECRET, timeout=1.0, read_timeout=1.0
    )
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code
    assert set(body) == {"success", "error", "code"}
    assert "boom" not in response.text
    assert "<html" not in response.text


@pytest.mark.parametrize(("given", "sent"), [("7", "7"), ("0", "1"), ("86400", "60"),
                                             ("soon", "5"), ("²", "5"), ("1²", "5"), ("1.5", "2")])
def test_platform_429_gives_a_sane_retry_after(
    served: Any, platform: FakePlatform, platform_url: str, given: str, sent: str
) -> None:
    platform.mode, platform.retry_after = "429", given
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 429
    assert response.headers["retry-after"] == sent


def test_refused_keys_are_logged_with_the_cause(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    platform.mode = "401"
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 502
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("ASSESSMENT_API_KEY" in m and "refused" in m for m in messages)


def test_unreachable_platform_is_a_502(served: Any, env_keys: None) -> None:
    from tests._servers import free_port

    assessment = AssessmentApp(
        base_url=f"http://127.0.0.1:{free_port()}/api/v1", jwt_secret=JWT_SECRET, timeout=2.0
    )
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 502
    assert response.json()["code"] == "platform_error"


_SESSIONS = "/api/v1/sessions"


@pytest.mark.parametrize(
    ("status", "body", "level", "message", "code"),
    [
        (429, {"success": False, "error": "Too many requests"}, logging.WARNING,
         "platform rate limited this server (status=429 request_id=req_77)", "platform_rate_limited"),
        (401, {"success": False, "error": "Invalid API key"}, logging.ERROR,
         "the platform refused this server's API key or secret (status=401 request_id=req_77): "
         "check ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY", "platform_auth_failed"),
        (422, {"success": False, "error": "users[0].email is invalid"}, logging.ERROR,
         "the platform refused the session request (status=422 request_id=req_77)", "platform_rejected"),
        (500, {"success": False, "error": "boom"}, logging.ERROR,
         "platform error creating a session: SmartAIServerError (status=500 request_id=req_77)",
         "platform_error"),
    ],
    ids=["429", "401", "422", "500"],
)
def test_each_platform_failure_logs_one_line_an_operator_can_follow_up(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture,
    status: int, body: dict[str, Any], level: int, message: str, code: str,
) -> None:
    """The line names the status and the platform's request id (to quote to SmartAI support);
    the platform's own message stays out of it."""
    platform.sandbox.clear_script()
    platform.sandbox.script("POST", _SESSIONS, status=status, body=body,
                            headers={"X-Request-Id": "req_77", "Retry-After": "3"}, times=None)
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)) as (client, url):
        caplog.clear()
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.json()["code"] == code
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]
    assert lines == [(level, message)]


def test_a_platform_timeout_logs_one_line(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    platform.mode, platform.delay = "slow", 3.0
    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, timeout=1.0, read_timeout=1.0)
    with served(assessment) as (client, url):
        caplog.clear()
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.json()["code"] == "platform_timeout"
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]
    assert lines == [(logging.WARNING, "platform timed out creating a session (status=None request_id=None)")]
