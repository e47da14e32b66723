"""Canary secrets: never in a response, a log record, a repr/str, an exception or a traceback.

(Every other test in this directory runs under the same ``leak_guard`` with DEBUG logging;
these tests aim at the places a secret is most likely to slip out.)
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import httpx2
import pytest
from starlette.requests import Request

from assessment_asgi import (
    AssessmentApp,
    AssessmentSettings,
    ConfigurationError,
    Credentials,
    EnvironmentKeys,
    JWTAuthenticator,
    SmartAIClient,
)
from assessment_asgi._exceptions import HTTPException
from assessment_asgi._jwks import JWKSCache
from tests._fake import FakePlatform

from .conftest import (
    API_KEY,
    JWT_SECRET,
    MINTED,
    SECRET_KEY,
    assert_clean,
    bearer,
    body,
    hs_token,
    make_app,
    mounted,
)

REDIS_PASSWORD = "CANARY-REDIS-PASSWORD-77"


def _all_logs(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


def test_reprs_and_strs_of_everything_configured_hold_no_secret(platform_url: str) -> None:
    redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0"
    app = make_app(platform_url, redis_url=redis_url, cors_origins=["https://app.example.com"])
    settings = AssessmentSettings(api_key=API_KEY, secret_key=SECRET_KEY, jwt_secret=JWT_SECRET,
                                  redis_url=redis_url, base_url=platform_url)
    jwks = JWKSCache(jwks_url=f"https://user:{REDIS_PASSWORD}@keys.example/jwks.json")
    objects: list[Any] = [
        app, app.settings, settings, settings.model_dump(), settings.model_dump_json(),
        app.keys, app.client, app.authenticate, app.rate_limiter, app.call_limiter, app.cors,
        Credentials(API_KEY, SECRET_KEY), JWTAuthenticator(jwks=jwks), jwks,
        HTTPException("internal_error"),
    ]
    for obj in objects:
        for text in (repr(obj), str(obj)):
            assert_clean(text)
            assert REDIS_PASSWORD not in text


@pytest.mark.parametrize(
    "settings",
    [
        {"jwt_secret": "CANARY-too-short"},
        {"jwt_secret": JWT_SECRET, "jwks_url": "https://keys.example/jwks.json"},
        {"jwt_secret": JWT_SECRET, "redis_url": f"http://:{REDIS_PASSWORD}@127.0.0.1/0"},
        {"jwt_secret": JWT_SECRET, "api_key": API_KEY},
        {"jwt_secret": JWT_SECRET, "jwt_algorithms": "RS256"},
    ],
    ids=["short secret", "two key sources", "bad redis url", "key without secret",
         "wrong algorithm"],
)
def test_configuration_errors_name_the_setting_not_the_value(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        AssessmentApp(**settings)
    assert info.value.setting is not None
    assert info.value.setting.startswith("ASSESSMENT_")
    text = f"{info.value!s} {info.value!r} {''.join(traceback.format_exception(info.value))}"
    assert "CANARY-too-short" not in text
    assert REDIS_PASSWORD not in text
    assert_clean(text)


def test_an_internal_error_is_a_generic_500_and_its_message_is_withheld(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = hs_token()

    async def leaky_authenticate(request: Request) -> dict[str, Any]:
        header = request.headers["authorization"]
        # A careless hook quotes every secret it can reach in its exception.
        raise RuntimeError(f"vault refused {API_KEY} {SECRET_KEY} {JWT_SECRET} for {header}")

    app = make_app(platform_url, authenticate=leaky_authenticate, jwt_secret=JWT_SECRET)
    with mounted(app) as url:
        response = checked_client.post(url, json=body(), headers=bearer(token))
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal server error",
                               "code": "internal_error"}
    assert "/" not in response.text  # no paths, no frames
    logged = _all_logs(caplog)
    assert "RuntimeError: (message withheld: it may quote secrets)" in logged
    assert "leaky_authenticate" in logged  # the stack is there to fix the bug…
    assert_clean(logged)  # …the secrets are not
    assert token not in logged
    assert platform.calls == []


def test_a_failing_key_provider_is_a_generic_503_keys_unavailable(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def keys() -> Credentials:
        raise KeyError(f"secret/{SECRET_KEY}")

    app = AssessmentApp(base_url=platform_url, jwt_secret=JWT_SECRET, keys=keys)
    with mounted(app) as url:
        response = checked_client.post(url, json=body(), headers=bearer(hs_token()))
    # Issue 20: a key provider that raises is an outage to retry, not a bug (was 500).
    assert response.status_code == 503
    assert response.json()["code"] == "keys_unavailable"
    assert response.headers["retry-after"] == "5"
    assert "KeyError" in _all_logs(caplog)
    assert_clean(_all_logs(caplog))
    assert platform.calls == []


def test_every_outcome_with_debug_logging_leaks_nothing(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Success, platform failures, refusals and limits, all with canaries, all clean."""
    app = make_app(platform_url, rate_limit="3/minute", timeout=5.0)
    token = hs_token(email="CANARY-recruiter@hire.example")
    MINTED.add(token)
    responses = []
    with mounted(app) as url:
        for mode in ("ok", "401", "500", "html", "429", "bad_envelope"):
            platform.mode = mode
            responses.append(checked_client.post(url, json=body(), headers=bearer(token)))
        platform.mode = "ok"
        responses.append(checked_client.post(url, json=body(), headers=bearer(token)))  # 429
        responses.append(checked_client.post(url, json=body(), headers=bearer(token + "x")))
        responses.append(checked_client.post(
            url, content=b"{", headers={**bearer(token), "Content-Type": "application/json"}
        ))
    assert responses[0].status_code == 200
    assert {r.status_code for r in responses[1:]} >= {429, 401, 400, 502}
    logged = _all_logs(caplog)
    assert_clean(logged)
    assert "CANARY-recruiter" not in logged
    assert "ada@example.com" not in logged  # candidates' emails are personal data


# -- keys no request could carry (issue #19) ------------------------------------------------

FLAWED_KEYS = {
    "crlf": API_KEY + "\r\nX-Injected: 1", "lf": API_KEY + "\n", "nul": API_KEY + "\x00",
    "tab": API_KEY + "\t", "del": "\x7f" + API_KEY, "leading space": " " + API_KEY,
    "trailing space": API_KEY + " ",
}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("engine", ["aiohttp", "pyreqwest", "httpx2", "httpx"])
@pytest.mark.parametrize("flaw", FLAWED_KEYS)
@pytest.mark.parametrize("which", ["api_key", "secret_key"])
async def test_a_key_no_header_could_carry_is_refused_before_any_request_and_never_logged(
    platform_url: str, caplog: pytest.LogCaptureFixture, engine: str, flaw: str, which: str
) -> None:
    """With DEBUG logging on every logger: HTTP libraries quote a header value they refuse
    ("Illegal header value b'…'") in their own log records and exceptions."""
    caplog.set_level(logging.DEBUG)
    bad = FLAWED_KEYS[flaw] if which == "api_key" else FLAWED_KEYS[flaw].replace(API_KEY, SECRET_KEY)
    keys = {"api_key": API_KEY, "secret_key": SECRET_KEY, which: bad}

    async def create_session() -> None:
        credentials = Credentials(keys["api_key"], keys["secret_key"])
        async with SmartAIClient(
            base_url=platform_url, credentials=credentials, engine=engine, retry=1
        ) as client:
            await client.create_session(name="Ada", email="ada@example.com", recruiter_id="r-1")

    with pytest.raises(ConfigurationError) as info:
        await create_session()
    assert info.value.setting == which
    text = f"{info.value!s} {info.value!r} {''.join(traceback.format_exception(info.value))}"
    assert_clean(text)
    assert_clean(_all_logs(caplog))  # the suite-wide canary check (tests/_canary.py) too


@pytest.mark.parametrize("flaw", [f for f in FLAWED_KEYS if f != "nul"])  # no environment holds a NUL
def test_the_app_refuses_a_flawed_key_from_the_environment_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, flaw: str
) -> None:
    monkeypatch.setenv("ASSESSMENT_SECRET_KEY", FLAWED_KEYS[flaw].replace(API_KEY, SECRET_KEY))
    with pytest.raises(ConfigurationError) as info:
        AssessmentApp(jwt_secret=JWT_SECRET, api_key=API_KEY)
    assert info.value.setting == "ASSESSMENT_SECRET_KEY"
    assert_clean(f"{info.value!s} {info.value!r}")
    for flawed in (FLAWED_KEYS[flaw], FLAWED_KEYS["nul"]):
        with pytest.raises(ConfigurationError, match=r"^ASSESSMENT_API_KEY"):
            AssessmentSettings(api_key=flawed, secret_key=SECRET_KEY)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_key_changed_to_a_flawed_one_after_start_up_is_a_500_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = EnvironmentKeys()
    monkeypatch.setenv("ASSESSMENT_API_KEY", API_KEY)
    monkeypatch.setenv("ASSESSMENT_SECRET_KEY", SECRET_KEY)
    assert (await keys()).api_key.get_secret_value() == API_KEY
    monkeypatch.setenv("ASSESSMENT_API_KEY", FLAWED_KEYS["crlf"])
    with pytest.raises(HTTPException) as info:
        await keys()
    assert (info.value.code, info.value.message) == (
        "not_configured", "ASSESSMENT_API_KEY is malformed on the server"
    )
