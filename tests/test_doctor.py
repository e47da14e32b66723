"""``python -m assessment_asgi doctor`` as a user runs it: a subprocess with a controlled env."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessment_asgi.sandbox import SandboxApp
from tests._servers import free_port, serve

ROOT = Path(__file__).parents[1]
JWT_SECRET = "CANARY-JWT-SECRET-0123456789abcdef0123456789"
TEST_API = "wc_ak_test_CANARY-API-KEY-6b1e"
TEST_SECRET = "wc_sk_test_CANARY-SECRET-KEY-9d2f"
LIVE_API = "wc_ak_CANARY-LIVE-API-KEY-03aa"
LIVE_SECRET = "wc_sk_CANARY-LIVE-SECRET-KEY-77c4"
CANARIES = (JWT_SECRET, TEST_API, TEST_SECRET, LIVE_API, LIVE_SECRET, "CANARY")


def doctor(cwd: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run doctor with only ``env`` (plus what Python needs) and check nothing leaked."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "assessment_asgi", "doctor", *args],
        cwd=cwd, env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True, text=True, timeout=60,
    )
    assert done.stderr == ""
    for canary in CANARIES:
        assert canary not in done.stdout
    return done.returncode, done.stdout


def fails(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("FAIL")]


@pytest.fixture
def platform() -> Iterator[tuple[SandboxApp, str]]:
    sandbox = SandboxApp()
    with serve(sandbox) as url:
        yield sandbox, SandboxApp.platform_url(url)


def _keys(sandbox: SandboxApp) -> dict[str, str]:
    return {
        "ASSESSMENT_API_KEY": sandbox.credentials.api_key.get_secret_value(),
        "ASSESSMENT_SECRET_KEY": sandbox.credentials.secret_key.get_secret_value(),
    }


def test_nothing_configured_lists_each_missing_setting_with_its_fix(tmp_path: Path) -> None:
    status, out = doctor(tmp_path)
    assert status == 1
    problems = fails(out)
    assert [p.split(" is ")[0] for p in problems[:2]] == [
        "FAIL  ASSESSMENT_API_KEY", "FAIL  ASSESSMENT_SECRET_KEY",
    ]
    assert any("recruiter authentication is not configured" in p for p in problems)
    assert any(p.startswith("FAIL  ASSESSMENT_BASE_URL is not set") for p in problems)
    assert all(". Fix: " in p for p in problems)
    assert out.rstrip().endswith("4 problems found.")


def test_a_good_configuration_against_a_reachable_platform_is_all_good(
    tmp_path: Path, platform: tuple[SandboxApp, str]
) -> None:
    sandbox, base_url = platform
    status, out = doctor(
        tmp_path, **_keys(sandbox), ASSESSMENT_JWT_SECRET=JWT_SECRET, ASSESSMENT_BASE_URL=base_url,
        NEXT_PUBLIC_ASSESSMENT_API_KEY=_keys(sandbox)["ASSESSMENT_API_KEY"],  # public: fine
    )
    assert status == 0, out
    assert fails(out) == []
    assert "no real emails are sent" in out
    assert f"reachable: {base_url} answered HTTP" in out
    assert "the platform accepted the keys" in out
    assert out.rstrip().endswith("All good.")
    for value in _keys(sandbox).values():
        assert value not in out


def test_keys_the_platform_refuses_are_reported(
    tmp_path: Path, platform: tuple[SandboxApp, str]
) -> None:
    _, base_url = platform
    status, out = doctor(
        tmp_path, ASSESSMENT_API_KEY=TEST_API, ASSESSMENT_SECRET_KEY=TEST_SECRET,
        ASSESSMENT_JWT_SECRET=JWT_SECRET, ASSESSMENT_BASE_URL=base_url,
    )
    assert status == 1
    # Issue 21: the FAIL line names the settings to fix.
    assert fails(out) == [
        "FAIL  the platform refused the keys (HTTP 401): every call will fail. Fix: copy "
        "ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY again from the SmartAI dashboard, for this "
        "platform's environment (test keys for the test environment)"
    ]
    assert "All good." not in out


@pytest.mark.parametrize("suffix", ["", "/api", "/v1"])
@pytest.mark.parametrize("given", [False, True], ids=["env", "--base-url"])
def test_a_base_url_the_platform_answers_404_for_fails_naming_the_setting(
    tmp_path: Path, platform: tuple[SandboxApp, str], suffix: str, given: bool
) -> None:
    """Issue 21: with the /api/v1 prefix missing every POST /session answered 502 while doctor
    printed two warnings and "All good."."""
    sandbox, good_url = platform
    base_url = good_url.removesuffix("/api/v1") + suffix
    args, env = (["--base-url", base_url], {}) if given else ([], {"ASSESSMENT_BASE_URL": base_url})
    status, out = doctor(tmp_path, *args, **_keys(sandbox), ASSESSMENT_JWT_SECRET=JWT_SECRET, **env)
    assert status == 1, out
    setting = "--base-url" if given else "ASSESSMENT_BASE_URL"
    assert fails(out) == [
        f"FAIL  {setting}: the platform answers HTTP 404 for {base_url}/assessments, so every call "
        f"will fail. Fix: set {setting} to the platform's base URL, including /api/v1 "
        "(https://<platform host>/api/v1)"
    ]
    assert out.rstrip().endswith("1 problem found.")


def _answering(status: int, body: bytes, content_type: str = "application/json", **headers: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        pairs = [(b"content-type", content_type.encode())]
        pairs += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": pairs})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_answering(301, b"", location="https://elsewhere.example/api/v1"), "FAIL  --base-url: "),
        (_answering(200, b"<!doctype html><h1>Our app</h1>", "text/html"), "FAIL  --base-url: "),
        (_answering(400, b"{}"), "FAIL  the platform refused a signed read-only call (HTTP 400)"),
        (_answering(503, b'{"success": false}'), "warn  could not verify the keys: SmartAIServerError"),
        (_answering(429, b"{}", retry_after="3600"), "warn  could not verify the keys: SmartAIRate"),
    ],
    ids=["redirect", "html-200", "400", "503", "429"],
)
def test_only_what_a_request_could_survive_is_a_warning(tmp_path: Path, answer: Any, expected: str) -> None:
    with serve(answer) as url:
        status, out = doctor(
            tmp_path, "--base-url", f"{url}/api/v1", ASSESSMENT_API_KEY=TEST_API,
            ASSESSMENT_SECRET_KEY=TEST_SECRET, ASSESSMENT_JWT_SECRET=JWT_SECRET,
        )
    line = next(line.strip() for line in out.splitlines() if line.strip().startswith(expected))
    if expected.startswith("FAIL"):
        assert (status, fails(out)) == (1, [line]), out
        assert "Fix: " in line
    else:
        assert (status, fails(out)) == (0, []), out
        assert out.rstrip().endswith("All good.")


def test_an_unreachable_platform_is_reported(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{free_port()}/api/v1"  # nothing listens there
    status, out = doctor(
        tmp_path, "--base-url", base_url,
        ASSESSMENT_API_KEY=TEST_API, ASSESSMENT_SECRET_KEY=TEST_SECRET,
        ASSESSMENT_JWT_SECRET=JWT_SECRET,
    )
    assert status == 1
    [problem] = fails(out)
    assert problem.startswith(f"FAIL  cannot reach {base_url} (")
    assert "Fix: check the URL" in problem


@pytest.mark.parametrize(
    ("api_key", "secret_key", "expected"),
    [
        (TEST_API, LIVE_SECRET, "ASSESSMENT_API_KEY is a test key but ASSESSMENT_SECRET_KEY is a live key"),
        (LIVE_API, TEST_SECRET, "ASSESSMENT_SECRET_KEY is a test key but ASSESSMENT_API_KEY is a live key"),
        (TEST_SECRET, TEST_API, "ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY look swapped"),
        (TEST_API, TEST_API, "ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY are the same value"),
        # The settings check (the app's own) names whitespace and control characters in keys.
        (f" {TEST_API}", TEST_SECRET, "ASSESSMENT_API_KEY has surrounding whitespace"),
        (f"'{TEST_API}'", TEST_SECRET, "ASSESSMENT_API_KEY has surrounding quotes"),
    ],
)
def test_inconsistent_keys_are_named_never_shown(
    tmp_path: Path, api_key: str, secret_key: str, expected: str
) -> None:
    status, out = doctor(
        tmp_path, "--offline", ASSESSMENT_API_KEY=api_key, ASSESSMENT_SECRET_KEY=secret_key,
        ASSESSMENT_JWT_SECRET=JWT_SECRET, ASSESSMENT_BASE_URL="http://127.0.0.1:9/api/v1",
    )
    assert status == 1
    [problem] = fails(out)
    assert problem.startswith(f"FAIL  {expected}")
    assert ". Fix: " in problem


def test_a_secret_in_browser_exposed_variables_is_caught_in_env_and_frontend_env_files(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        f"ASSESSMENT_API_KEY={TEST_API}\nASSESSMENT_SECRET_KEY={TEST_SECRET}\n"
        f"NEXT_PUBLIC_ASSESSMENT_API_KEY={TEST_API}\n"
    )
    (tmp_path / ".env.local").write_text(f"VITE_SMARTAI_SECRET='{TEST_SECRET}'\n")
    status, out = doctor(
        tmp_path, "--offline",
        NEXT_PUBLIC_ASSESSMENT_SECRET_KEY="anything",
        REACT_APP_RECRUITER_TOKEN_SECRET=JWT_SECRET,
        ASSESSMENT_JWT_SECRET=JWT_SECRET, ASSESSMENT_BASE_URL="http://127.0.0.1:9/api/v1",
    )
    assert status == 1
    problems = fails(out)
    assert len(problems) == 3, out
    assert any(p.startswith("FAIL  VITE_SMARTAI_SECRET (in .env.local) holds a secret") for p in problems)
    assert any(p.startswith("FAIL  NEXT_PUBLIC_ASSESSMENT_SECRET_KEY (in the environment)") for p in problems)
    assert any(p.startswith("FAIL  REACT_APP_RECRUITER_TOKEN_SECRET (in the environment)") for p in problems)
    assert all("rotate the secret" in p for p in problems)
    # The public key belongs there: not a problem.
    assert not any(p.startswith("FAIL  NEXT_PUBLIC_ASSESSMENT_API_KEY") for p in problems)
    assert "no real emails are sent" in out  # the keys came from .env


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ASSESSMENT_JWT_SECRET": "short"}, "ASSESSMENT_JWT_SECRET must be at least 32 bytes"),
        (
            {"ASSESSMENT_JWT_SECRET": JWT_SECRET, "ASSESSMENT_JWKS_URL": "https://idp.example/jwks"},
            "ASSESSMENT_JWT_SECRET and ASSESSMENT_JWKS_URL are all set",
        ),
        ({"ASSESSMENT_JWT_SECRET": TEST_SECRET + "-padding-to-32"}, None),
        ({"ASSESSMENT_MAX_USERS": "lots"}, "ASSESSMENT_MAX_USERS is invalid"),
    ],
)
def test_auth_and_setting_problems_name_the_variable(
    tmp_path: Path, env: dict[str, str], expected: str | None
) -> None:
    keys = {"ASSESSMENT_API_KEY": TEST_API, "ASSESSMENT_SECRET_KEY": TEST_SECRET}
    status, out = doctor(
        tmp_path, "--offline", **keys, ASSESSMENT_BASE_URL="http://127.0.0.1:9/api/v1",
        **({"ASSESSMENT_JWT_SECRET": JWT_SECRET} | env),
    )
    if expected is None:
        assert status == 0, out
        return
    assert status == 1
    assert any(p.startswith(f"FAIL  {expected}") for p in fails(out)), out


def test_the_jwt_secret_must_not_be_a_platform_key(tmp_path: Path) -> None:
    secret = TEST_SECRET + "-long-enough-for-hs256"
    status, out = doctor(
        tmp_path, "--offline", ASSESSMENT_API_KEY=TEST_API, ASSESSMENT_SECRET_KEY=secret,
        ASSESSMENT_JWT_SECRET=secret, ASSESSMENT_BASE_URL="http://127.0.0.1:9/api/v1",
    )
    assert status == 1
    assert fails(out)[0].startswith("FAIL  ASSESSMENT_JWT_SECRET is one of the platform keys")


def test_base_url_shape_plain_http_to_a_remote_host_and_a_missing_api_prefix(
    tmp_path: Path,
) -> None:
    keys = {"ASSESSMENT_API_KEY": TEST_API, "ASSESSMENT_SECRET_KEY": TEST_SECRET,
            "ASSESSMENT_JWT_SECRET": JWT_SECRET}
    # --offline as well: this test must never try a non-loopback host, even if a bug would.
    status, out = doctor(
        tmp_path, "--offline", ASSESSMENT_BASE_URL="http://platform.invalid/api/v1", **keys
    )
    assert status == 1
    assert fails(out)[0].startswith("FAIL  ASSESSMENT_BASE_URL uses plain http to a remote host")

    status, out = doctor(tmp_path, "--offline", "--base-url", "http://127.0.0.1:9/v2", **keys)
    assert status == 0, out
    assert "warn  --base-url does not end in /api/v1" in out


def test_sandbox_round_trip_needs_no_keys_and_no_base_url(tmp_path: Path) -> None:
    status, out = doctor(tmp_path, "--sandbox", ASSESSMENT_JWT_SECRET=JWT_SECRET)
    assert status == 0, out
    assert "info  ASSESSMENT_API_KEY is not set: the sandbox check uses a generated test pair" in out
    assert "ok    sandbox round trip: create-session answered a token" in out


def test_sandbox_round_trip_uses_the_configured_test_keys_and_refuses_live_ones(
    tmp_path: Path,
) -> None:
    status, out = doctor(
        tmp_path, "--sandbox", ASSESSMENT_API_KEY=TEST_API, ASSESSMENT_SECRET_KEY=TEST_SECRET,
        ASSESSMENT_JWT_SECRET=JWT_SECRET,
    )
    assert status == 0, out
    assert "sandbox round trip: create-session answered a token" in out

    status, out = doctor(
        tmp_path, "--sandbox", ASSESSMENT_API_KEY=LIVE_API, ASSESSMENT_SECRET_KEY=LIVE_SECRET,
        ASSESSMENT_JWT_SECRET=JWT_SECRET,
    )
    assert status == 1
    assert fails(out) == [
        "FAIL  live keys are set, and the sandbox accepts test keys only. Fix: run --sandbox "
        "with test keys (or none): never give live keys to the sandbox"
    ]
    assert "round trip" not in out


# -- doctor and AssessmentApp() run one check (issue #12) ----------------------------------------

BAD_SETTINGS = [
    {"ASSESSMENT_BASE_URL": "ftp://platform.example/api/v1"},
    {"ASSESSMENT_BASE_URL": "http://platform.example:8000/api/v1"},
    {"ASSESSMENT_BASE_URL": "https://user:pw@platform.example/api/v1"},
    {"ASSESSMENT_MAX_USERS": "0"},
    {"ASSESSMENT_BODY_TIMEOUT": "never"},
    {"ASSESSMENT_JWT_SECRET": "short"},
    {"ASSESSMENT_JWT_ALGORITHMS": "RS256"},
    {"ASSESSMENT_JWKS_URL": "http://keys.example/jwks.json", "ASSESSMENT_JWT_SECRET": ""},
    {"ASSESSMENT_OIDC_ISSUER": "https://issuer.example"},
    {"ASSESSMENT_RATE_LIMIT": "lots"},
    {"ASSESSMENT_REDIS_URL": "http://127.0.0.1:6379"},
    {"ASSESSMENT_CORS_ORIGINS": "*", "ASSESSMENT_CORS_ALLOW_CREDENTIALS": "true"},
    {"ASSESSMENT_CORS_ORIGINS": "app.example.com"},
]


@pytest.mark.parametrize("bad", BAD_SETTINGS, ids=lambda bad: ",".join(sorted(bad)))
def test_doctor_and_the_app_agree_on_every_bad_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: dict[str, str]
) -> None:
    from assessment_asgi import AssessmentApp, ConfigurationError

    env = {"ASSESSMENT_API_KEY": TEST_API, "ASSESSMENT_SECRET_KEY": TEST_SECRET,
           "ASSESSMENT_JWT_SECRET": JWT_SECRET,
           "ASSESSMENT_BASE_URL": "http://127.0.0.1:9/api/v1", **bad}
    for name in [n for n in os.environ if n.upper().startswith("ASSESSMENT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env but the test's
    with pytest.raises(ConfigurationError) as info:
        AssessmentApp()
    status, out = doctor(tmp_path, "--offline", **env)
    assert status == 1
    expected = [f"FAIL  {message}. Fix: correct {setting} (see the Configuration table in "
                "docs/configuration.md)" for setting, message in info.value.problems]
    assert [p for p in fails(out) if "Configuration table" in p] == expected
    assert any(name in str(info.value) for name in bad)
