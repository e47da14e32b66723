"""The default `authenticate` hook: a Bearer JWT verified with joserfc."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, OctKey
from joserfc.jws import JWSRegistry
from pydantic import SecretStr
from starlette.requests import Request

from ._exceptions import AuthError, ConfigurationError, HTTPException
from ._jwks import JWKSCache, KeySourceUnavailable
from ._rules import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, MIN_SECRET_BYTES

logger = logging.getLogger("assessment_asgi.auth")

MAX_TOKEN_LENGTH = 8192
# A compact JWS and nothing else: three base64url segments. JWE (five segments, possibly
# compressed), JSON serialisations and stray characters are refused before any parsing.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class JWTAuthenticator:
    """Verifies `Authorization: Bearer <JWT>` and returns the token's claims.

    One key source: an HS256 shared `secret`, a `jwks_url`, or an `oidc_issuer` whose
    discovery document names the JWKS. `exp` is required; `iss` and `aud` are checked
    when configured; `algorithms` is an allow-list (HMAC and public-key algorithms never
    mix, so a public key can never be used as an HMAC secret). Errors name these
    parameters; `AssessmentApp` checks its `ASSESSMENT_*` settings before:

    ```python
    AssessmentApp(authenticate=JWTAuthenticator(secret="…32+ random bytes…"))
    ```
    """

    def __init__(
        self,
        *,
        secret: str | SecretStr | None = None,
        jwks_url: str | None = None,
        oidc_issuer: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        algorithms: Collection[str] | None = None,
        leeway: float = 30.0,
        jwks: JWKSCache | None = None,
        key_cache_max_age: float = 3600.0,
        key_cache_max_stale: float = 6 * 3600.0,
        key_refresh_interval: float = 30.0,
    ) -> None:
        sources = [s for s in (secret, jwks_url, oidc_issuer, jwks) if s is not None]
        if len(sources) != 1:
            raise ConfigurationError(
                "pass exactly one key source: secret, jwks_url, oidc_issuer or jwks",
                setting="secret",
            )
        self._key: OctKey | None = None
        allowed: frozenset[str]
        default: tuple[str, ...]
        self._jwks: JWKSCache | None = jwks
        if secret is not None:
            raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
            if len(raw.encode()) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"secret must be at least {MIN_SECRET_BYTES} bytes", setting="secret"
                )
            self._key = OctKey.import_key(raw.encode())
            allowed, default = HMAC_ALGORITHMS, ("HS256",)
        else:
            if self._jwks is None:
                self._jwks = JWKSCache(
                    jwks_url=jwks_url, oidc_issuer=oidc_issuer, max_age=key_cache_max_age,
                    max_stale=key_cache_max_stale, min_refresh_interval=key_refresh_interval,
                )
            allowed, default = ASYMMETRIC_ALGORITHMS, ("RS256", "PS256", "ES256", "EdDSA")
        algs = tuple(algorithms) if algorithms else default
        wrong = [a for a in algs if a not in allowed]
        if wrong:
            raise ConfigurationError(
                f"algorithms: {', '.join(wrong)} cannot be used with this key source "
                f"(allowed: {', '.join(sorted(allowed))})",
                setting="algorithms",
            )
        self.algorithms = algs
        # The allow-list lives in the registry: joserfc ignores ``algorithms=`` once a
        # registry is passed.
        self._registry = JWSRegistry(algorithms=list(algs))
        if issuer is None and oidc_issuer is not None:
            issuer = oidc_issuer
        claims: dict[str, Any] = {"exp": {"essential": True}}
        if issuer is not None:
            claims["iss"] = {"essential": True, "value": issuer}
        if audience is not None:
            claims["aud"] = {"essential": True, "value": audience}
        self._claims = jwt.JWTClaimsRegistry(leeway=int(leeway), **claims)
        self.issuer = issuer
        self.audience = audience

    def __repr__(self) -> str:
        source = "secret" if self._key is not None else repr(self._jwks)
        return f"JWTAuthenticator(source={source}, algorithms={list(self.algorithms)!r})"

    async def __call__(self, request: Request) -> dict[str, Any]:
        # The raw ASGI pairs (names are lowercase by the spec), as Starlette's ``Headers``
        # reads them, without building and decoding a copy of every header per request.
        values = [v for k, v in request.scope["headers"] if k == b"authorization"]
        if len(values) > 1:
            # Two tokens: proxies and frameworks disagree on which one counts. Refuse both.
            raise AuthError("Invalid token")
        token = bearer_token(values[0].decode("latin-1") if values else None)
        if self._key is not None:
            return self._verify(token, self._key)
        assert self._jwks is not None
        try:
            keys = await self._jwks.get()
            try:
                return self._verify(token, keys)
            except _UnknownKey:
                # Maybe the issuer rotated its keys: refetch (rate-limited) and try once more.
                keys = await self._jwks.get(refresh=True)
                return self._verify(token, keys)
        except _UnknownKey:
            raise AuthError("Invalid token") from None
        except KeySourceUnavailable:
            raise HTTPException(
                "service_unavailable", "Recruiter sign-in keys are unavailable; try again shortly",
                headers={"Retry-After": "30"},
            ) from None

    def _verify(self, token: str, key: OctKey | KeySet) -> dict[str, Any]:
        try:
            decoded = jwt.decode(token, key, registry=self._registry)
            if "crit" in decoded.header:
                # No JOSE extension is supported, so any "crit" (even the empty list that
                # RFC 7515 forbids producers to send) means a token we cannot honour.
                raise AuthError("Invalid token")
            self._claims.validate(decoded.claims)
        except InvalidKeyIdError:
            raise _UnknownKey from None
        except JoseError:
            raise AuthError("Invalid token") from None
        except Exception:
            # Junk that trips joserfc outside its own error tree (a header that decodes to a
            # JSON string, bad base64, odd types) is still just an invalid token.
            raise AuthError("Invalid token") from None
        return dict(decoded.claims)


class _UnknownKey(Exception):
    pass


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or `AuthError`."""
    if not header:
        raise AuthError("Missing bearer token")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("Missing bearer token")
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(token):
        raise AuthError("Invalid token")
    return token
