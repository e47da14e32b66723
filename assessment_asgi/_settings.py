"""Configuration from the environment and ``.env`` (prefix ``ASSESSMENT_``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_ALGORITHMS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class AssessmentSettings(BaseSettings):
    """Every setting of the package, read from ``ASSESSMENT_*`` variables and ``.env``.

    Keyword arguments of :class:`AssessmentApp` override these one by one::

        settings = AssessmentSettings(jwt_secret="…", base_url="http://127.0.0.1:8001/api/v1")
    """

    model_config = SettingsConfigDict(
        env_prefix="ASSESSMENT_",
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
    recruiter_id_claim: str = "sub"
    recruiter_email_claim: str = "email"

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
    # What carries it (README "Engines"); unset: aiohttp on asyncio, httpx2 on trio.
    engine: Literal["aiohttp", "pyreqwest", "httpx2"] | None = None

    @field_validator("jwt_algorithms", "cors_origins", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        return _split(value)

    @field_validator("base_url", "jwks_url", "oidc_issuer")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip().rstrip("/")
