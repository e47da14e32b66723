"""The example app over real HTTP: sign in, create a session, open it on the sandbox's portal."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from assessment_asgi import AssessmentSettings
from assessment_asgi.sandbox import SandboxApp
from example_app import DEMO_CANDIDATES, create_app
from tests._servers import free_port, serve

from .conftest import Example

ROOT = Path(__file__).parents[2]
PICKED = [{"name": c.name, "email": c.email} for c in DEMO_CANDIDATES[:3]]


def _sign_in(client: httpx2.Client, url: str, email: str = "rita@hire.example") -> str:
    answer = client.post(f"{url}/login", json={"name": "Rita Recruiter", "email": email})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    token = answer.json()["data"]["token"]
    assert isinstance(token, str)
    return token


def test_sign_in_create_a_session_and_open_it_once_on_the_sandbox_portal(example: Example) -> None:
    with httpx2.Client() as client:
        login = client.post(
            f"{example.url}/login", json={"name": "Rita Recruiter", "email": "rita@hire.example"}
        ).json()["data"]
        recruiter = login["recruiter"]
        answer = client.post(
            f"{example.url}/assessment/session",
            json={"users": PICKED},
            headers={"Authorization": f"Bearer {login['token']}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        data = answer.json()["data"]
        assert set(data) == {"token", "expiresAt"}

        opened = client.post(f"{example.url}/sandbox/portal/open", json={"token": data["token"]})
        assert opened.status_code == 200
        view = opened.json()["data"]
        assert [(c["name"], c["email"]) for c in view["candidates"]] == [
            (u["name"], u["email"]) for u in PICKED
        ]
        assert view["recruiter"] == {"id": recruiter["id"], "email": "rita@hire.example"}

        again = client.post(f"{example.url}/sandbox/portal/open", json={"token": data["token"]})
        assert again.status_code == 401
        assert again.json()["error"] == "Token expired"


def test_pages_label_the_dev_sign_in_and_load_the_sandbox_portal_script(example: Example) -> None:
    with httpx2.Client() as client:
        sign_in = client.get(f"{example.url}/")
        assert sign_in.status_code == 200
        assert "Development only." in sign_in.text
        assert "Sandbox mode" in sign_in.text

        page = client.get(f"{example.url}/candidates")
        assert page.status_code == 200
        assert page.text.count('data-testid="candidate-row"') == len(DEMO_CANDIDATES) == 8
        assert '<script src="/sandbox/portal/sdk.js"></script>' in page.text
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

        script = client.get(f"{example.url}/sandbox/portal/sdk.js")
        assert script.status_code == 200
        assert "AssessmentPortal" in script.text
        assert client.get(f"{example.url}/static/app.js").status_code == 200


def test_the_endpoint_refuses_callers_without_a_recruiter_token_from_this_app(
    example: Example,
) -> None:
    foreign = jwt.encode(
        {"alg": "HS256"},
        {"sub": "rec_1", "email": "x@example.com", "exp": int(time.time()) + 60},
        OctKey.import_key(b"another-app-secret-0123456789abcdef"),
    )
    with httpx2.Client() as client:
        for headers in ({}, {"Authorization": f"Bearer {foreign}"}):
            answer = client.post(
                f"{example.url}/assessment/session", json={"users": PICKED}, headers=headers
            )
            assert answer.status_code == 401
            assert answer.json()["code"] == "unauthorized"
        assert example.sandbox.pending_events() == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "Rita", "email": "not-an-email"}, "invalid_email"),
        ({"name": " ", "email": "rita@hire.example"}, "invalid_name"),
        (["Rita"], "invalid_body"),
    ],
)
def test_the_dev_sign_in_refuses_bad_input_with_the_same_envelope(
    example: Example, body: object, code: str
) -> None:
    answer = httpx2.post(f"{example.url}/login", json=body)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert answer.json()["code"] == code
    assert answer.json()["error"]


def test_platform_mode_uses_the_configured_platform_and_never_logs_the_keys(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    platform = SandboxApp()  # a separate "platform" on its own loopback port
    api_key = platform.credentials.api_key.get_secret_value()
    secret_key = platform.credentials.secret_key.get_secret_value()
    with serve(platform) as platform_url:
        monkeypatch.setenv("ASSESSMENT_API_KEY", api_key)
        monkeypatch.setenv("ASSESSMENT_SECRET_KEY", secret_key)
        monkeypatch.setenv("ASSESSMENT_BASE_URL", SandboxApp.platform_url(platform_url))
        monkeypatch.setenv("ASSESSMENT_PORTAL_SCRIPT_URL", SandboxApp.portal_script_url(platform_url))
        with caplog.at_level(logging.INFO, logger="example_app"):
            app = create_app(dev_sign_in=True)  # opted in; served on loopback below
        modes = [r.getMessage() for r in caplog.records if r.name == "example_app"]
        assert any(m.startswith("mode=platform") and platform_url in m for m in modes)
        assert not any(api_key in m or secret_key in m for m in caplog.messages)

        with serve(app) as url, httpx2.Client() as client:
            page = client.get(f"{url}/candidates").text
            assert f'<script src="{platform_url}/portal/sdk.js"></script>' in page
            assert "Platform mode" in page
            assert client.get(f"{url}/sandbox/portal/sdk.js").status_code == 404
            token = _sign_in(client, url)
            answer = client.post(
                f"{url}/assessment/session", json={"users": PICKED[:1]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            opened = client.post(
                f"{platform_url}/portal/open", json={"token": answer.json()["data"]["token"]}
            )
            assert opened.json()["data"]["candidates"][0]["email"] == PICKED[0]["email"]


def test_half_a_platform_configuration_is_refused_naming_what_is_missing(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESSMENT_API_KEY", "wc_ak_test_only-this-one")
    with pytest.raises(ValueError, match="ASSESSMENT_SECRET_KEY, ASSESSMENT_BASE_URL not set") as info:
        create_app()
    assert "wc_ak_test_only-this-one" not in str(info.value)


def test_tokens_signed_with_the_configured_jwt_secret_are_accepted(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "an-existing-app-secret-0123456789abcdef"
    monkeypatch.setenv("ASSESSMENT_JWT_SECRET", secret)
    # Issue 20: on the sandbox the token names the recruiter's company (org_id); one that
    # names none is refused rather than given some company's keys.
    def token(**company: str) -> str:
        claims = {"sub": "rec_7", "email": "sam@hire.example", "exp": int(time.time()) + 60}
        return jwt.encode({"alg": "HS256"}, {**claims, **company},
                          OctKey.import_key(secret.encode()))

    with serve(create_app(settings=AssessmentSettings())) as url:
        answer = httpx2.post(
            f"{url}/assessment/session", json={"users": PICKED[:2]},
            headers={"Authorization": f"Bearer {token(org_id='acme')}"},
        )
        no_company = httpx2.post(
            f"{url}/assessment/session", json={"users": PICKED[:2]},
            headers={"Authorization": f"Bearer {token()}"},
        )
    assert answer.status_code == 200, answer.text
    assert (no_company.status_code, no_company.json()["code"]) == (403, "tenant_required")


def _clean_subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSMENT_")}
    env.pop("EXAMPLE_DEV_SIGN_IN", None)
    env.pop("HOST", None)
    env.pop("PORT", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def test_python_m_example_app_serves_on_the_sandbox_with_nothing_configured(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app", "--host", "127.0.0.1"],
        cwd=tmp_path, env=_clean_subprocess_env(tmp_path, PORT=str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx2.get(f"{url}/candidates")
                break
            except httpx2.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert page.status_code == 200
        token = httpx2.post(
            f"{url}/login", json={"name": "Rita", "email": "rita@hire.example"}
        ).json()["data"]["token"]
        answer = httpx2.post(
            f"{url}/assessment/session", json={"users": PICKED},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert f"open http://127.0.0.1:{port}/" in output
    assert "mode=sandbox" in output
    assert token not in output
    assert answer.json()["data"]["token"] not in output


def test_python_m_example_app_refuses_half_a_configuration_without_echoing_keys(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "example_app"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=_clean_subprocess_env(tmp_path, ASSESSMENT_SECRET_KEY="wc_sk_test_lonely-secret"),
    )
    assert done.returncode == 2
    assert "ASSESSMENT_API_KEY, ASSESSMENT_BASE_URL not set" in done.stderr
    assert "lonely-secret" not in done.stderr + done.stdout
