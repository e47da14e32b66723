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
