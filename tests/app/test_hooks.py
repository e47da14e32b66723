"""The three hooks, replaced by a host's own callables (sync and async)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from assessment_asgi import (
    AssessmentApp,
    AuthError,
    Credentials,
    PermissionDenied,
    Recruiter,
    SessionRequest,
    StaticKeys,
)
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, USERS, FakePlatform, auth

pytestmark = pytest.mark.usefixtures("env_keys")


def sync_api_key_auth(request: Request) -> dict[str, Any]:
    if request.headers.get("authorization") != "Bearer let-me-in":
        raise AuthError("Wrong key")
    return {"sub": "sync-recruiter"}


async def async_session_auth(request: Request) -> dict[str, Any] | None:
    if request.headers.get("authorization") != "Bearer let-me-in":
        return None
    return {"sub": "async-recruiter", "email": "async@hire.example"}


@pytest.mark.parametrize("hook", [sync_api_key_auth, async_session_auth], ids=["sync", "async"])
def test_custom_authenticate_hook(
    served: Any, platform: FakePlatform, platform_url: str, hook: Any
) -> None:
    with served(AssessmentApp(base_url=platform_url, authenticate=hook)) as (client, url):
        ok = client.post(url, json={"users": USERS}, headers={"Authorization": "Bearer let-me-in"})
        refused = client.post(url, json={"users": USERS}, headers={"Authorization": "Bearer no"})
    assert ok.status_code == 200
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert len(platform.calls) == 1
    assert platform.calls[0]["body"]["recruiterId"] in {"sync-recruiter", "async-recruiter"}


def test_authenticate_hook_can_forbid(served: Any, platform: FakePlatform, platform_url: str) -> None:
    def only_admins(request: Request) -> Any:
        raise PermissionDenied("Recruiters only")

    with served(AssessmentApp(base_url=platform_url, authenticate=only_admins)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 403
    assert response.json() == {"success": False, "error": "Recruiters only", "code": "forbidden"}
    assert platform.calls == []


def test_custom_recruiter_resolver(served: Any, platform: FakePlatform, platform_url: str) -> None:
    seen: list[tuple[Any, SessionRequest]] = []

    async def from_database(principal: Any, body: SessionRequest) -> Recruiter:
        seen.append((principal, body))
        return Recruiter(id=f"db-{principal['sub']}", email="db@hire.example")

    assessment = AssessmentApp(
        base_url=platform_url, jwt_secret=JWT_SECRET, resolve_recruiter=from_database
    )
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert seen[0][0]["sub"] == "rec_42"
    assert len(seen[0][1].users) == 3
    assert platform.calls[0]["body"]["recruiterId"] == "db-rec_42"
    assert platform.calls[0]["body"]["recruiterEmail"] == "db@hire.example"


def test_recruiter_claim_names_are_configurable(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    from tests._fake import make_token

    assessment = AssessmentApp(
        base_url=platform_url, jwt_secret=JWT_SECRET,
        recruiter_id_claim="rid", recruiter_email_claim="mail",
    )
    token = make_token(sub="user-1", rid="R-7", mail="r7@hire.example")
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth(token))
    assert response.status_code == 200
    assert platform.calls[0]["body"]["recruiterId"] == "R-7"
    assert platform.calls[0]["body"]["recruiterEmail"] == "r7@hire.example"


def test_async_key_provider_is_asked_on_every_request(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    """Rotation without restart: the next request uses the new pair."""
    current = {"pair": Credentials(API_KEY, SECRET_KEY)}

    async def secrets_manager() -> Credentials:
        return current["pair"]

    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, keys=secrets_manager)
    with served(assessment) as (client, url):
        first = client.post(url, json={"users": USERS}, headers=auth())
        current["pair"] = Credentials("wc_ak_test_rotated", "wc_sk_test_rotated")
        platform.api_key, platform.secret_key = "wc_ak_test_rotated", "wc_sk_test_rotated"
        second = client.post(url, json={"users": USERS}, headers=auth())
    assert (first.status_code, second.status_code) == (200, 200)
    assert [c["headers"]["x-api-key"] for c in platform.calls] == [API_KEY, "wc_ak_test_rotated"]


def test_environment_keys_are_read_per_request(
    served: Any, platform: FakePlatform, platform_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)) as (client, url):
        monkeypatch.setenv("ASSESSMENT_API_KEY", "wc_ak_test_new")
        platform.api_key = "wc_ak_test_new"
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert platform.calls[0]["headers"]["x-api-key"] == "wc_ak_test_new"


def test_static_keys_and_credentials_are_accepted(
    served: Any, platform: FakePlatform, platform_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSESSMENT_API_KEY")
    for keys in (StaticKeys(API_KEY, SECRET_KEY), Credentials(API_KEY, SECRET_KEY)):
        assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, keys=keys)
        with served(assessment) as (client, url):
            assert client.post(url, json={"users": USERS}, headers=auth()).status_code == 200


def test_a_failing_hook_is_a_generic_500(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    def broken(request: Request) -> Any:
        raise RuntimeError("/srv/app/secret_path.py exploded")

    with served(AssessmentApp(base_url=platform_url, authenticate=broken)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 500
    assert response.json() == {
        "success": False, "error": "Internal server error", "code": "internal_error",
    }
    assert "secret_path" not in response.text
