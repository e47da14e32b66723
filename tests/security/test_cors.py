"""CORS: nothing unless configured, never ``*`` with credentials, a split frontend works."""

from __future__ import annotations

import httpx2
import pytest

from assessment_asgi import AssessmentApp, ConfigurationError
from tests._fake import FakePlatform

from .conftest import bearer, body, hs_token, make_app, mounted

FRONTEND = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def preflight(client: httpx2.Client, url: str, origin: str) -> httpx2.Response:
    return client.options(url, headers={"Origin": origin, **PREFLIGHT})


def cors_headers(response: httpx2.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_no_cors_headers_unless_origins_are_configured(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str
) -> None:
    with mounted(make_app(platform_url)) as url:
        answers = [
            preflight(checked_client, url, FRONTEND),
            checked_client.post(url, json=body(), headers={**bearer(hs_token()), "Origin": FRONTEND}),
            checked_client.post(url, json=body(), headers={"Origin": FRONTEND}),
        ]
    assert answers[0].status_code == 204
    assert [r.status_code for r in answers[1:]] == [200, 401]
    for response in answers:
        assert cors_headers(response) == {}


def test_a_configured_frontend_origin_can_preflight_and_read_answers(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str
) -> None:
    app = make_app(platform_url, cors_origins=[FRONTEND, "http://localhost:5173"])
    with mounted(app) as url:
        pre = preflight(checked_client, url, FRONTEND)
        ok = checked_client.post(url, json=body(), headers={**bearer(hs_token()), "Origin": FRONTEND})
        refused = checked_client.post(url, json=body(), headers={"Origin": FRONTEND})
        dev = preflight(checked_client, url, "http://localhost:5173")
    assert pre.status_code == 200  # Starlette's CORSMiddleware answers a preflight 200 "OK"
    assert pre.headers["access-control-allow-origin"] == FRONTEND
    assert "POST" in pre.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in pre.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert int(pre.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in pre.headers
    assert "Origin" in pre.headers["vary"]
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == FRONTEND
    # The frontend can read error answers (and when to retry) too.
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == FRONTEND
    assert "retry-after" in refused.headers["access-control-expose-headers"]
    assert dev.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert len(platform.calls) == 1


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "https://evil-app.example.com",
        "http://app.example.com",
        "https://app.example.com:8443",
        "null",
        "https://APP.example.com",
        "https://app.example.com/",
        "",
    ],
)
def test_other_origins_get_no_cors_headers(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str, origin: str
) -> None:
    app = make_app(platform_url, cors_origins=[FRONTEND], cors_allow_credentials=True)
    with mounted(app) as url:
        pre = preflight(checked_client, url, origin)
        post = checked_client.post(url, json=body(), headers={**bearer(hs_token()), "Origin": origin})
    # Starlette's CORSMiddleware refuses the preflight (400) and, as its standard answer,
    # still lists the allowed methods and headers (and, when configured, that credentials
    # are allowed): without Access-Control-Allow-Origin no browser lets the page read.
    assert pre.status_code == 400
    for response in (pre, post):
        assert "access-control-allow-origin" not in response.headers
    assert post.status_code == 200  # a non-browser caller with a token is not CORS's business
    assert "Origin" in post.headers["vary"]  # a cache must not serve this to the frontend


def test_credentials_echo_the_origin_never_a_wildcard(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str
) -> None:
    app = make_app(platform_url, cors_origins=[FRONTEND], cors_allow_credentials=True)
    with mounted(app) as url:
        pre = preflight(checked_client, url, FRONTEND)
        post = checked_client.post(url, json=body(), headers={**bearer(hs_token()), "Origin": FRONTEND})
    for response in (pre, post):
        assert response.headers["access-control-allow-origin"] == FRONTEND
        assert response.headers["access-control-allow-credentials"] == "true"


def test_wildcard_with_credentials_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="ASSESSMENT_CORS"):
        AssessmentApp(jwt_secret="x" * 32, cors_origins=["*"], cors_allow_credentials=True)


def test_wildcard_without_credentials_allows_any_origin_without_credentials(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str
) -> None:
    app = make_app(platform_url, cors_origins=["*"])
    with mounted(app) as url:
        pre = preflight(checked_client, url, "https://anyone.example")
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in pre.headers


@pytest.mark.parametrize(
    "origin",
    ["app.example.com", "https://app.example.com/path", "https://user@app.example.com",
     "ftp://app.example.com", "https://", "https://app.example.com?x=1"],
)
def test_malformed_origins_are_refused_at_construction(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="ASSESSMENT_CORS_ORIGINS"):
        AssessmentApp(jwt_secret="x" * 32, cors_origins=[origin])


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_CORS_ORIGINS", "https://app.example.com, https://Admin.Example.com:8443/")
    app = AssessmentApp(jwt_secret="x" * 32)
    assert app.cors is not None
    assert app.cors.origins == {"https://app.example.com", "https://admin.example.com:8443"}
    assert app.cors.allow_credentials is False
