"""The one build step beside the settings check: the app's default parts, from checked settings.

`AssessmentApp.__init__` calls these once; each part is fixed for the app's lifetime.
"""

from __future__ import annotations

import logging
from typing import Any

from ._auth import JWTAuthenticator
from ._cors import CORSPolicy
from ._exceptions import ConfigurationError
from ._keys import EnvironmentKeys, StaticKeys
from ._ratelimit import PlatformCallLimiter, RecruiterRateLimiter
from ._settings import AssessmentSettings
from ._telemetry import observe_platform_call
from ._tenants import TenantKeys
from ._types import Authenticate, KeyProvider
from .platform import Credentials, SmartAIClient, Timeout

logger = logging.getLogger("assessment_asgi")

AUTH_NOT_CONFIGURED = (
    "Recruiter authentication is not configured: set ASSESSMENT_JWT_SECRET, "
    "ASSESSMENT_JWKS_URL or ASSESSMENT_OIDC_ISSUER (or pass authenticate=)"
)


def settings_for(settings: AssessmentSettings | None, overrides: dict[str, Any]) -> AssessmentSettings:
    """The checked settings: from the environment and `.env`, or `settings`, plus keywords."""
    unknown = sorted(set(overrides) - set(AssessmentSettings.model_fields))
    if unknown:
        raise TypeError(f"AssessmentApp() got unknown setting(s): {', '.join(unknown)}")
    if settings is not None and not isinstance(settings, AssessmentSettings):
        raise TypeError("settings must be an AssessmentSettings")
    # The one check (see _settings.py): a bad value raises ConfigurationError naming it.
    if settings is None:
        return AssessmentSettings(**overrides)
    if overrides:
        return AssessmentSettings(**{**settings.model_dump(), **overrides})
    return settings


def default_authenticate(s: AssessmentSettings) -> Authenticate | None:
    """A `JWTAuthenticator` from the settings; None (fail closed) without a key source."""
    if s.jwt_secret is None and s.jwks_url is None and s.oidc_issuer is None:
        logger.warning(AUTH_NOT_CONFIGURED)
        return None
    return JWTAuthenticator(
        secret=s.jwt_secret,
        jwks_url=s.jwks_url,
        oidc_issuer=s.oidc_issuer,
        issuer=s.jwt_issuer,
        audience=s.jwt_audience,
        algorithms=s.jwt_algorithms or None,
        leeway=s.jwt_leeway,
        key_cache_max_age=s.jwks_max_age,
        key_cache_max_stale=s.jwks_max_stale,
        key_refresh_interval=s.jwks_refresh_interval,
    )


def key_provider(
    s: AssessmentSettings, keys: KeyProvider | Credentials | None, overrides: dict[str, Any]
) -> KeyProvider:
    if s.tenant_keys_file is not None and (
        keys is not None or "api_key" in overrides or "secret_key" in overrides
    ):
        raise ConfigurationError(
            "ASSESSMENT_TENANT_KEYS_FILE is set and keys were passed too: give one key source",
            setting="ASSESSMENT_TENANT_KEYS_FILE",
        )
    if isinstance(keys, Credentials):
        return StaticKeys(keys.api_key, keys.secret_key)
    if keys is not None:
        if not callable(keys):
            raise TypeError("keys must be Credentials or a callable returning Credentials")
        return keys
    if s.tenant_keys_file is not None:
        return TenantKeys.from_file(s.tenant_keys_file, setting="ASSESSMENT_TENANT_KEYS_FILE")
    if "api_key" in overrides or "secret_key" in overrides:
        # Keys given as keywords are fixed; from the environment they may arrive later
        # (the endpoint then answers 500 not_configured naming the missing variable).
        if s.api_key is None or s.secret_key is None:
            raise ConfigurationError(
                "pass both api_key and secret_key (ASSESSMENT_API_KEY and "
                "ASSESSMENT_SECRET_KEY), or neither",
                setting="ASSESSMENT_API_KEY",
            )
        return StaticKeys(s.api_key, s.secret_key)
    return EnvironmentKeys(api_key=s.api_key, secret_key=s.secret_key)


def default_client(s: AssessmentSettings) -> SmartAIClient | None:
    """The platform client, or None without a base URL (then: 500 `not_configured`)."""
    if s.base_url is None:
        return None
    return platform_client(s, s.base_url)


def platform_client(s: AssessmentSettings, base_url: str, **extra: Any) -> SmartAIClient:
    """A platform client with the settings' timeouts and engine: the app's, and the CLIs'."""
    return SmartAIClient(
        base_url=base_url,
        timeout=Timeout(
            connect=min(s.connect_timeout, s.timeout),
            read=min(s.read_timeout, s.timeout),
            deadline=s.timeout,
        ),
        on_call=observe_platform_call,  # platform spans and request ids (see _telemetry.py)
        engine=s.engine,
        **extra,
    )


def rate_limiter(s: AssessmentSettings) -> RecruiterRateLimiter | None:
    if not s.rate_limit:
        return None
    return RecruiterRateLimiter(
        limit=s.rate_limit, strategy=s.rate_limit_strategy, storage_uri=s.redis_url
    )


def call_limiter(s: AssessmentSettings) -> PlatformCallLimiter:
    return PlatformCallLimiter(max_concurrent=s.max_concurrent_calls, queue_timeout=s.queue_timeout)


def cors_policy(s: AssessmentSettings) -> CORSPolicy | None:
    if not s.cors_origins:
        return None
    return CORSPolicy(
        origins=s.cors_origins, allow_credentials=s.cors_allow_credentials, max_age=s.cors_max_age
    )
