"""POST <prefix>/session end to end: real hosts, real uvicorn, a real platform stand-in."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from assessment_asgi import AssessmentApp
from tests._fake import (
    API_KEY,
    JWT_SECRET,
    SECRET_KEY,
    STANDIN_EXPIRES,
    STANDIN_TOKEN,
    USERS,
    FakePlatform,
    auth,
    make_token,
)

from .conftest import every_host

pytestmark = pytest.mark.usefixtures("env_keys")


def app_for(platform_url: str, **kwargs: Any) -> AssessmentApp:
    kwargs.setdefault("jwt_secret", JWT_SECRET)
    return AssessmentApp(base_url=platform_url, **kwargs)


@every_host
def test_creates_a_session_and_returns_only_token_and_expiry(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {"token": STANDIN_TOKEN, "expiresAt": STANDIN_EXPIRES},
    }
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    (call,) = platform.calls
    assert call["headers"]["x-api-key"] == API_KEY
    assert call["headers"]["x-secret-key"] == SECRET_KEY
    assert call["body"] == {
        "users": USERS,
        "recruiterId": "rec_42",
        "recruiterEmail": "rita@hire.example",
    }


def test_body_may_repeat_the_signed_in_recruiter(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    body = {"users": USERS[:1], "recruiterId": "rec_42", "recruiterEmail": "RITA@hire.example"}
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url, json=body, headers=auth())
    assert response.status_code == 200
    assert platform.calls[0]["body"]["recruiterId"] == "rec_42"


@pytest.mark.parametrize(
    ("body", "claims"),
    [
        ({"users": USERS, "recruiterId": "rec_99"}, {}),
        ({"users": USERS, "recruiterEmail": "someone@else.example"}, {}),
        ({"users": USERS, "recruiterEmail": "rita@hire.example"}, {"email": None}),
    ],
    ids=["other-id", "other-email", "email-not-in-token"],
)
def test_a_recruiter_cannot_act_in_another_recruiters_name(
    served: Any, platform: FakePlatform, platform_url: str, body: Any, claims: Any
) -> None:
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url, json=body, headers=auth(make_token(**claims)))
    assert response.status_code == 403
    assert response.json()["code"] == "recruiter_mismatch"
    assert platform.calls == []


@every_host
class TestDocsMistakesTable:
    """Each row of the platform docs' 'common mistakes' table."""

    def test_missing_api_key_is_a_500_naming_the_setting(
        self, served: Any, platform: FakePlatform, platform_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.delenv("ASSESSMENT_API_KEY")
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url, json={"users": USERS}, headers=auth())
        assert response.status_code == 500
        assert response.json() == {
            "success": False,
            "error": "ASSESSMENT_API_KEY is not set on the server",
            "code": "not_configured",
        }
        assert platform.calls == []

    def test_empty_users_is_a_400(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url, json={"users": []}, headers=auth())
        assert response.status_code == 400
        assert response.json()["code"] == "users_required"
        assert isinstance(response.json()["error"], str)
        assert platform.calls == []

    def test_no_recruiter_anywhere_is_a_400(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        token = make_token(sub=None, email=None)
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url, json={"users": USERS}, headers=auth(token))
        assert response.status_code == 400
        assert response.json()["code"] == "recruiter_required"
        assert platform.calls == []


BAD_TOKENS = {
    "expired": lambda: make_token(exp=1_600_000_000),
    "no-exp": lambda: make_token(exp=None),
    "wrong-secret": lambda: make_token(secret="another-secret-that-is-long-enough-0000"),
    "junk": lambda: "not-a-jwt",
    "alg-none": lambda: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyZWNfNDIiLCJleHAiOjk5OTk5OTk5OTl9.",
    "header-is-a-json-string": lambda: "IkhTMjU2Ig.eyJzdWIiOiJ4In0.c2ln",
    "tampered": lambda: make_token()[:-4] + "AAAA",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_every_bad_token_is_a_401_with_www_authenticate(
    served: Any, platform: FakePlatform, platform_url: str, kind: str
) -> None:
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth(BAD_TOKENS[kind]()))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "unauthorized"
    assert platform.calls == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
     {"Authorization": "Bearer " + "a" * 10_000}],
    ids=["missing", "basic", "empty", "oversized"],
)
def test_missing_or_malformed_authorization_is_a_401(
    served: Any, platform: FakePlatform, platform_url: str, headers: dict[str, str]
) -> None:
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert platform.calls == []


def test_without_any_auth_configured_every_call_is_refused(
    served: Any, platform: FakePlatform, platform_url: str
) -> None:
    assessment = AssessmentApp(base_url=platform_url)
    with served(assessment) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "not_configured"
    assert "ASSESSMENT_JWT_SECRET" in body["error"]
    assert platform.calls == []


class TestBadInput:
    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
    def test_wrong_method_is_a_405(
        self, served: Any, platform_url: str, method: str
    ) -> None:
        with served(app_for(platform_url)) as (client, url):
            response = client.request(method, url, headers=auth())
        assert response.status_code == 405
        assert response.headers["allow"] == "POST, OPTIONS"
        assert response.json()["code"] == "method_not_allowed"

    @pytest.mark.parametrize(
        "content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                         "application/json; charset=latin-1"]
    )
    def test_wrong_content_type_is_a_415(
        self, served: Any, platform: FakePlatform, platform_url: str, content_type: str | None
    ) -> None:
        headers = auth()
        if content_type:
            headers["Content-Type"] = content_type
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url, content=b'{"users": []}', headers=headers)
        assert response.status_code == 415
        assert response.json()["code"] == "unsupported_media_type"
        assert platform.calls == []

    def test_json_with_charset_is_accepted(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        headers = {**auth(), "Content-Type": "application/json; charset=UTF-8"}
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url, content=b'{"users": [{"name": "A", "email": "a@b.co"}]}',
                                   headers=headers)
        assert response.status_code == 200

    def test_oversized_body_is_a_413_with_and_without_content_length(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        big = b'{"users": [' + b'{"name": "x", "email": "x@example.com"},' * 3000 + b"]}"

        def chunks() -> Any:
            yield from (big[i:i + 4096] for i in range(0, len(big), 4096))

        headers = {**auth(), "Content-Type": "application/json"}
        with served(app_for(platform_url)) as (client, url):
            declared = client.post(url, content=big, headers=headers)
            streamed = client.post(url, content=chunks(), headers=headers)
        for response in (declared, streamed):
            assert response.status_code == 413
            assert response.json()["code"] == "payload_too_large"
        assert platform.calls == []

    @pytest.mark.parametrize(
        "raw", [b"{", b"", b"nope", b'{"users": NaN}', b"[1, 2"], ids=repr
    )
    def test_malformed_json_is_a_400(
        self, served: Any, platform: FakePlatform, platform_url: str, raw: bytes
    ) -> None:
        headers = {**auth(), "Content-Type": "application/json"}
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url, content=raw, headers=headers)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_json"
        assert platform.calls == []

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"users": [{"name": "A", "email": "not-an-email"}]}, ["users", 0, "email"]),
            ({"users": [{"name": "  ", "email": "a@example.com"}]}, ["users", 0, "name"]),
            ({"users": [{"name": "A", "email": "a@example.com\r\nBcc: x@evil.test"}]},
             ["users", 0, "email"]),
            # An unknown key is input too: named by its position only, never echoed.
            ({"users": [{"name": "A", "email": "a@example.com", "role": "admin"}]},
             ["users", 0]),
            ({"users": USERS, "callbackUrl": "https://evil.test"}, []),
            ({"users": [{"name": "A" * 201, "email": "a@example.com"}]}, ["users", 0, "name"]),
            ({"users": "ada@example.com"}, ["users"]),
            ({"users": 7}, ["users"]),
            ([USERS], []),
        ],
        ids=["bad-email", "blank-name", "crlf-email", "unknown-user-field", "unknown-field",
             "long-name", "users-not-list", "users-a-number", "not-an-object"],
    )
    def test_invalid_body_is_a_400_with_field_details(
        self, served: Any, platform: FakePlatform, platform_url: str, body: Any,
        loc: list[Any],
    ) -> None:
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url, json=body, headers=auth())
        assert response.status_code == 400
        payload = response.json()
        assert payload["code"] == "invalid_body"
        assert loc in [d["loc"] for d in payload["details"]]
        assert platform.calls == []

    def test_too_many_users_is_a_400(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        users = [{"name": f"C{i}", "email": f"c{i}@example.com"} for i in range(6)]
        with served(app_for(platform_url, max_users=5)) as (client, url):
            response = client.post(url, json={"users": users}, headers=auth())
        assert response.status_code == 400
        assert response.json()["code"] == "too_many_users"
        assert platform.calls == []

    def test_unknown_path_is_a_404_in_the_envelope(self, served: Any, platform_url: str) -> None:
        with served(app_for(platform_url)) as (client, url):
            response = client.post(url.replace("/session", "/sessions"), headers=auth())
        assert response.status_code == 404
        assert response.json() == {"success": False, "error": "Not found", "code": "not_found"}


@pytest.mark.parametrize(
    "path", ["/session/", "/session//"], ids=["trailing-slash", "two-trailing-slashes"]
)
def test_a_trailing_slash_still_reaches_the_endpoint(
    served: Any, platform: FakePlatform, platform_url: str, path: str
) -> None:
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url.removesuffix("/session") + path, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert len(platform.calls) == 1


@pytest.mark.parametrize("path", ["/sessions", "/sessionX", "/session/x", "/Session", "/session.json"])
def test_only_the_exact_route_is_served(
    served: Any, platform: FakePlatform, platform_url: str, path: str
) -> None:
    """A path that merely starts like ``/session`` (or differs in case) is not it."""
    with served(app_for(platform_url)) as (client, url):
        response = client.post(url.removesuffix("/session") + path, json={"users": USERS}, headers=auth())
    assert (response.status_code, response.json()) == (404, {
        "success": False, "error": "Not found", "code": "not_found",
    })
    assert platform.calls == []


def test_without_any_auth_configured_the_operator_is_told_what_to_set(
    served: Any, platform_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from assessment_asgi._build import AUTH_NOT_CONFIGURED

    with served(AssessmentApp(base_url=platform_url)) as (client, url):
        caplog.clear()  # the warning given at construction is not the one looked for here
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 500
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]
    assert lines == [(logging.ERROR, AUTH_NOT_CONFIGURED)]
    assert "ASSESSMENT_JWT_SECRET" in AUTH_NOT_CONFIGURED


class TestIdempotencyKey:
    """``Idempotency-Key``: a retried create gets the first answer back, not a second session."""

    @pytest.fixture(autouse=True)
    def _live_tokens(self, platform: FakePlatform) -> None:
        # The canned answer's token has expired, and an expired answer is never replayed: the
        # sandbox answers as the platform does instead (a token that expires later).
        platform.sandbox.clear_script()

    def test_a_retry_with_the_same_key_replays_the_first_answer(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        headers = {**auth(), "Idempotency-Key": "retry-1"}
        with served(app_for(platform_url)) as (client, url):
            first = client.post(url, json={"users": USERS}, headers=headers)
            again = client.post(url, json={"users": USERS}, headers=headers)
        assert first.status_code == again.status_code == 200
        assert first.json()["success"] is True
        assert again.json() == first.json()  # the same token, not a second session's
        assert "idempotent-replayed" not in first.headers  # the first answer is not a replay
        assert again.headers["idempotent-replayed"] == "true"
        assert len(platform.calls) == 1

    def test_a_key_reused_with_another_body_is_a_422(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        headers = {**auth(), "Idempotency-Key": "retry-2"}
        with served(app_for(platform_url)) as (client, url):
            first = client.post(url, json={"users": USERS}, headers=headers)
            other = client.post(url, json={"users": USERS[:1]}, headers=headers)
        assert first.status_code == 200
        assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
        assert len(platform.calls) == 1

    def test_each_new_key_creates_a_session(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        with served(app_for(platform_url)) as (client, url):
            answers = [client.post(url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": key})
                       for key in ("a", "b")]
        assert [a.status_code for a in answers] == [200, 200]
        assert ["idempotent-replayed" in a.headers for a in answers] == [False, False]
        assert len(platform.calls) == 2


class TestRateLimit:
    """``ASSESSMENT_RATE_LIMIT``: per recruiter, a request counted once with or without a key."""

    def test_a_recruiter_over_the_limit_is_a_429_and_others_are_not(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        other = auth(make_token(sub="rec_77", email="otto@hire.example"))
        with served(app_for(platform_url, rate_limit="2/minute")) as (client, url):
            statuses = [client.post(url, json={"users": USERS}, headers=auth()).status_code
                        for _ in range(3)]
            refused = client.post(url, json={"users": USERS}, headers=auth())
            someone_else = client.post(url, json={"users": USERS}, headers=other)
        assert statuses == [200, 200, 429]
        assert refused.json()["code"] == "rate_limited"
        assert someone_else.status_code == 200
        assert [c["body"]["recruiterId"] for c in platform.calls] == ["rec_42", "rec_42", "rec_77"]

    def test_a_request_with_a_key_is_counted_once(
        self, served: Any, platform: FakePlatform, platform_url: str
    ) -> None:
        with served(app_for(platform_url, rate_limit="2/minute")) as (client, url):
            statuses = [client.post(url, json={"users": USERS},
                                    headers={**auth(), "Idempotency-Key": key}).status_code
                        for key in ("k1", "k2", "k3")]
        assert statuses == [200, 200, 429]
        assert len(platform.calls) == 2


# -- the ASGI protocol: what a server hosting the app directly receives ---------------------


async def asgi_exchange(app: AssessmentApp, scope: dict[str, Any], *messages: dict[str, Any]) -> list[Any]:
    """The messages ``app`` sends for ``scope``, given ``messages`` to receive (then nothing)."""
    queue = list(messages)
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(10):  # a regression that waits forever fails instead of hanging
        await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_served_on_its_own_it_answers_the_lifespan_protocol(platform_url: str) -> None:
    """Under uvicorn without a host framework, start-up and shutdown are acknowledged."""
    sent = await asgi_exchange(
        app_for(platform_url), {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
        {"type": "lifespan.startup"}, {"type": "lifespan.shutdown"},
    )
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


@pytest.mark.anyio
async def test_a_websocket_is_closed_at_once(platform_url: str) -> None:
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": "/session", "root_path": "",
             "headers": [], "query_string": b"", "subprotocols": []}
    sent = await asgi_exchange(app_for(platform_url), scope, {"type": "websocket.connect"})
    assert sent == [{"type": "websocket.close", "code": 1000}]


@pytest.mark.anyio
async def test_options_without_cors_is_a_204_naming_the_methods(
    platform: FakePlatform, platform_url: str
) -> None:
    """No CORS policy configured: an ``OPTIONS`` is answered by the endpoint itself, empty,
    with ``Allow`` (header names in lower case, as the ASGI spec asks)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "OPTIONS",
             "scheme": "http", "path": "/session", "raw_path": b"/session", "root_path": "",
             "query_string": b"", "headers": [], "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 5000)}
    sent = await asgi_exchange(app_for(platform_url), scope, {"type": "http.request", "body": b""})
    assert sent == [
        {"type": "http.response.start", "status": 204, "headers": [(b"allow", b"POST, OPTIONS")]},
        {"type": "http.response.body", "body": b""},
    ]
    assert platform.calls == []
