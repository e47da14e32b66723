"""The three hooks, replaced by a host's own callables (sync and async)."""

from __future__ import annotations

import logging
import queue
from typing import Any

import pytest
from starlette.requests import Request

from assessment_asgi import (
    AssessmentApp,
    AuthError,
    Credentials,
    PermissionDenied,
    Recruiter,
    SessionCreated,
    SessionRefused,
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


def test_an_authenticate_hook_reads_the_body_and_sees_the_client_still_there(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    """The body the app already read is replayed to the hook's Request; after it, the
    connection's own `receive` answers, so `is_disconnected()` is False for a client that is
    waiting for its answer (a hook that stops work for a client gone must not stop every one)."""
    seen: list[tuple[Any, bool]] = []

    async def signed_body(request: Request) -> dict[str, Any]:
        payload = await request.json()
        seen.append((payload["users"][0]["email"], await request.is_disconnected()))
        return {"sub": "rec_body"}

    with served(AssessmentApp(base_url=platform_url, authenticate=signed_body)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert seen == [(USERS[0]["email"], False)]


def test_an_authenticate_hook_sees_a_client_that_went_away(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    """A hook doing slow work may stop when the client has gone: once the client hangs up,
    `request.is_disconnected()` turns True (the connection's own `receive` answers after the
    replayed body). The hook polls for it, for at most 10 s."""
    import asyncio
    import socket
    import threading
    from urllib.parse import urlsplit

    noticed = threading.Event()

    async def slow_hook(request: Request) -> dict[str, Any]:
        await request.body()
        for _ in range(500):
            if await request.is_disconnected():
                noticed.set()
                break
            await asyncio.sleep(0.02)
        raise AuthError("gone")

    with served(AssessmentApp(base_url=platform_url, authenticate=slow_hook)) as (_client, url):
        parts = urlsplit(url)
        body = b'{"users": [{"name": "Ada", "email": "ada@example.com"}]}'
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
            conn.sendall(
                f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
        assert noticed.wait(10)
    assert platform.calls == []


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


def test_a_keys_hook_that_takes_the_recruiter_is_given_the_resolved_one(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    """``keys(recruiter)``: the pair for whoever the request was resolved to (a tenant's)."""
    seen: list[tuple[str, str | None]] = []

    def per_recruiter(recruiter: Recruiter) -> Credentials:
        seen.append((recruiter.id, recruiter.email))
        return Credentials(API_KEY, SECRET_KEY)

    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, keys=per_recruiter)
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert seen == [("rec_42", "rita@hire.example")]
    assert platform.calls[0]["headers"]["x-api-key"] == API_KEY


def test_a_recruiter_hook_returning_the_wrong_type_is_a_500_the_log_explains(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The exception's message is withheld from the log (it may quote secrets), so the
    operator learns what went wrong from the stack: the line that raised names the rule."""
    assessment = AssessmentApp(
        base_url=platform_url, jwt_secret=JWT_SECRET,
        resolve_recruiter=lambda principal, body: {"id": "rec_42"},
    )
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    (line,) = [r.getMessage() for r in caplog.records
               if r.name == "assessment_asgi" and r.levelno >= logging.ERROR]
    assert line.startswith("unhandled error in the assessment endpoint\n")
    assert 'raise TypeError("resolve_recruiter must return a Recruiter")\n' in line  # the frame's line
    assert "builtins.TypeError" in line
    assert platform.calls == []


def _events() -> tuple[queue.Queue[Any], dict[str, Any]]:
    """Audit hooks that hand each event to the test (they run after the answer is sent)."""
    events: queue.Queue[Any] = queue.Queue()

    async def record(event: Any) -> None:
        events.put(event)

    return events, {"on_session_created": record, "on_session_refused": record}


def test_a_created_session_is_reported_to_the_audit_hook(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    events, hooks = _events()
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, **hooks)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
        event = events.get(timeout=30)  # a bound for a broken app, not a timing
    assert response.status_code == 200
    assert isinstance(event, SessionCreated)
    assert (event.recruiter.id, event.recruiter.email) == ("rec_42", "rita@hire.example")
    assert [(c.name, c.email) for c in event.candidates] == [(u["name"], u["email"]) for u in USERS]
    assert event.expires_at == response.json()["data"]["expiresAt"]
    assert events.empty()


def test_a_replayed_answer_is_not_reported_as_a_new_session(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    platform.sandbox.clear_script()  # a token that expires later: the answer is kept for a replay
    events, hooks = _events()
    headers = {**auth(), "Idempotency-Key": "audit-1"}
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, **hooks)) as (client, url):
        first = client.post(url, json={"users": USERS}, headers=headers)
        created = events.get(timeout=30)
        again = client.post(url, json={"users": USERS}, headers=headers)
        # The last request's report, if any, is made before the server stops.
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert isinstance(created, SessionCreated)
    assert events.empty()
    assert len(platform.calls) == 1


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [({"users": []}, "users_required", 400), ({"users": USERS, "recruiterId": "rec_99"},
                                                "recruiter_mismatch", 403)],
    ids=["users-required", "recruiter-mismatch"],
)
def test_a_refusal_is_reported_with_its_code_and_status(
    served: Any, platform: FakePlatform, platform_url: str, body: Any, code: str, status: int
) -> None:
    events, hooks = _events()
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, **hooks)) as (client, url):
        response = client.post(url, json=body, headers=auth())
        event = events.get(timeout=30)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert isinstance(event, SessionRefused)
    assert (event.code, event.status, event.recruiter) == (code, status, None)
    assert events.empty()


def test_a_failing_hook_is_reported_as_an_internal_error(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    def broken(request: Request) -> Any:
        raise RuntimeError("the session store is down")

    events, hooks = _events()
    with served(AssessmentApp(base_url=platform_url, authenticate=broken, **hooks)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
        event = events.get(timeout=30)
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    assert isinstance(event, SessionRefused)
    assert (event.code, event.status, event.recruiter, event.candidates) == ("internal_error", 500, None, ())
    assert events.empty()
