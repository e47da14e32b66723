"""Guarantees a browser or a recruiter would notice, each pinned by a test that a regression
fails: one platform call per request whatever the platform answers, the answer to a platform
4xx, ``Cache-Control: no-store`` on every answer, who is refused first, a blocking sync hook
that does not stall other requests, and the JWT leeway."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import anyio
import httpx2
import pytest

from assessment_asgi import AssessmentApp, Credentials
from tests._fake import JWT_SECRET, USERS, FakePlatform, auth, make_token

pytestmark = pytest.mark.usefixtures("env_keys")


@pytest.mark.parametrize(
    ("mode", "status"),
    [("ok", 200), ("500", 502), ("html", 502), ("html200", 502), ("bad_envelope", 502),
     ("401", 502), ("429", 429), ("slow", 504)],
)
def test_each_request_calls_the_platform_exactly_once(
    served: Any, platform: FakePlatform, platform_url: str, mode: str, status: int
) -> None:
    """A session is a create: sending it twice could invite every candidate twice."""
    platform.mode, platform.delay = mode, 3.0
    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, timeout=1.0, read_timeout=1.0)
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == status
    assert len(platform.calls) == 1


@pytest.mark.parametrize("platform_status", [400, 404, 409, 422])
def test_a_platform_refusal_is_a_502_platform_rejected(
    served: Any, platform: FakePlatform, platform_url: str, platform_status: int
) -> None:
    refusal = {"success": False, "error": "no such thing"}
    platform.sandbox.clear_script()
    platform.sandbox.script("POST", "/sessions", status=platform_status, body=refusal, times=None)
    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 502
    assert response.json() == {
        "success": False, "code": "platform_rejected", "error": "The assessment platform refused the request",
    }
    assert len(platform.calls) == 1


def test_every_answer_says_no_store(served: Any, platform: FakePlatform, platform_url: str) -> None:
    """Tokens and refusals alike must never be cached by a browser or a proxy."""
    keys = {"mode": "ok"}

    def key_provider() -> Credentials | None:
        if keys["mode"] == "fail":
            raise RuntimeError("the secrets manager is down")
        if keys["mode"] == "none":
            return None
        return Credentials("wc_ak_test_nostore", "wc_sk_test_nostore")

    assessment = AssessmentApp(
        base_url=platform_url, jwt_secret=JWT_SECRET, keys=key_provider, max_body_bytes=4096,
        rate_limit="",
    )
    platform.api_key, platform.secret_key = "wc_ak_test_nostore", "wc_sk_test_nostore"
    valid = {"json": {"users": USERS}, "headers": auth()}
    cases: list[tuple[str, dict[str, Any], str, int]] = [
        ("ok", valid, "ok", 200),
        ("invalid json", {"content": b"{", "headers": {**auth(), "content-type": "application/json"}},
         "ok", 400),
        ("invalid body", {"json": {"users": [{"name": "", "email": "x"}]}, "headers": auth()}, "ok", 400),
        ("no token", {"json": {"users": USERS}}, "ok", 401),
        ("too large", {"json": {"users": USERS * 60}, "headers": auth()}, "ok", 413),
        ("wrong type", {"content": b"{}", "headers": {**auth(), "content-type": "text/plain"}}, "ok", 415),
        ("failing keys hook", valid, "fail", 503),  # keys_unavailable (issue 20)
        ("no keys", valid, "none", 500),
    ]
    with served(assessment) as (client, url):
        for name, request, mode, status in cases:
            keys["mode"] = mode
            response = client.post(url, **request)
            assert (name, response.status_code) == (name, status)
            assert (name, response.headers.get("cache-control")) == (name, "no-store")
        for name, response, status in [
            ("not found", client.post(url.replace("/session", "/nowhere"), **valid), 404),
            ("wrong method", client.get(url), 405),
        ]:
            assert (name, response.status_code) == (name, status)
            assert (name, response.headers.get("cache-control")) == (name, "no-store")
        for mode, status in [("500", 502), ("429", 429), ("401", 502)]:
            keys["mode"], platform.mode = "ok", mode
            response = client.post(url, **valid)
            assert (mode, response.status_code) == (mode, status)
            assert (mode, response.headers.get("cache-control")) == (mode, "no-store")


@pytest.mark.parametrize(
    "body",
    [{"users": []}, {}, {"users": "everyone"}, {"users": [{"name": "", "email": "not-an-email"}]},
     {"users": USERS, "recruiterId": "someone_else"}, {"users": USERS * 40}],
    ids=["empty users", "no users", "users not a list", "bad candidate", "other recruiter", "too many"],
)
@pytest.mark.parametrize("token", ["none", "expired", "wrongly signed"])
def test_who_is_calling_is_checked_before_what_they_sent(
    served: Any, platform: FakePlatform, platform_url: str, body: dict[str, Any], token: str
) -> None:
    """An anonymous caller learns nothing about the body's rules: 401 first, never a 400."""
    headers = {
        "none": {},
        "expired": auth(make_token(exp=int(time.time()) - 3600)),
        "wrongly signed": auth(make_token(secret="another-secret-another-secret-0123456789")),
    }[token]
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)) as (client, url):
        response = client.post(url, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert platform.calls == []


@pytest.mark.anyio
async def test_a_blocking_sync_hook_does_not_stall_other_requests(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    """A sync ``authenticate`` that blocks (a database, a remote session store) runs in a worker
    thread: while it waits, the server keeps answering other requests."""
    inside, release = threading.Event(), threading.Event()

    def authenticate(request: Any) -> dict[str, str]:
        if request.headers.get("x-caller") == "slow":
            inside.set()
            # Waits for the test, not the clock; the bound only unblocks a broken server.
            release.wait(60)
        return {"sub": "rec_42"}

    answers: dict[str, int] = {}
    with served(AssessmentApp(base_url=platform_url, authenticate=authenticate)) as (_, url):
        async with httpx2.AsyncClient(timeout=60) as client:

            async def post(who: str) -> None:
                response = await client.post(url, json={"users": USERS}, headers={"x-caller": who})
                answers[who] = response.status_code

            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(post, "slow")
                    await anyio.to_thread.run_sync(inside.wait)
                    # If the hook ran on the event loop, this request could not be answered
                    # while it blocks: fail instead of hanging.
                    with anyio.fail_after(20):
                        await post("quick")
                    assert answers == {"quick": 200}  # answered while the slow one waits
                    release.set()
            finally:
                release.set()
    assert answers == {"quick": 200, "slow": 200}
    assert len(platform.calls) == 2


@pytest.mark.parametrize(
    ("leeway", "expired_ago", "status"),
    [(None, 10, 200), (None, 120, 401), (300, 240, 200), (300, 400, 401)],
    ids=["default-inside", "default-past", "configured-inside", "configured-past"],
)
def test_a_token_expired_within_the_leeway_is_accepted(
    served: Any, platform: FakePlatform, platform_url: str,
    leeway: int | None, expired_ago: int, status: int,
) -> None:
    """Clocks drift between the recruiter app and this server: ``exp`` is honoured with the
    configured leeway (default 30 s), and not beyond it."""
    settings: dict[str, Any] = {} if leeway is None else {"jwt_leeway": leeway}
    token = make_token(exp=int(time.time()) - expired_ago, iat=int(time.time()) - 3600)
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, **settings)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth(token))
    assert response.status_code == status
    assert len(platform.calls) == (1 if status == 200 else 0)


@pytest.mark.parametrize(
    ("status", "level", "line"),
    [
        (500, logging.ERROR,
         "platform error creating a session: SmartAIServerError (status=500 request_id=req-77)"),
        (401, logging.ERROR,
         "the platform refused this server's API key or secret (status=401 request_id=req-77): "
         "check ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY"),
        (429, logging.WARNING, "platform rate limited this server (status=429 request_id=req-77)"),
        (422, logging.ERROR, "the platform refused the session request (status=422 request_id=req-77)"),
    ],
)
def test_the_operator_log_line_names_the_outcome_status_and_request_id(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture,
    status: int, level: int, line: str,
) -> None:
    """What an operator greps for: one line per failed create, with the platform's request id
    to quote to SmartAI support."""
    platform.sandbox.clear_script()
    platform.sandbox.script("POST", "/sessions", status=status, body={"success": False, "error": "no"},
                            headers={"x-request-id": "req-77"}, times=None)
    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)
    with served(assessment) as (client, url):
        client.post(url, json={"users": USERS}, headers=auth())
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]
    assert lines == [(level, line)]


def test_a_platform_timeout_is_logged_as_a_warning(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    platform.mode, platform.delay = "slow", 3.0
    assessment = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, timeout=1.0, read_timeout=1.0)
    with served(assessment) as (client, url):
        assert client.post(url, json={"users": USERS}, headers=auth()).status_code == 504
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]
    assert lines == [(logging.WARNING, "platform timed out creating a session (status=None request_id=None)")]


def test_a_missing_base_url_is_logged_and_answered_500(served: Any, caplog: pytest.LogCaptureFixture) -> None:
    with served(AssessmentApp(jwt_secret=JWT_SECRET)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert (response.status_code, response.json()) == (500, {
        "success": False, "code": "not_configured", "error": "ASSESSMENT_BASE_URL is not set on the server",
    })
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]
    assert lines == [(logging.ERROR, "cannot create a session: ASSESSMENT_BASE_URL is not set")]


def test_a_created_session_is_logged_at_debug_with_its_duration(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)) as (client, url):
        before = time.perf_counter()
        assert client.post(url, json={"users": USERS}, headers=auth()).status_code == 200
        elapsed_ms = (time.perf_counter() - before) * 1000
    (record,) = [r for r in caplog.records if r.name == "assessment_asgi" and r.levelno == logging.DEBUG
                 and r.getMessage().startswith("session created")]
    assert record.msg == "session created: %d candidate(s) in %.1f ms"
    count, duration = record.args  # type: ignore[misc]
    assert count == 3
    assert 0 <= duration <= elapsed_ms  # measured inside the request the test timed around


def _keys_outcome(served: Any, caplog: pytest.LogCaptureFixture, platform_url: str,
                  **options: Any) -> tuple[int, dict[str, Any], list[tuple[int, str]]]:
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, **options)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]
    return response.status_code, response.json(), lines


def test_keys_missing_from_the_environment_name_the_variable(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ASSESSMENT_API_KEY")
    status, body, lines = _keys_outcome(served, caplog, platform_url)
    assert (status, body["code"]) == (500, "not_configured")
    assert "ASSESSMENT_API_KEY" in body["error"]
    assert lines == [(logging.ERROR, f"cannot create a session: {body['error']}")]
    assert platform.calls == []


def test_a_keys_hook_returning_nothing_is_a_500(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, body, lines = _keys_outcome(served, caplog, platform_url, keys=lambda: None)
    assert (status, body) == (500, {
        "success": False, "code": "not_configured", "error": "The platform keys are not set on the server",
    })
    assert lines == [(logging.ERROR, "cannot create a session: the keys hook returned no credentials")]


def test_a_keys_hook_may_answer_with_its_own_problem(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from assessment_asgi import HTTPException

    def vault_down() -> Credentials:
        raise HTTPException("service_unavailable", "The key vault is unavailable")

    status, body, lines = _keys_outcome(served, caplog, platform_url, keys=vault_down)
    assert (status, body["code"]) == (503, "service_unavailable")
    assert body["error"] == "The key vault is unavailable"
    assert lines == []  # not a configuration problem: nothing for the operator to fix here


def test_a_recruiter_hook_returning_nothing_is_a_400(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    assessment = AssessmentApp(
        base_url=platform_url, jwt_secret=JWT_SECRET, resolve_recruiter=lambda principal, body: None
    )
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert (response.status_code, response.json()) == (400, {
        "success": False, "code": "recruiter_required", "error": "Provide recruiterId or recruiterEmail",
    })
    assert platform.calls == []


def test_max_users_is_a_limit_inclusive(served: Any, platform: FakePlatform, platform_url: str) -> None:
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, max_users=3)) as (client, url):
        at_limit = client.post(url, json={"users": USERS}, headers=auth())
        over = client.post(url, json={"users": [*USERS, {"name": "Dan", "email": "dan@example.com"}]},
                           headers=auth())
    assert at_limit.status_code == 200
    assert (over.status_code, over.json()) == (400, {
        "success": False, "code": "too_many_users", "error": "At most 3 users per session",
    })


def test_an_authenticate_hook_can_read_the_body(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    seen: list[Any] = []

    async def authenticate(request: Any) -> dict[str, str]:
        seen.append(await request.json())  # e.g. to check a signature over the body
        return {"sub": "rec_42"}

    with served(AssessmentApp(base_url=platform_url, authenticate=authenticate)) as (client, url):
        assert client.post(url, json={"users": USERS}).status_code == 200
    assert seen == [{"users": USERS}]


def test_the_logged_duration_is_in_milliseconds(
    served: Any, platform: FakePlatform, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A platform that takes 300 ms to answer is logged as at least 300 ms: the unit is the
    one the message names."""
    platform.mode, platform.delay = "slow", 0.3
    with served(AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET)) as (client, url):
        assert client.post(url, json={"users": USERS}, headers=auth()).status_code == 200
    (record,) = [r for r in caplog.records if r.name == "assessment_asgi" and r.levelno == logging.DEBUG
                 and r.getMessage().startswith("session created")]
    _, duration = record.args  # type: ignore[misc]
    assert 300 <= duration < 30_000
