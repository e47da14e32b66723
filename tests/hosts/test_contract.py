"""One contract, five hosts, two event loops: the endpoint behaves identically wherever mounted.

Hosts: Starlette, FastAPI (``contrib.fastapi``), Litestar (``contrib.litestar`` plugin),
Quart (``contrib.quart``, i.e. the middleware) and a bare ASGI callable behind
``AssessmentMiddleware``; each called in-process through ``httpx2.ASGITransport``, on asyncio
and trio — except Quart, whose own request handling calls asyncio directly (asyncio only).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._fake import API_KEY, STANDIN_EXPIRES, STANDIN_TOKEN, USERS, FakePlatform, make_token

from .conftest import PREFIX

pytestmark = pytest.mark.anyio

SESSION = f"{PREFIX}/session"


def bearer(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token if token is not None else make_token()}"}


async def test_creates_a_session(hosted: Any, platform: FakePlatform) -> None:
    async with hosted() as client:
        response = await client.post(SESSION, json={"users": USERS}, headers=bearer())
    assert response.status_code == 200
    assert response.json() == {"success": True,
                               "data": {"token": STANDIN_TOKEN, "expiresAt": STANDIN_EXPIRES}}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    (call,) = platform.calls
    assert call["headers"]["x-api-key"] == API_KEY
    assert call["body"] == {"users": USERS, "recruiterId": "rec_42",
                            "recruiterEmail": "rita@hire.example"}


async def test_a_trailing_slash_is_served_not_redirected(hosted: Any, platform: FakePlatform) -> None:
    async with hosted() as client:
        response = await client.post(f"{SESSION}/", json={"users": USERS}, headers=bearer())
    assert response.status_code == 200
    assert response.json()["data"]["token"] == STANDIN_TOKEN


@pytest.mark.parametrize(
    ("settings", "body", "claims", "status", "code"),
    [
        ({"api_key": None, "secret_key": None}, {"users": USERS}, {}, 500, "not_configured"),
        ({}, {"users": []}, {}, 400, "users_required"),
        ({}, {"users": USERS}, {"sub": None, "email": None}, 400, "recruiter_required"),
    ],
    ids=["api-key-not-set-500", "users-empty-400", "no-recruiter-400"],
)
async def test_the_docs_mistakes_table(
    hosted: Any, platform: FakePlatform, settings: dict[str, Any], body: Any,
    claims: dict[str, Any], status: int, code: str,
) -> None:
    async with hosted(**settings) as client:
        response = await client.post(SESSION, json=body, headers=bearer(make_token(**claims)))
    assert response.status_code == status
    payload = response.json()
    assert payload["success"] is False
    assert payload["code"] == code
    if code == "not_configured":
        assert "ASSESSMENT_API_KEY" in payload["error"]
    assert platform.calls == []


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("not-a-jwt"), bearer(make_token(secret="another-secret-" + "x" * 32))],
    ids=["no-header", "garbage", "wrong-signature"],
)
async def test_unauthenticated_calls_are_401(
    hosted: Any, platform: FakePlatform, headers: dict[str, str]
) -> None:
    async with hosted() as client:
        response = await client.post(SESSION, json={"users": USERS}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthorized"
    assert platform.calls == []


async def test_another_recruiter_in_the_body_is_403(hosted: Any, platform: FakePlatform) -> None:
    async with hosted() as client:
        response = await client.post(SESSION, json={"users": USERS, "recruiterId": "rec_99"},
                                     headers=bearer())
    assert response.status_code == 403
    assert response.json()["code"] == "recruiter_mismatch"
    assert platform.calls == []


async def test_other_methods_are_405(hosted: Any) -> None:
    async with hosted() as client:
        response = await client.get(SESSION, headers=bearer())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, OPTIONS"
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", [f"{PREFIX}/sessions", f"{PREFIX}/", f"{PREFIX}/session/x"])
async def test_unknown_paths_under_the_prefix_are_404_in_the_envelope(hosted: Any, path: str) -> None:
    async with hosted() as client:
        response = await client.post(path, json={"users": USERS}, headers=bearer())
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Not found", "code": "not_found"}


@pytest.mark.parametrize("root_path", ["", "/api"])
async def test_openapi_document_names_the_mount_as_its_server(hosted: Any, root_path: str) -> None:
    async with hosted(root_path=root_path) as client:
        response = await client.get(f"{root_path}{PREFIX}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": f"{root_path}{PREFIX}"}]
    assert list(document["paths"]) == ["/session"]


async def test_the_hosts_own_routes_still_answer(hosted: Any, host: Any) -> None:
    async with hosted() as client:
        response = await client.get("/hello")
    assert response.status_code == 200
    assert response.text == f"hello from {host.name}"
