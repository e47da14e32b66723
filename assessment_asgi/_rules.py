"""The rules a setting is checked by, each written once, for the settings and the components.

A leaf: it imports no component, so `_settings.py` checks every `ASSESSMENT_*` value
with these rules (naming the variable) and a component used on its own applies the same rule
to its keyword (naming the keyword). No rule here repeats a value it refuses: a mistyped
secret or a URL with a password must not reach a log.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from limits import RateLimitItem, parse_many
from pydantic import SecretStr

from ._exceptions import ConfigurationError

# -- recruiter tokens -------------------------------------------------------------------------

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
MIN_SECRET_BYTES = 32

# -- rate limits ------------------------------------------------------------------------------

RATE_LIMIT_STRATEGIES = ("moving-window", "fixed-window")


def parse_rate_limit(value: str, setting: str) -> list[RateLimitItem]:
    """`"30/minute"` or `"30/minute;500/day"` as `limits` items; else ConfigurationError."""
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise ConfigurationError(
            f"{setting} must look like '30/minute' or '30/minute;500/day' (amounts of 1 or more)",
            setting=setting,
        )
    return items


# -- CORS -------------------------------------------------------------------------------------


def normalise_origin(origin: str, setting: str) -> str:
    """`https://App.example.com:443/` → `https://app.example.com:443`; else ConfigurationError."""
    if origin == "*":
        return origin
    try:
        parts = urlsplit(origin.strip())
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        parts, port = urlsplit(""), ""
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        # The value is not echoed: a mistyped secret pasted here must not reach a log.
        raise ConfigurationError(
            f"{setting}: each entry must be an origin like https://app.example.com "
            "(scheme, host and optional port; no path, query or user) or '*'",
            setting=setting,
        )
    return f"{parts.scheme}://{parts.hostname}{port}"


# -- Redis ------------------------------------------------------------------------------------

#: `unix://` is redis-py's spelling of `redis+unix://` (the `limits` library's).
REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "unix")


def redis_url(url: object, setting: str) -> SecretStr:
    """The one check of a Redis URL's scheme, for every Redis user of the package.

    `redis://`, `rediss://` or `redis+unix://` (`unix://` too); the URL comes back
    as a `SecretStr` (it may hold a password). Anything else: ConfigurationError naming
    `setting`, never the value.
    """
    raw = url.get_secret_value() if isinstance(url, SecretStr) else url
    if not isinstance(raw, str) or raw.partition("://")[0] not in REDIS_SCHEMES or "://" not in raw:
        raise ConfigurationError(
            f"{setting} must be a redis://, rediss:// or redis+unix:// URL", setting=setting
        )
    return SecretStr(raw)


def redis_py_url(url: SecretStr) -> str:
    """A checked Redis URL as `redis.asyncio.Redis.from_url` spells it."""
    raw = url.get_secret_value()
    return "unix://" + raw.removeprefix("redis+unix://") if raw.startswith("redis+unix://") else raw


def limits_url(url: SecretStr) -> str:
    """A checked Redis URL as `limits.storage.storage_from_string` spells it."""
    raw = url.get_secret_value()
    return "redis+unix://" + raw.removeprefix("unix://") if raw.startswith("unix://") else raw


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_key(value: str, setting: str) -> None:
    """Refuse a key no request could carry: `ConfigurationError` naming `setting`, never
    the value. The one check, for `Credentials` and for `ASSESSMENT_API_KEY`/`_SECRET_KEY`."""
    if _CONTROL.search(value):
        raise ConfigurationError(
            f"{setting} contains a control character (a line break, tab or NUL): copy the key again",
            setting=setting,
        )
    if value != value.strip():
        raise ConfigurationError(
            f"{setting} has surrounding whitespace: remove it, the platform compares the key exactly",
            setting=setting,
        )
