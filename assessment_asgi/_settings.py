"""Configuration from the environment and `.env` (prefix `ASSESSMENT_`), checked once.

Every setting is validated here, whether it comes from the environment, `.env` or a
keyword of `AssessmentApp`; a mistake raises `ConfigurationError` naming the
variable and what is allowed (never the value). `python -m assessment_asgi doctor`, `poll`
and `sandbox` read their configuration here too, so they always agree with the app: this
module is the package's only reader of the environment and of `.env` files. It imports no
component; the rules it shares with them live in the leaf `_rules.py`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ._exceptions import ConfigurationError
from ._rules import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    MIN_SECRET_BYTES,
    check_key,
    normalise_origin,
    parse_rate_limit,
    redis_url,
)
from ._urls import PLAIN_HTTP, secure_url_problem

DEFAULT_ALGORITHMS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")
PREFIX = "ASSESSMENT_"
KEY_SOURCES = ("jwt_secret", "jwks_url", "oidc_issuer")


def variable(field: str) -> str:
    """The environment variable of a setting: `max_users` → `ASSESSMENT_MAX_USERS`."""
    return PREFIX + field.upper()


def env_sources(
    env_file: str | Path = ".env", *, also: Sequence[str] = ()
) -> list[tuple[str, dict[str, str]]]:
    """The variables as written, by source, read as `AssessmentSettings` reads them.

    `(source, variables)` for `env_file`, then for each file named in `also` beside it
    (`python -m assessment_asgi doctor` scans frontend `.env.*` files for exposed
    secrets), then `"the environment"` last, since it wins over `.env`. A missing file
    gives an empty mapping. Values are raw (spaces and quotes kept): a check of a value
    as parsed uses `AssessmentSettings` itself.
    """
    path = Path(env_file)
    files = [path, *(path.parent / name for name in also if name != path.name)]
    return [(file.name, _read_env_file(file)) for file in files] + [
        ("the environment", dict(os.environ))
    ]


def live_variable(name: str) -> str | None:
    """One variable as the process environment holds it *now* (`EnvironmentKeys` reads the
    platform keys per request, so rotating them needs no restart); `None` when unset."""
    return os.environ.get(name)


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # pydantic-settings' own .env reader

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class AssessmentSettings(BaseSettings):
    """Every setting of the package, read from `ASSESSMENT_*` variables and `.env`.

    Keyword arguments of `AssessmentApp` override these one by one; a bad value
    raises `ConfigurationError` naming the variable:

    ```python
    settings = AssessmentSettings(jwt_secret="…", base_url="https://platform.example/api/v1")
    ```
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # The platform.
    api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    base_url: str | None = None

    # Recruiter authentication: exactly one key source.
    jwt_secret: SecretStr | None = None
    jwks_url: str | None = None
    oidc_issuer: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: Annotated[tuple[str, ...], NoDecode] = ()
    jwt_leeway: float = Field(default=30.0, ge=0, le=600)
    recruiter_id_claim: str = Field(default="sub", min_length=1, max_length=256)
    recruiter_email_claim: str = Field(default="email", min_length=1, max_length=256)

    # Many customer organisations (docs/tenants.md): the claim naming the recruiter's tenant,
    # a file of tenant → key pair, the bound on a key lookup, tenants as a metric label.
    tenant_claim: str | None = Field(default=None, max_length=256)
    tenant_keys_file: str | None = None
    keys_timeout: float = Field(default=5.0, gt=0, le=60)
    tenant_metric_label: bool = False

    # Input limits.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_users: int = Field(default=100, ge=1, le=10_000)
    body_timeout: float = Field(default=10.0, gt=0, le=300)

    # Abuse limits (see _ratelimit.py): per-recruiter rate limit ("" turns it off), shared
    # through Redis when ASSESSMENT_REDIS_URL is set; a cap on concurrent platform calls.
    rate_limit: str = "30/minute"
    rate_limit_strategy: Literal["moving-window", "fixed-window"] = "moving-window"
    redis_url: SecretStr | None = None
    max_concurrent_calls: int = Field(default=64, ge=1, le=10_000)
    queue_timeout: float = Field(default=5.0, ge=0, le=60)

    # Idempotency-Key (see _idempotency.py): how long an answer is replayed (never past the
    # token's expiresAt), and how many keys one process keeps when Redis is not used.
    idempotency_ttl: float = Field(default=86_400.0, gt=0, le=7 * 86_400)
    idempotency_max_keys: int = Field(default=10_000, ge=1, le=10_000_000)

    # Recruiter key source limits (see _jwks.py).
    jwks_max_age: float = Field(default=3600.0, gt=0, le=7 * 86400)
    jwks_max_stale: float = Field(default=6 * 3600.0, ge=0, le=7 * 86400)
    jwks_refresh_interval: float = Field(default=30.0, ge=0, le=3600)

    # CORS for a frontend on another origin (see _cors.py): off unless origins are listed.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    cors_allow_credentials: bool = False
    cors_max_age: int = Field(default=600, ge=0, le=86400)

    # The platform call.
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    read_timeout: float = Field(default=15.0, gt=0, le=600)
    timeout: float = Field(default=20.0, gt=0, le=600)
    # What carries it (docs/platform-client.md "Engines"); unset: aiohttp on asyncio, httpx2 on trio.
    engine: Literal["aiohttp", "pyreqwest", "httpx2", "httpx"] | None = None
    # Freeze what start-up allocated out of the garbage collector's full walks (see _gc.py):
    # at lifespan startup, or after the first request where no lifespan reaches the app.
    gc_freeze: bool = True

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise configuration_error(exc) from None

    @classmethod
    def model_validate(cls, *args: Any, **kwargs: Any) -> Self:
        """As pydantic's, with the same `ConfigurationError` as the constructor."""
        try:
            return super().model_validate(*args, **kwargs)
        except ValidationError as exc:
            raise configuration_error(exc) from None

    # -- one setting at a time -------------------------------------------------------------

    @field_validator("jwt_algorithms", "cors_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("base_url", "jwks_url", "oidc_issuer", "jwt_issuer", "jwt_audience")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("base_url")
    @classmethod
    def _secure_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = value.rstrip("/")
        problem = secure_url_problem(url)
        if problem is None:
            return url
        setting = variable("base_url")
        if problem == PLAIN_HTTP:
            # The platform secret travels in a header of every call: never in clear text.
            problem = ("uses plain http to a remote host, so the keys would cross the network "
                       "unencrypted: use https:// (http:// only for loopback hosts)")
        raise ConfigurationError(f"{setting} {problem}", setting=setting)

    @field_validator("jwks_url", "oidc_issuer")
    @classmethod
    def _secure_key_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        # The issuer is kept exactly as written: tokens' "iss" and the discovery document's
        # "issuer" must equal it character for character (a trailing slash included).
        url = value.rstrip("/") if info.field_name == "jwks_url" else value
        problem = secure_url_problem(url, bare=False)
        if problem is not None:
            setting = variable(str(info.field_name))
            raise ConfigurationError(f"{setting} {problem}", setting=setting)
        return url

    @field_validator("api_key", "secret_key", "jwt_secret", "redis_url")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # ASSESSMENT_JWT_SECRET= (empty) in a .env means "not set", as for the other settings.
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("api_key", "secret_key")
    @classmethod
    def _usable_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None:
            check_key(value.get_secret_value(), variable(str(info.field_name)))
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            setting = variable("jwt_secret")
            raise ConfigurationError(
                f"{setting} must be at least {MIN_SECRET_BYTES} bytes", setting=setting
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_origin(o, variable("cors_origins")) for o in value))

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip():
            setting = variable("rate_limit")
            try:
                parse_rate_limit(value, setting)
            except ConfigurationError:
                raise ConfigurationError(
                    f"{setting} must look like '30/minute' or '30/minute;500/day' (amounts of 1 "
                    "or more), or be empty to turn the limit off",
                    setting=setting,
                ) from None
        return value.strip()

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        setting = variable("redis_url")
        checked = redis_url(value, setting)  # the one scheme check (_rules.py)
        if importlib.util.find_spec("redis") is None:
            raise ConfigurationError(
                f"{setting} is set but the redis package is missing: "
                "pip install 'assessment-asgi[redis]'",
                setting=setting,
            )
        return checked

    @field_validator("tenant_claim", "tenant_keys_file")
    @classmethod
    def _blank_tenant_setting_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    # -- settings that depend on each other --------------------------------------------------

    @model_validator(mode="after")
    def _consistent(self) -> AssessmentSettings:
        sources = [name for name in KEY_SOURCES if getattr(self, name) is not None]
        if len(sources) > 1:
            names = " and ".join(variable(s) for s in sources)
            raise ConfigurationError(
                f"{names} are all set: configure exactly one recruiter token key source",
                setting=variable(sources[0]),
            )
        if self.jwt_algorithms:
            allowed = HMAC_ALGORITHMS if self.jwt_secret is not None else ASYMMETRIC_ALGORITHMS
            wrong = [a for a in self.jwt_algorithms if a not in allowed]
            if wrong:
                setting = variable("jwt_algorithms")
                # Only names of the known vocabulary are repeated; anything else is input.
                known = [a for a in wrong if a in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS]
                what = f"{', '.join(known)} cannot be used" if len(known) == len(wrong) else (
                    "an unknown algorithm name is listed"
                )
                raise ConfigurationError(
                    f"{setting}: {what} with this key source (allowed: {', '.join(sorted(allowed))})",
                    setting=setting,
                )
        # One platform key without the other is not refused here: from the environment they
        # may be set later, and the platform docs want a 500 naming the missing one then.
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ConfigurationError(
                f"{variable('cors_origins')}='*' cannot be combined with "
                f"{variable('cors_allow_credentials')}: list the frontend origins instead",
                setting=variable("cors_allow_credentials"),
            )
        return self


def configuration_error(exc: ValidationError) -> ConfigurationError:
    """pydantic's `ValidationError` as one `ConfigurationError`: each problem names its
    variable and what is allowed, never the value given."""
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigurationError) and cause.setting:
            problems.append((cause.setting, str(cause)))
            continue
        field = str(error["loc"][0]) if error["loc"] else ""
        setting = variable(field) if field else "the configuration"
        problems.append((setting, f"{setting} is invalid ({field}=): {error['msg']}"))
    message = "; ".join(text for _, text in problems)
    return ConfigurationError(message, setting=problems[0][0], problems=problems)
