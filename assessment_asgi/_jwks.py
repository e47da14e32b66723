"""Fetching and caching the recruiter tokens' public keys (JWKS, OIDC discovery).

Rules, each one a defence:
- URLs must be https, except loopback hosts (development and tests): see `_urls.py`.
- OIDC discovery (OpenID Connect Discovery 1.0 §4.3): the document's `issuer` must equal
  the configured issuer exactly, and its `jwks_uri` must be https — http only when the
  issuer itself is on loopback, so a public issuer can never aim the app at a local port.
- Redirects are not followed and answers are size-capped.
- An unknown `kid` triggers at most one refetch per `min_refresh_interval`, so a flood of
  forged `kid` values cannot turn the app into a request amplifier.
- When the key server is down, cached keys keep serving for `max_stale` seconds; with no
  keys at all (cold start) the app fails closed with 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from joserfc.jwk import KeySet

from ._capped import BadLength, OverCap, read_capped
from ._concurrency import LoopLocal
from ._exceptions import ConfigurationError
from ._seconds import seconds
from ._urls import is_loopback_host, secure_url_problem

logger = logging.getLogger("assessment_asgi.auth")

MAX_DOCUMENT_BYTES = 512 * 1024
_DISCOVERY = "/.well-known/openid-configuration"


class KeySourceUnavailable(Exception):
    """No usable keys: the key server could not be reached and nothing is cached."""


def check_key_url(url: str, setting: str) -> str:
    """Refuse anything but https (or http on a loopback host)."""
    problem = secure_url_problem(url, bare=False)
    if problem is not None:
        raise ConfigurationError(f"{setting} {problem}", setting=setting)
    return url


def _without_userinfo(url: str) -> str:
    # A URL may carry a password (https://user:pass@host): never shown.
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


class JWKSCache:
    """The key set behind `jwks_url` (or found through `oidc_issuer`), cached."""

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        oidc_issuer: str | None = None,
        max_age: float = 3600.0,
        max_stale: float = 6 * 3600.0,
        min_refresh_interval: float = 30.0,
        timeout: float = 5.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (jwks_url is None) == (oidc_issuer is None):
            raise ConfigurationError("pass exactly one of jwks_url or oidc_issuer", setting="jwks_url")
        self._jwks_url = check_key_url(jwks_url, "jwks_url") if jwks_url else None
        self._issuer = check_key_url(oidc_issuer, "oidc_issuer") if oidc_issuer else None
        for name, value in (("max_age", max_age), ("max_stale", max_stale),
                            ("min_refresh_interval", min_refresh_interval), ("timeout", timeout)):
            try:
                seconds(name, value, zero_ok=True)
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(str(exc), setting=name) from None
        self._clock = clock
        self.max_age = max_age
        self.max_stale = max_stale
        self.min_refresh_interval = min_refresh_interval
        self._timeout = timeout
        self._transport = transport
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._last_attempt = -float("inf")
        self._lock: LoopLocal[anyio.Lock] = LoopLocal(lambda _library: anyio.Lock())

    def __repr__(self) -> str:
        source = _without_userinfo(self._jwks_url or f"{self._issuer} (OIDC discovery)")
        return f"JWKSCache({source!r})"

    async def get(self, *, refresh: bool = False) -> KeySet:
        """The cached key set; fetched when missing, old, or when `refresh` asks for it."""
        now = self._clock()
        keys = self._keys
        fresh = keys is not None and now - self._fetched_at < self.max_age
        if fresh and not refresh:
            assert keys is not None
            return keys
        if now - self._last_attempt < self.min_refresh_interval:
            # Too soon to ask the key server again: serve what we have (or fail closed).
            return self._cached_or_raise(now)
        async with self._lock.get():
            if self._keys is not None and self._fetched_at > now:
                return self._keys  # another request refreshed while we waited
            if self._last_attempt >= now:
                # Another request tried (and failed) while we waited: do not try again.
                return self._cached_or_raise(self._clock())
            self._last_attempt = self._clock()
            try:
                self._keys = await self._fetch()
                self._fetched_at = self._clock()
            except Exception as exc:  # any fetch failure: keep serving the cache, bounded
                logger.warning("could not fetch the recruiter token keys: %s", type(exc).__name__)
                return self._cached_or_raise(self._clock())
            return self._keys

    def _cached_or_raise(self, now: float) -> KeySet:
        if self._keys is not None and now - self._fetched_at < self.max_stale:
            return self._keys
        raise KeySourceUnavailable("no recruiter token keys available")

    async def _fetch(self) -> KeySet:
        async with httpx2.AsyncClient(
            timeout=self._timeout, follow_redirects=False, transport=self._transport
        ) as client:
            url = self._jwks_url
            if url is None:
                assert self._issuer is not None
                url = self._discovered_jwks_uri(
                    await self._get_json(client, f"{self._issuer.rstrip('/')}{_DISCOVERY}")
                )
            document = await self._get_json(client, url)
        keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        # Public keys only: a symmetric or private key in a JWKS is a misconfiguration.
        usable = [k for k in keys.keys if k.key_type in {"RSA", "EC", "OKP"} and not k.is_private]
        if not usable:
            raise ValueError("the JWKS holds no public signing keys")
        return KeySet(usable)

    def _discovered_jwks_uri(self, meta: dict[str, Any]) -> str:
        assert self._issuer is not None
        if meta.get("issuer") != self._issuer:
            # Discovery 1.0 §4.3: another issuer's document (a mix-up or a spoof) is refused.
            raise ValueError("the discovery document names another issuer")
        jwks_uri = meta.get("jwks_uri")
        if not isinstance(jwks_uri, str) or secure_url_problem(jwks_uri, bare=False):
            raise ValueError("the discovery document has no usable jwks_uri")
        if urlsplit(jwks_uri).scheme != "https" and not is_loopback_host(
            urlsplit(self._issuer).hostname or ""
        ):
            raise ValueError("a public issuer's jwks_uri must be https")
        return jwks_uri

    async def _get_json(self, client: httpx2.AsyncClient, url: str) -> dict[str, Any]:
        async with client.stream("GET", url, headers={"accept": "application/json"}) as response:
            if response.status_code != 200:
                raise ValueError(f"key server answered {response.status_code}")
            try:
                body = await read_capped(
                    response.aiter_bytes(), MAX_DOCUMENT_BYTES, response.headers.get("content-length")
                )
            except (BadLength, OverCap):
                raise ValueError("key document too large or of no readable length") from None
        import json

        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("key document is not a JSON object")
        return data
