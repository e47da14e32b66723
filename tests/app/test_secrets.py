"""Canary values for every secret, DEBUG logging on everything: none may leak."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from assessment_asgi import AssessmentApp, AssessmentSettings, Credentials, StaticKeys
from tests._fake import (
    API_KEY,
    CANARIES,
    JWT_SECRET,
    SECRET_KEY,
    STANDIN_TOKEN,
    USERS,
    FakePlatform,
    auth,
    make_token,
)

pytestmark = pytest.mark.usefixtures("env_keys")


def assert_no_canary(text: str, allowed: tuple[str, ...] = ()) -> None:
    for canary in CANARIES:
        if canary not in allowed:
            assert canary not in text, f"canary {canary[:12]}… leaked"


def test_no_secret_in_logs_responses_or_reprs(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recruiter_jwt = make_token(email="CANARY-recruiter@hire.example")
    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, timeout=1.0)
    responses = []
    with served(assessment) as (client, url):
        for mode in ("ok", "401", "500", "html", "429", "bad_envelope"):
            platform.mode = mode
            responses.append(client.post(url, json={"users": USERS}, headers=auth(recruiter_jwt)))
        platform.mode = "ok"
        responses.append(client.post(url, json={"users": []}, headers=auth(recruiter_jwt)))
        responses.append(client.post(url, json={"users": USERS}, headers=auth(recruiter_jwt + "x")))
        responses.append(client.post(url, content=b"{", headers=auth(recruiter_jwt)))
    assert responses[0].status_code == 200
    assert STANDIN_TOKEN in responses[0].text  # the one value meant for the browser
    assert_no_canary(responses[0].text, allowed=(CANARIES[3],))
    for response in responses[1:]:
        assert_no_canary(response.text + str(response.headers))
        assert recruiter_jwt not in response.text
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    assert_no_canary(logged)
    assert "CANARY-recruiter" not in logged
    assert recruiter_jwt not in logged
    assert "ada@example.com" not in logged

    settings = AssessmentSettings(api_key=API_KEY, secret_key=SECRET_KEY, jwt_secret=JWT_SECRET)
    for obj in (assessment, settings, assessment.settings, assessment.keys, assessment.client,
                assessment.authenticate, Credentials(API_KEY, SECRET_KEY),
                StaticKeys(API_KEY, SECRET_KEY), settings.model_dump()):
        assert_no_canary(repr(obj))
        assert_no_canary(str(obj))
