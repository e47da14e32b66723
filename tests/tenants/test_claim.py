"""``ASSESSMENT_TENANT_CLAIM``: the tenant comes from the recruiter's token, or nothing goes on."""

from __future__ import annotations

from typing import Any

import pytest

from assessment_asgi import AssessmentApp, Credentials, Recruiter, SessionRequest
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, USERS, auth, make_token
from tests._features import Sandbox, assessment_app, served

from .conftest import ACME, tenant_app, tenant_token


def test_the_claim_names_the_tenant_whose_keys_create_the_session(sandbox: Sandbox) -> None:
    seen: list[Recruiter] = []

    async def keys(recruiter: Recruiter) -> Credentials | None:
        seen.append(recruiter)
        return ACME if recruiter.tenant == "acme" else None

    with served(tenant_app(sandbox, keys=keys)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
    assert response.status_code == 200
    assert seen == [Recruiter(id="rec_42", email="rita@hire.example", tenant="acme")]
    assert sandbox.sessions() == 1


@pytest.mark.parametrize(
    "claim",
    [None, "", 42, ["acme"], {"id": "acme"}, True, "a" * 129, "ac\nme", "acme\x00", "\u2028"],
    ids=["missing", "empty", "number", "list", "object", "bool", "129 chars", "newline", "nul",
         "line separator"],
)
def test_a_missing_or_malformed_claim_is_403_and_never_reaches_the_platform(
    sandbox: Sandbox, claim: Any
) -> None:
    asked: list[Recruiter] = []

    def keys(recruiter: Recruiter) -> Credentials:
        asked.append(recruiter)
        return ACME

    with served(tenant_app(sandbox, keys=keys)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token(claim))
    assert response.status_code == 403
    assert response.json() == {
        "success": False, "code": "tenant_required",
        "error": "The sign-in token does not name a valid organisation",
    }
    assert asked == []
    assert sandbox.app.recorder.requests == []


@pytest.mark.parametrize("claim", ["a" * 128, "x", "Acme Corp. (EU) — Zürich", "org_2b9X"],
                         ids=["128 chars", "one char", "spaces and unicode", "auth0 style"])
def test_any_printable_claim_up_to_128_characters_is_a_tenant(sandbox: Sandbox, claim: str) -> None:
    seen: list[str | None] = []

    def keys(recruiter: Recruiter) -> Credentials:
        seen.append(recruiter.tenant)
        return ACME

    with served(tenant_app(sandbox, keys=keys)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token(claim))
    assert response.status_code == 200
    assert seen == [claim]


def test_the_claim_comes_from_the_environment_too(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESSMENT_TENANT_CLAIM", "tid")  # Entra ID's name for it
    seen: list[str | None] = []

    def keys(recruiter: Recruiter) -> Credentials:
        seen.append(recruiter.tenant)
        return ACME

    app = AssessmentApp(base_url=sandbox.platform_url, jwt_secret=JWT_SECRET, keys=keys)
    assert app.settings.tenant_claim == "tid"
    with served(app) as (client, url):
        named = client.post(url, json={"users": USERS}, headers=auth(make_token(tid="contoso")))
        unnamed = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
    assert named.status_code == 200
    assert (unnamed.status_code, unnamed.json()["code"]) == (403, "tenant_required")
    assert seen == ["contoso"]


def test_without_the_setting_the_claim_is_ignored_and_there_is_no_tenant(sandbox: Sandbox) -> None:
    seen: list[str | None] = []

    def keys(recruiter: Recruiter) -> Credentials:
        seen.append(recruiter.tenant)
        return ACME

    with served(assessment_app(sandbox, keys=keys)) as (client, url):
        with_claim = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
        without = client.post(url, json={"users": USERS}, headers=auth())
    assert (with_claim.status_code, without.status_code) == (200, 200)
    assert seen == [None, None]


def test_a_blank_setting_means_unset() -> None:
    app = AssessmentApp(jwt_secret=JWT_SECRET, tenant_claim="  ", api_key=API_KEY,
                        secret_key=SECRET_KEY)
    assert app.settings.tenant_claim is None
    assert "tenant_claim" not in repr(app.resolve_recruiter)


def test_a_custom_resolver_may_set_the_tenant_itself(sandbox: Sandbox) -> None:
    """No claim setting: the host's own resolver knows the organisation (a session, a header)."""
    seen: list[Recruiter] = []

    def resolve(principal: Any, body: SessionRequest) -> Recruiter:
        return Recruiter(id=principal["sub"], tenant=f"tenant-of-{principal['sub']}")

    def keys(recruiter: Recruiter) -> Credentials:
        seen.append(recruiter)
        return ACME

    with served(assessment_app(sandbox, resolve_recruiter=resolve, keys=keys)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert [r.tenant for r in seen] == ["tenant-of-rec_42"]


def test_the_tenant_is_checked_before_the_body_can_contradict_the_token(sandbox: Sandbox) -> None:
    with served(tenant_app(sandbox)) as (client, url):
        no_tenant = client.post(url, json={"users": USERS, "recruiterId": "someone_else"},
                                headers=tenant_token(None))
        mismatch = client.post(url, json={"users": USERS, "recruiterId": "someone_else"},
                               headers=tenant_token("acme"))
    assert no_tenant.json()["code"] == "tenant_required"
    assert mismatch.json()["code"] == "recruiter_mismatch"
    assert sandbox.app.recorder.requests == []


def test_the_claim_name_is_a_checked_setting() -> None:
    from assessment_asgi import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        AssessmentApp(jwt_secret=JWT_SECRET, tenant_claim="x" * 257)
    assert info.value.setting == "ASSESSMENT_TENANT_CLAIM"
