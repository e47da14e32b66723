"""Configuration: environment, .env, keyword overrides, and clear errors naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from assessment_asgi import (
    AssessmentApp,
    AssessmentSettings,
    ConfigurationError,
    Credentials,
    JWTAuthenticator,
    SmartAIClient,
)
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, USERS, auth


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_BASE_URL", "http://127.0.0.1:9/api/v1/")
    monkeypatch.setenv("ASSESSMENT_JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("ASSESSMENT_JWT_ALGORITHMS", "HS256, HS512")
    monkeypatch.setenv("ASSESSMENT_MAX_USERS", "7")
    settings = AssessmentSettings()
    assert settings.base_url == "http://127.0.0.1:9/api/v1"
    assert settings.jwt_algorithms == ("HS256", "HS512")
    assert settings.max_users == 7
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == JWT_SECRET


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"ASSESSMENT_API_KEY={API_KEY}\nASSESSMENT_SECRET_KEY={SECRET_KEY}\n"
        f"ASSESSMENT_JWT_SECRET={JWT_SECRET}\nOTHER_APP_SETTING=ignored\n"
    )
    app = AssessmentApp()
    # The built-in key providers are async (awaited inline, never in the thread pool).
    assert anyio.run(app.keys) == Credentials(API_KEY, SECRET_KEY)
    assert isinstance(app.authenticate, JWTAuthenticator)


def test_served_from_dotenv_end_to_end(
    tmp_path: Path, served: Any, platform: Any, platform_url: str
) -> None:
    (tmp_path / ".env").write_text(
        f"ASSESSMENT_API_KEY={API_KEY}\nASSESSMENT_SECRET_KEY={SECRET_KEY}\n"
        f"ASSESSMENT_JWT_SECRET={JWT_SECRET}\nASSESSMENT_BASE_URL={platform_url}\n"
    )
    with served(AssessmentApp()) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    assert platform.calls[0]["headers"]["x-api-key"] == API_KEY


def test_keyword_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_MAX_USERS", "7")
    app = AssessmentApp(max_users=3, jwt_secret=JWT_SECRET)
    assert app.settings.max_users == 3


def test_unknown_keyword_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="max_userz"):
        AssessmentApp(max_userz=3)


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"jwt_secret": "short"}, "ASSESSMENT_JWT_SECRET"),
        ({"jwt_secret": JWT_SECRET, "jwt_algorithms": ("RS256",)}, "ASSESSMENT_JWT_ALGORITHMS"),
        ({"jwks_url": "http://keys.example.com/jwks.json"}, "ASSESSMENT_JWKS_URL"),
        ({"oidc_issuer": "ftp://issuer.example.com"}, "ASSESSMENT_OIDC_ISSUER"),
        ({"jwt_secret": JWT_SECRET, "jwks_url": "https://keys.example.com/jwks"},
         "ASSESSMENT_JWT_SECRET"),
        ({"api_key": API_KEY}, "ASSESSMENT_API_KEY"),
    ],
)
def test_bad_configuration_names_the_setting(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting) as info:
        AssessmentApp(**kwargs)
    assert info.value.setting == setting


def test_invalid_setting_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_MAX_USERS", "0")
    with pytest.raises(ValueError, match="max_users"):
        AssessmentSettings()


@pytest.mark.parametrize("hook", ["authenticate", "resolve_recruiter", "keys"])
def test_hooks_must_be_callable(hook: str) -> None:
    with pytest.raises(TypeError, match=hook):
        AssessmentApp(**{hook: 42})


def test_missing_base_url_is_a_500_naming_the_setting(
    served: Any, env_keys: None
) -> None:
    with served(AssessmentApp(jwt_secret=JWT_SECRET)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 500
    assert response.json()["code"] == "not_configured"
    assert "ASSESSMENT_BASE_URL" in response.json()["error"]


# -- one check at construction (issue #12) ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "setting", "allowed"),
    [
        ({"base_url": "ftp://example.com/api/v1"}, "ASSESSMENT_BASE_URL", "https://"),
        ({"base_url": "http://platform.example:8000/api/v1"}, "ASSESSMENT_BASE_URL", "https://"),
        ({"base_url": "https://user:pw@platform.example/api/v1"}, "ASSESSMENT_BASE_URL",
         "credentials"),
        ({"base_url": "https://platform.example:99999/api/v1"}, "ASSESSMENT_BASE_URL", "https://"),
        ({"max_users": 0}, "ASSESSMENT_MAX_USERS", "greater than or equal to 1"),
        ({"max_users": "lots"}, "ASSESSMENT_MAX_USERS", "valid integer"),
        ({"rate_limit_strategy": "leaky-bucket"}, "ASSESSMENT_RATE_LIMIT_STRATEGY", "moving-window"),
        ({"cors_origins": ["https://app.example.com/path"]}, "ASSESSMENT_CORS_ORIGINS", "origin like"),
        ({"recruiter_id_claim": ""}, "ASSESSMENT_RECRUITER_ID_CLAIM", "at least 1 character"),
    ],
)
def test_every_bad_setting_is_a_configuration_error_naming_the_variable(
    kwargs: dict[str, Any], setting: str, allowed: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        AssessmentApp(jwt_secret=JWT_SECRET, api_key=API_KEY, secret_key=SECRET_KEY, **kwargs)
    assert info.value.setting == setting
    assert setting in str(info.value)
    assert allowed in str(info.value)
    assert not isinstance(info.value.__cause__, ValidationError)
    for value in kwargs.values():
        if isinstance(value, str) and value:
            assert value not in str(info.value)  # what is allowed, never what was given


def test_the_same_check_holds_for_the_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSESSMENT_BASE_URL", "http://platform.example/api/v1")
    with pytest.raises(ConfigurationError, match="ASSESSMENT_BASE_URL"):
        AssessmentApp(jwt_secret=JWT_SECRET)
    with pytest.raises(ConfigurationError, match="ASSESSMENT_BASE_URL"):
        AssessmentSettings()
    monkeypatch.delenv("ASSESSMENT_BASE_URL")
    (tmp_path / ".env").write_text("ASSESSMENT_MAX_USERS=0\n")
    with pytest.raises(ConfigurationError, match="ASSESSMENT_MAX_USERS"):
        AssessmentApp(jwt_secret=JWT_SECRET)
    with pytest.raises(ConfigurationError, match="ASSESSMENT_MAX_USERS"):
        AssessmentSettings.model_validate({"max_users": 0})


@pytest.mark.parametrize(
    "url", ["https://platform.example/api/v1", "http://127.0.0.1:9/api/v1",
            "http://localhost:9/api/v1", "http://[::1]:9/api/v1"],
)
def test_https_and_loopback_base_urls_are_accepted(url: str) -> None:
    app = AssessmentApp(jwt_secret=JWT_SECRET, base_url=url, api_key=API_KEY, secret_key=SECRET_KEY)
    assert app.client.base_url == url  # built at construction; nothing is sent


def test_the_client_names_its_own_parameter_for_a_cleartext_base_url() -> None:
    with pytest.raises(ConfigurationError, match="base_url must use https://") as info:
        SmartAIClient(base_url="http://platform.example:8000/api/v1")
    assert info.value.setting == "base_url"
    assert SmartAIClient(base_url="http://127.0.0.1:9/api/v1").base_url == "http://127.0.0.1:9/api/v1"


def test_components_used_on_their_own_name_their_own_parameters() -> None:
    with pytest.raises(ConfigurationError, match=r"^secret must be at least 32 bytes") as info:
        JWTAuthenticator(secret="short")
    assert info.value.setting == "secret"
    with pytest.raises(ConfigurationError, match=r"^algorithms:") as info:
        JWTAuthenticator(secret=JWT_SECRET, algorithms=["RS256"])
    assert info.value.setting == "algorithms"
    with pytest.raises(ConfigurationError, match=r"^jwks_url must use https://"):
        JWTAuthenticator(jwks_url="http://keys.example/jwks.json")


def test_hooks_are_fixed_at_construction() -> None:
    app = AssessmentApp(jwt_secret=JWT_SECRET)
    for name in ("authenticate", "resolve_recruiter", "keys", "settings", "cors", "client",
                 "rate_limiter", "call_limiter", "telemetry", "idempotency"):
        with pytest.raises(AttributeError):
            setattr(app, name, None)


def test_the_client_property_without_a_base_url_is_a_configuration_error() -> None:
    app = AssessmentApp(jwt_secret=JWT_SECRET)
    with pytest.raises(ConfigurationError, match="ASSESSMENT_BASE_URL"):
        app.client  # noqa: B018 - the property is the behaviour under test


# -- one Redis URL rule (issue 18) -------------------------------------------------------------

REDIS_URLS = ["redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6380/0",
              "redis+unix:///tmp/redis.sock", "unix:///tmp/redis.sock"]
NOT_REDIS_URLS = ["http://127.0.0.1:6379", "memcached://127.0.0.1:11211", "redis:127.0.0.1"]


def test_every_redis_user_takes_the_same_urls() -> None:
    # Settings, rate limiter, idempotency store and poller dedup store: one rule, one message.
    from assessment_asgi._idempotency import RedisIdempotencyStore
    from assessment_asgi._ratelimit import RecruiterRateLimiter
    from assessment_asgi.platform import RedisDedupStore

    async def build_and_close(url: str) -> None:
        assert AssessmentSettings(redis_url=url).redis_url is not None
        assert RecruiterRateLimiter(storage_uri=url).backend == "redis"
        idempotency = RedisIdempotencyStore(url)
        dedup = RedisDedupStore(url)  # nothing connects before the first command
        await idempotency.aclose()
        await dedup.aclose()

    for url in REDIS_URLS:
        anyio.run(build_and_close, url)
    for url in NOT_REDIS_URLS:
        for build, setting in (
            (lambda u: AssessmentSettings(redis_url=u), "ASSESSMENT_REDIS_URL"),
            (lambda u: RecruiterRateLimiter(storage_uri=u), "storage_uri"),
            (RedisIdempotencyStore, "url"),
            (RedisDedupStore, "redis"),
        ):
            with pytest.raises(ConfigurationError) as info:
                build(url)
            assert info.value.setting == setting
            assert str(info.value) == f"{setting} must be a redis://, rediss:// or redis+unix:// URL"


# -- URLs and keys no request could use (issue #19) -------------------------------------------

BAD_URLS = {
    "crlf": "https://platform.example/api/v1\r\nX-Injected: 1",
    "cr in the path": "https://platform.example/api\r/v1",
    "lf in the host": "https://platform\n.example/api/v1",
    "nul": "https://platform.example/api/v1\x00",
    "tab": "https://platform.example/api\t/v1",
    "del": "https://platform.example/\x7fapi/v1",
    "space in the host": "https://platform example/api/v1",
    "space in the path": "https://platform.example/api v1",
    "no-break space": "https://platform.example/api\u00a0/v1",
    "empty host": "https://:443/api/v1",
    "port 0": "https://platform.example:0/api/v1",
    "port 0 on loopback": "http://127.0.0.1:0/api/v1",
}


@pytest.mark.parametrize("flaw", BAD_URLS)
def test_a_base_url_no_request_could_use_is_refused_at_construction(flaw: str) -> None:
    url = BAD_URLS[flaw]
    with pytest.raises(ConfigurationError) as info:
        AssessmentApp(jwt_secret=JWT_SECRET, api_key=API_KEY, secret_key=SECRET_KEY, base_url=url)
    assert info.value.setting == "ASSESSMENT_BASE_URL"
    assert str(info.value).startswith("ASSESSMENT_BASE_URL must ")
    assert "plain http" not in str(info.value)  # the problem named is the URL's own
    assert url.strip() not in str(info.value)
    # The same check (assessment_asgi/_urls.py) for components used on their own.
    for setting in ("base_url", "queue_base_url"):
        urls = {"base_url": "https://platform.example/api/v1", setting: url}
        with pytest.raises(ConfigurationError, match=rf"^{setting} must ") as client_info:
            SmartAIClient(**urls)
        assert client_info.value.setting == setting
    with pytest.raises(ConfigurationError, match=r"^jwks_url must "):
        JWTAuthenticator(jwks_url=url.replace("/api/v1", "/jwks.json"))


def test_surrounding_blanks_of_a_url_are_still_trimmed() -> None:
    app = AssessmentApp(jwt_secret=JWT_SECRET, base_url=" https://platform.example/api/v1/\n")
    assert app.client.base_url == "https://platform.example/api/v1"


@pytest.mark.parametrize(
    "key", ["wc_ak_test_1\r\n", "wc_ak_test_\x001", "wc_ak_test_1\t", " wc_ak_test_1", "wc_ak_test_1 "]
)
def test_credentials_refuse_a_key_no_header_could_carry(key: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^api_key (contains a control|has surrounding)") as info:
        Credentials(key, "wc_sk_test_1")
    assert info.value.setting == "api_key"
    with pytest.raises(ConfigurationError, match=r"^secret_key ") as info:
        Credentials("wc_ak_test_1", key.replace("ak", "sk"))
    assert info.value.setting == "secret_key"
    assert "wc_" not in str(info.value)
