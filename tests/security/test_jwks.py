"""The JWKS key source under attack and outage, against a real key server on loopback.

The key server counts its hits, so "at most one refetch per interval" is counted, not
assumed. Intervals run on a hand-moved clock: no sleeping, no timing.
"""

from __future__ import annotations

import concurrent.futures
import secrets
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from joserfc.jwk import OctKey, RSAKey
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assessment_asgi import AssessmentApp, ConfigurationError, JWTAuthenticator
from assessment_asgi._jwks import JWKSCache, KeySourceUnavailable
from tests._fake import FakePlatform
from tests._servers import serve

from .conftest import (
    FakeClock,
    KeyServer,
    bearer,
    body,
    claims,
    hmac_signer,
    key_server,
    make_app,
    mounted,
    raw_token,
    rs_token,
    rsa_key,
    rsa_signer,
)

INTERVAL = 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys(signing_key: RSAKey) -> Iterator[tuple[KeyServer, str]]:
    with key_server(signing_key) as served:
        yield served


def jwks_app(platform_url: str, jwks_url: str, clock: FakeClock, **cache: Any) -> AssessmentApp:
    cache.setdefault("min_refresh_interval", INTERVAL)
    authenticator = JWTAuthenticator(jwks=JWKSCache(jwks_url=jwks_url, clock=clock, **cache))
    return make_app(platform_url, authenticate=authenticator, rate_limit="")


def test_a_flood_of_unknown_kids_refetches_at_most_once_per_interval(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    keys: tuple[KeyServer, str], signing_key: RSAKey, attacker_key: RSAKey, clock: FakeClock,
) -> None:
    server, base = keys
    with mounted(jwks_app(platform_url, f"{base}/jwks.json", clock)) as url:
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key))).status_code == 200
        assert len(server.hits) == 1

        sign = rsa_signer(attacker_key)

        def forged() -> int:
            token = raw_token({"alg": "RS256", "kid": f"kid-{secrets.token_hex(8)}"}, claims(), sign)
            return checked_client.post(url, json=body(), headers=bearer(token)).status_code

        statuses = [forged() for _ in range(10)]
        assert set(statuses) == {401}
        assert len(server.hits) == 1  # the first fetch was this interval's one

        for expected_hits in (2, 3):
            clock.advance(INTERVAL + 1)
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda _: forged(), range(24)))
            statuses += [forged() for _ in range(5)]
            assert set(statuses) == {401}
            assert len(server.hits) == expected_hits  # a single refetch per interval
        # The real key kept working throughout.
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key))).status_code == 200
    assert len(platform.calls) == 2


def test_a_rotated_key_works_after_one_refetch(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    keys: tuple[KeyServer, str], signing_key: RSAKey, clock: FakeClock,
) -> None:
    server, base = keys
    new_key = rsa_key("k2")
    with mounted(jwks_app(platform_url, f"{base}/jwks.json", clock)) as url:
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key))).status_code == 200
        server.keys = [new_key]  # the issuer rotates: k1 is gone, k2 is in
        clock.advance(INTERVAL + 1)
        response = checked_client.post(url, json=body(), headers=bearer(rs_token(new_key)))
        assert response.status_code == 200
        assert len(server.hits) == 2
        # Tokens of the retired key are refused, without another fetch inside the interval.
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key))).status_code == 401
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(new_key))).status_code == 200
        assert len(server.hits) == 2
    assert len(platform.calls) == 3


def test_unreachable_jwks_at_cold_start_fails_closed_with_503(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    keys: tuple[KeyServer, str], signing_key: RSAKey,
) -> None:
    server, base = keys
    server.mode = "down"
    # Configured through settings, as a deployment would: ASSESSMENT_JWKS_URL.
    app = make_app(platform_url, jwks_url=f"{base}/jwks.json", jwks_refresh_interval=INTERVAL)
    with mounted(app) as url:
        for _ in range(5):
            response = checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key)))
            assert response.status_code == 503
            assert response.json()["code"] == "service_unavailable"
            assert int(response.headers["retry-after"]) >= 1
        assert len(server.hits) == 1  # a dead key server is not hammered
    assert platform.calls == []


def test_unreachable_jwks_recovers_once_the_interval_has_passed(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    keys: tuple[KeyServer, str], signing_key: RSAKey, clock: FakeClock,
) -> None:
    server, base = keys
    server.mode = "down"
    with mounted(jwks_app(platform_url, f"{base}/jwks.json", clock)) as url:
        token = rs_token(signing_key)
        assert checked_client.post(url, json=body(), headers=bearer(token)).status_code == 503
        server.mode = "ok"
        assert checked_client.post(url, json=body(), headers=bearer(token)).status_code == 503
        clock.advance(INTERVAL + 1)
        assert checked_client.post(url, json=body(), headers=bearer(token)).status_code == 200
    assert len(server.hits) == 2


def test_cached_keys_serve_through_an_outage_for_a_bounded_time(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    keys: tuple[KeyServer, str], signing_key: RSAKey, clock: FakeClock,
) -> None:
    server, base = keys
    app = jwks_app(platform_url, f"{base}/jwks.json", clock, max_age=600.0, max_stale=3600.0)
    with mounted(app) as url:
        token = rs_token(signing_key)
        assert checked_client.post(url, json=body(), headers=bearer(token)).status_code == 200
        server.mode = "down"
        clock.advance(601)  # the cache is old: a refetch is tried, fails, the cache serves
        assert checked_client.post(url, json=body(), headers=bearer(token)).status_code == 200
        assert len(server.hits) == 2
        clock.advance(2000)  # still within max_stale
        assert checked_client.post(url, json=body(), headers=bearer(token)).status_code == 200
        clock.advance(1100)  # past max_stale: fail closed
        response = checked_client.post(url, json=body(), headers=bearer(token))
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
    assert len(platform.calls) == 3


def test_an_authenticator_told_not_to_cache_keys_refuses_a_retired_key_at_once(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    keys: tuple[KeyServer, str], signing_key: RSAKey,
) -> None:
    """`key_cache_max_age=0` and `key_refresh_interval=0` are the ones used: every request
    reads the issuer's keys, so a key it retired stops working on the very next request."""
    server, base = keys
    authenticator = JWTAuthenticator(
        jwks_url=f"{base}/jwks.json", key_cache_max_age=0, key_refresh_interval=0
    )
    with mounted(make_app(platform_url, authenticate=authenticator, rate_limit="")) as url:
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key))).status_code == 200
        new_key = rsa_key("k2")
        server.keys = [new_key]  # the issuer retires k1
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key))).status_code == 401
        assert checked_client.post(url, json=body(), headers=bearer(rs_token(new_key))).status_code == 200
    assert len(platform.calls) == 2


def test_an_authenticator_allowed_no_stale_keys_fails_closed_as_soon_as_the_key_server_is_down(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    keys: tuple[KeyServer, str], signing_key: RSAKey,
) -> None:
    """`key_cache_max_stale=0`: keys the server can no longer confirm are never served."""
    server, base = keys
    authenticator = JWTAuthenticator(
        jwks_url=f"{base}/jwks.json", key_cache_max_age=0, key_refresh_interval=0, key_cache_max_stale=0
    )
    with mounted(make_app(platform_url, authenticate=authenticator, rate_limit="")) as url:
        token = rs_token(signing_key)
        assert checked_client.post(url, json=body(), headers=bearer(token)).status_code == 200
        server.mode = "down"
        response = checked_client.post(url, json=body(), headers=bearer(token))
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
    assert len(platform.calls) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://issuer.example/.well-known/jwks.json",
        "http://localhost.evil.example/jwks.json",
        "http://127.0.0.1.nip.io/jwks.json",
        "http://10.0.0.1/jwks.json",
        "ftp://issuer.example/jwks.json",
        "file:///etc/passwd",
        "https:///no-host",
        "jwks.json",
    ],
)
def test_non_https_jwks_or_issuer_urls_are_refused_at_construction(url: str) -> None:
    for setting in ("jwks_url", "oidc_issuer"):
        with pytest.raises(ConfigurationError) as info:
            AssessmentApp(**{setting: url}, rate_limit="")
        assert "https" in str(info.value)


@pytest.mark.parametrize(
    "url", ["https://issuer.example/jwks.json", "http://127.0.0.1:9/jwks.json",
            "http://localhost:9/jwks.json", "http://[::1]:9/jwks.json"],
)
def test_https_and_loopback_urls_are_accepted(url: str) -> None:
    assert AssessmentApp(jwks_url=url).authenticate is not None  # nothing is fetched yet


def test_redirects_are_not_followed(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    signing_key: RSAKey, clock: FakeClock,
) -> None:
    with key_server(signing_key) as (target, target_base), key_server() as (server, base):
        server.mode = "redirect"
        server.redirect_to = f"{target_base}/jwks.json"  # would serve the right keys
        with mounted(jwks_app(platform_url, f"{base}/jwks.json", clock)) as url:
            response = checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key)))
        assert response.status_code == 503
        assert server.hits == ["/jwks.json"]
        assert target.hits == []
    assert platform.calls == []


def _static_server(routes: dict[str, Any]) -> Starlette:
    def endpoint(payload: Any) -> Any:
        async def handler(_: Any) -> Response:
            if isinstance(payload, bytes):
                return Response(payload, media_type="application/json")
            return JSONResponse(payload)

        return handler

    return Starlette(routes=[Route(path, endpoint(p)) for path, p in routes.items()])


def test_discovery_pointing_at_a_non_https_jwks_is_not_fetched(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    signing_key: RSAKey,
) -> None:
    discovery = {"issuer": "x", "jwks_uri": "http://keys.example/jwks.json"}
    with serve(_static_server({"/.well-known/openid-configuration": discovery})) as issuer:
        app = make_app(platform_url, oidc_issuer=issuer)
        with mounted(app) as url:
            response = checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key)))
    assert response.status_code == 503
    assert platform.calls == []


def test_symmetric_and_private_keys_in_a_jwks_are_never_used(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    signing_key: RSAKey,
) -> None:
    shared = b"an-hmac-secret-published-in-the-jwks!!"
    oct_key = OctKey.import_key(shared, {"kid": "oct"}).as_dict(private=True)
    documents = {
        "/mixed.json": {"keys": [oct_key, signing_key.as_dict(private=False)]},
        "/private.json": {"keys": [oct_key, signing_key.as_dict(private=True)]},
    }
    with serve(_static_server(documents)) as base:
        app = make_app(platform_url, jwks_url=f"{base}/mixed.json", rate_limit="")
        with mounted(app) as url:
            forged = raw_token({"alg": "HS256", "kid": "oct"}, claims(), hmac_signer(shared))
            assert checked_client.post(url, json=body(), headers=bearer(forged)).status_code == 401
            response = checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key)))
            assert response.status_code == 200
        assert len(platform.calls) == 1
        # A private key published in a JWKS is a leak, not a key: it is dropped, none left.
        app = make_app(platform_url, jwks_url=f"{base}/private.json")
        with mounted(app) as url:
            response = checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key)))
            assert response.status_code == 503
    assert len(platform.calls) == 1


def test_an_oversized_jwks_document_is_refused(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    signing_key: RSAKey,
) -> None:
    huge = b'{"keys": [], "padding": "' + b"x" * 2_000_000 + b'"}'
    with serve(_static_server({"/jwks.json": huge})) as base:
        app = make_app(platform_url, jwks_url=f"{base}/jwks.json")
        with mounted(app) as url:
            response = checked_client.post(url, json=body(), headers=bearer(rs_token(signing_key)))
    assert response.status_code == 503
    assert platform.calls == []


# -- OIDC discovery (OpenID Connect Discovery 1.0 §4.3) -----------------------------------------


def _issuer_server(issuer: str | None, jwks_uri: str) -> Starlette:
    """Serves a discovery document naming ``issuer`` (None: the server's own base URL)."""

    async def discovery(request: Any) -> Response:
        own = str(request.base_url).rstrip("/")
        return JSONResponse({"issuer": issuer or own, "jwks_uri": jwks_uri})

    return Starlette(routes=[Route("/.well-known/openid-configuration", discovery)])


@pytest.mark.parametrize("names", ["itself", "another issuer"])
def test_discovery_must_name_the_configured_issuer(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    signing_key: RSAKey, keys: tuple[KeyServer, str], names: str,
) -> None:
    server, keys_base = keys
    named = None if names == "itself" else "https://issuer.example"
    with serve(_issuer_server(named, f"{keys_base}/jwks.json")) as issuer:  # noqa: SIM117
        with mounted(make_app(platform_url, oidc_issuer=issuer)) as url:  # needs issuer's URL
            response = checked_client.post(
                url, json=body(), headers=bearer(rs_token(signing_key, iss=issuer))
            )
    if names == "itself":
        assert response.status_code == 200
        assert server.hits == ["/jwks.json"]
        assert len(platform.calls) == 1
    else:  # another issuer's document: its keys are never fetched, the app fails closed
        assert response.status_code == 503
        assert server.hits == []
        assert platform.calls == []


class _RecordingIssuer:
    """A public https issuer, which loopback-only tests cannot serve for real: an in-process
    transport that records each URL asked for and sends nothing anywhere."""

    def __init__(self, issuer: str, jwks_uri: str) -> None:
        self.issuer, self.jwks_uri = issuer, jwks_uri
        self.asked: list[str] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.asked.append(str(request.url))
        if request.url.path == "/.well-known/openid-configuration":
            return httpx2.Response(200, json={"issuer": self.issuer, "jwks_uri": self.jwks_uri})
        return httpx2.Response(200, json={"keys": []})


@pytest.mark.anyio
@pytest.mark.parametrize(
    "jwks_uri", ["http://127.0.0.1:6379/jwks.json", "http://localhost:8080/admin", "ftp://x/jwks"]
)
async def test_a_public_issuer_cannot_point_the_app_at_a_local_port(jwks_uri: str) -> None:
    issuer = _RecordingIssuer("https://issuer.example", jwks_uri)
    cache = JWKSCache(oidc_issuer=issuer.issuer, transport=httpx2.MockTransport(issuer.handle))
    with pytest.raises(KeySourceUnavailable):
        await cache.get()
    assert issuer.asked == ["https://issuer.example/.well-known/openid-configuration"]


@pytest.mark.anyio
async def test_the_issuer_is_compared_exactly_trailing_slash_included(signing_key: RSAKey) -> None:
    issuer = _RecordingIssuer("https://tenant.example/", "https://tenant.example/jwks.json")

    def handle(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/jwks.json":
            issuer.asked.append(str(request.url))
            return httpx2.Response(200, json={"keys": [signing_key.as_dict(private=False)]})
        return issuer.handle(request)

    cache = JWKSCache(oidc_issuer="https://tenant.example/", transport=httpx2.MockTransport(handle))
    assert [k.kid for k in (await cache.get()).keys] == ["k1"]
    assert issuer.asked == ["https://tenant.example/.well-known/openid-configuration",
                            "https://tenant.example/jwks.json"]
    mismatch = JWKSCache(oidc_issuer="https://tenant.example",
                         transport=httpx2.MockTransport(issuer.handle))
    with pytest.raises(KeySourceUnavailable):
        await mismatch.get()
