"""``JWTAuthenticator`` used on its own (``AssessmentApp(authenticate=JWTAuthenticator(...))``):
its repr, its defaults and its configuration errors."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.requests import Request

from assessment_asgi import AuthError, ConfigurationError, JWTAuthenticator
from tests._fake import JWT_SECRET, make_token


def request(token: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/session",
                    "headers": [(b"authorization", f"Bearer {token}".encode())]})


def test_the_repr_names_the_key_source_never_the_secret() -> None:
    by_secret = JWTAuthenticator(secret=JWT_SECRET)
    assert repr(by_secret) == "JWTAuthenticator(source=secret, algorithms=['HS256'])"
    by_url = JWTAuthenticator(jwks_url="https://user:pw@login.example/jwks.json")  # never fetched here
    assert repr(by_url) == (
        "JWTAuthenticator(source=JWKSCache('https://***@login.example/jwks.json'), "
        "algorithms=['RS256', 'PS256', 'ES256', 'EdDSA'])"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(("expired_ago", "accepted"), [(20, True), (45, False)])
async def test_the_default_leeway_is_30_seconds(expired_ago: int, accepted: bool) -> None:
    token = make_token(exp=int(time.time()) - expired_ago, iat=int(time.time()) - 600)
    authenticate = JWTAuthenticator(secret=JWT_SECRET)
    if accepted:
        assert (await authenticate(request(token)))["sub"] == "rec_42"
    else:
        with pytest.raises(AuthError):
            await authenticate(request(token))


@pytest.mark.parametrize(
    "sources",
    [{}, {"secret": JWT_SECRET, "jwks_url": "https://login.example/jwks.json"},
     {"jwks_url": "https://login.example/jwks.json", "oidc_issuer": "https://login.example"}],
    ids=["none", "secret+jwks", "jwks+oidc"],
)
def test_exactly_one_key_source(sources: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="exactly one") as caught:
        JWTAuthenticator(**sources)
    assert str(caught.value) == "pass exactly one key source: secret, jwks_url, oidc_issuer or jwks"
    assert caught.value.setting == "secret"


def test_a_secret_of_32_bytes_is_enough_and_31_is_not() -> None:
    assert JWTAuthenticator(secret="s" * 32).algorithms == ("HS256",)
    with pytest.raises(ConfigurationError, match="32 bytes") as caught:
        JWTAuthenticator(secret="s" * 31)
    assert str(caught.value) == "secret must be at least 32 bytes"
    assert caught.value.setting == "secret"


@pytest.mark.anyio
async def test_the_allowed_algorithms_are_the_ones_given() -> None:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    authenticate = JWTAuthenticator(secret=JWT_SECRET, algorithms=["HS512"])
    assert authenticate.algorithms == ("HS512",)
    key = OctKey.import_key(JWT_SECRET.encode())
    claims = {"sub": "rec_42", "exp": int(time.time()) + 60}
    assert (await authenticate(request(jwt.encode({"alg": "HS512"}, claims, key, algorithms=["HS512"]))))
    with pytest.raises(AuthError):
        await authenticate(request(make_token()))  # HS256: not on the list


def test_an_algorithm_the_key_source_cannot_use_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="RS256") as caught:
        JWTAuthenticator(secret=JWT_SECRET, algorithms=["HS256", "RS256", "none"])
    assert str(caught.value) == (
        "algorithms: RS256, none cannot be used with this key source (allowed: HS256, HS384, HS512)"
    )
    assert caught.value.setting == "algorithms"


@pytest.mark.anyio
@pytest.mark.parametrize("claim", ["iss", "aud"])
async def test_a_configured_issuer_or_audience_is_required_and_checked(claim: str) -> None:
    expected = {"iss": "https://login.example", "aud": "assessment-api"}[claim]
    option = {"iss": "issuer", "aud": "audience"}[claim]
    authenticate = JWTAuthenticator(secret=JWT_SECRET, **{option: expected})
    assert (await authenticate(request(make_token(**{claim: expected}))))[claim] == expected
    for token in (make_token(), make_token(**{claim: "https://elsewhere.example"})):  # missing, wrong
        with pytest.raises(AuthError):
            await authenticate(request(token))


def test_the_configured_audience_is_readable() -> None:
    assert JWTAuthenticator(secret=JWT_SECRET, audience="assessment-api").audience == "assessment-api"
    assert JWTAuthenticator(secret=JWT_SECRET).audience is None


def test_an_oidc_issuer_is_also_the_expected_issuer() -> None:
    by_oidc = JWTAuthenticator(oidc_issuer="https://login.example")  # discovery happens on first use
    assert by_oidc.issuer == "https://login.example"
    explicit = JWTAuthenticator(oidc_issuer="https://login.example", issuer="https://tokens.example")
    assert explicit.issuer == "https://tokens.example"
    assert JWTAuthenticator(secret=JWT_SECRET).issuer is None


@pytest.mark.anyio
@pytest.mark.parametrize(("expired_ago", "accepted"), [(29, True), (30, False)])
async def test_the_default_leeway_edge_is_exactly_30_seconds_under_a_frozen_clock(
    monkeypatch: pytest.MonkeyPatch, expired_ago: int, accepted: bool
) -> None:
    """A token is expired once ``exp`` is the leeway behind the clock (``exp <= now - 30``):
    a second more or less of leeway would move this edge, so the clock stands still here."""
    frozen = 1_900_000_000
    token = make_token(exp=frozen - expired_ago, iat=frozen - 600)
    monkeypatch.setattr(time, "time", lambda: float(frozen))
    authenticate = JWTAuthenticator(secret=JWT_SECRET)
    if accepted:
        assert (await authenticate(request(token)))["sub"] == "rec_42"
    else:
        with pytest.raises(AuthError):
            await authenticate(request(token))
