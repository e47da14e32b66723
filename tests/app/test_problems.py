"""The public problem type: any hook answers with a stable code; field errors never echo input."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from starlette.requests import Request

from assessment_asgi import (
    ERROR_CODES,
    AssessmentApp,
    AssessmentError,
    AuthError,
    ClaimsRecruiterResolver,
    ConfigurationError,
    EnvironmentKeys,
    HTTPException,
    PermissionDenied,
    SessionRequest,
    SmartAIError,
    StaticKeys,
)
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, USERS, FakePlatform, auth

pytestmark = pytest.mark.usefixtures("env_keys")


def app_for(platform_url: str, **kwargs: Any) -> AssessmentApp:
    kwargs.setdefault("jwt_secret", JWT_SECRET)
    return AssessmentApp(base_url=platform_url, **kwargs)


def test_any_hook_answers_with_a_code_of_error_codes(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    def maintenance(request: Request) -> Any:
        raise HTTPException("service_unavailable", "Back at noon", headers={"Retry-After": "60"})

    async def no_keys() -> Any:
        raise HTTPException("not_configured")

    with served(app_for(platform_url, authenticate=maintenance)) as (client, url):
        closed = client.post(url, json={"users": USERS}, headers=auth())
    with served(app_for(platform_url, keys=no_keys)) as (client, url):
        keyless = client.post(url, json={"users": USERS}, headers=auth())
    assert closed.status_code == 503
    assert closed.json() == {"success": False, "error": "Back at noon", "code": "service_unavailable"}
    assert closed.headers["retry-after"] == "60"
    assert keyless.status_code == 500
    assert keyless.json() == {
        "success": False, "error": ERROR_CODES["not_configured"][1], "code": "not_configured",
    }
    assert platform.calls == []


def test_an_unknown_code_fails_where_it_is_raised() -> None:
    with pytest.raises(ValueError, match="ERROR_CODES"):
        HTTPException("teapot")


def test_every_exception_belongs_to_one_tree() -> None:
    for cls in (ConfigurationError, HTTPException, AuthError, PermissionDenied, SmartAIError):
        assert issubclass(cls, AssessmentError)
    assert issubclass(AuthError, HTTPException)
    assert issubclass(PermissionDenied, HTTPException)
    assert not issubclass(PermissionDenied, AuthError)
    assert (AuthError().status_code, PermissionDenied().status_code) == (401, 403)


@pytest.mark.anyio
async def test_the_built_in_hooks_use_only_the_public_problem_type() -> None:
    resolver = ClaimsRecruiterResolver()
    body = SessionRequest.model_validate({"users": USERS, "recruiterId": "someone-else"})
    with pytest.raises(HTTPException) as info:
        await resolver({"sub": "rec_1"}, body)
    assert info.value.code == "recruiter_mismatch"
    keys = EnvironmentKeys(api_key_var="NOT_SET_ANYWHERE_1", secret_key_var="NOT_SET_ANYWHERE_2")
    with pytest.raises(HTTPException) as info:
        await keys()
    assert (info.value.code, info.value.message) == (
        "not_configured", "NOT_SET_ANYWHERE_1 is not set on the server",
    )
    # Cheap built-in hooks are async, so the app awaits them inline: no private flag.
    for hook in (resolver, keys, StaticKeys(API_KEY, SECRET_KEY)):
        assert inspect.iscoroutinefunction(type(hook).__call__)
        assert not hasattr(hook, "_inline_hook")


@pytest.mark.parametrize(
    ("body", "loc", "msg", "echo"),
    [
        ({"users": [{"name": "A", "email": "a@example.com", "CANARY-role": "admin"}]},
         ["users", 0], "unknown field", "CANARY-role"),
        ({"users": USERS, "CANARY-callbackUrl": "https://evil.test"}, [], "unknown field",
         "CANARY-callbackUrl"),
        ({"users": [{"name": "A", "email": "CANARY<x>@example.com"}]}, ["users", 0, "email"],
         "must be a bare email address", "CANARY"),
        ({"users": [{"name": "A", "email": "a@xn--CANARY.com"}]}, ["users", 0, "email"],
         "is not a valid email address", "CANARY"),
        ({"users": [{"name": "A", "email": "ada@CANARY..example.com"}]}, ["users", 0, "email"],
         "is not a valid email address", "CANARY"),
    ],
    ids=["unknown-user-field", "unknown-field", "bad-email-characters", "bad-idna", "empty-label"],
)
def test_field_errors_name_the_position_and_rule_never_the_input(
    served: Any, platform: FakePlatform, platform_url: str, body: Any, loc: list[Any],
    msg: str, echo: str,
) -> None:
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url, json=body, headers=auth())
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid_body"
    assert any(d["loc"] == loc and d["msg"].startswith(msg) for d in payload["details"]), payload
    assert echo not in response.text
    assert platform.calls == []


def test_workflow_id_is_optional_validated_and_forwarded(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    with served(app_for(platform_url)) as (client, url):
        given = client.post(url, json={"users": USERS, "workflowId": "wf_42"}, headers=auth())
        absent = client.post(url, json={"users": USERS}, headers=auth())
        bad = [
            client.post(url, json={"users": USERS, "workflowId": value}, headers=auth())
            for value in ("", "wf 42", "wf\n42", "w" * 129, 42, "wf_ü")
        ]
    assert (given.status_code, absent.status_code) == (200, 200)
    assert platform.calls[0]["body"]["workflowId"] == "wf_42"
    assert "workflowId" not in platform.calls[1]["body"]
    for response in bad:
        assert response.status_code == 400
        assert response.json()["details"][0]["loc"] == ["workflowId"]
    assert len(platform.calls) == 2
