"""The example app, safe to leave running: the dev sign-in only where it cannot hurt, a banner
that tells the truth, a capped and typed /login, and a busy port that says what to do."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from assessment_asgi.sandbox import SandboxApp
from example_app import create_app
from tests._servers import free_port, serve

from .conftest import Example
from .test_app import _clean_subprocess_env

RITA = {"name": "Rita Recruiter", "email": "rita@hire.example"}


@pytest.fixture
def platform_env(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Real-platform settings, pointing at a sandbox on its own loopback port."""
    platform = SandboxApp()
    with serve(platform) as url:
        monkeypatch.setenv("ASSESSMENT_API_KEY", platform.credentials.api_key.get_secret_value())
        monkeypatch.setenv("ASSESSMENT_SECRET_KEY",
                           platform.credentials.secret_key.get_secret_value())
        monkeypatch.setenv("ASSESSMENT_BASE_URL", SandboxApp.platform_url(url))
        yield url


# ── the development sign-in ────────────────────────────────────────────────────


def test_with_platform_keys_the_dev_sign_in_is_off(platform_env: str) -> None:
    with serve(create_app()) as url:
        login = httpx2.post(f"{url}/login", json=RITA)
        page = httpx2.get(f"{url}/")
    assert login.status_code in (404, 405)
    assert "token" not in login.text
    assert 'data-testid="sign-in-off"' in page.text
    assert "EXAMPLE_DEV_SIGN_IN=1" in page.text
    assert 'id="signin-form"' not in page.text


def test_turned_on_against_a_platform_it_answers_loopback_connections_only(
    platform_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXAMPLE_DEV_SIGN_IN", "1")
    app = create_app()
    with serve(app) as url:
        assert httpx2.post(f"{url}/login", json=RITA).status_code == 200

    async def over(address: str) -> httpx2.Response:
        # In process: the ASGI scope names the address the connection reached; no packet
        # goes anywhere.
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=f"http://{address}") as client:
            return await client.post("/login", json=RITA)

    import anyio

    refused = anyio.run(over, "192.0.2.10")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert "token" not in refused.json()
    assert anyio.run(over, "127.0.0.1").status_code == 200


@pytest.mark.parametrize(
    "proxy_header",
    [
        ("Forwarded", "for=198.51.100.7;proto=https"),
        ("X-Forwarded-For", "198.51.100.7"),
        ("X-Forwarded-Host", "recruit.example"),
        ("X-Forwarded-Proto", "https"),
        ("x-real-ip", "198.51.100.7"),
    ],
    ids=lambda header: header[0],
)
def test_turned_on_against_a_platform_it_refuses_requests_through_a_proxy(
    platform_env: str, monkeypatch: pytest.MonkeyPatch, proxy_header: tuple[str, str]
) -> None:
    # Issue 19: a reverse proxy on the same host connects over loopback on behalf of anyone;
    # the headers it adds give it away.
    monkeypatch.setenv("EXAMPLE_DEV_SIGN_IN", "1")
    with serve(create_app()) as url:
        refused = httpx2.post(f"{url}/login", json=RITA, headers=dict([proxy_header]))
        direct = httpx2.post(f"{url}/login", json=RITA)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert "proxy" in refused.json()["error"]
    assert "token" not in refused.text
    assert direct.status_code == 200


def test_on_the_sandbox_the_sign_in_works_behind_a_proxy(example: Example) -> None:
    # No real keys there: the demo may sit behind a proxy (a dev container, a tunnel).
    signed_in = httpx2.post(
        f"{example.url}/login", json=RITA, headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert signed_in.status_code == 200


def test_turned_on_against_a_platform_it_refuses_to_start_off_loopback(
    tmp_path: Path, platform_env: str,
) -> None:
    env = _clean_subprocess_env(
        tmp_path, EXAMPLE_DEV_SIGN_IN="1", ASSESSMENT_API_KEY="wc_ak_test_k",
        ASSESSMENT_SECRET_KEY="wc_sk_test_k", ASSESSMENT_BASE_URL=f"{platform_env}/api/v1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "example_app", "--host", "0.0.0.0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "loopback" in done.stderr
    assert "EXAMPLE_DEV_SIGN_IN" in done.stderr
    assert "open http" not in done.stdout


# ── /login takes small JSON bodies only ────────────────────────────────────────


@pytest.mark.parametrize(
    ("headers", "content", "status", "code"),
    [
        ({"content-type": "text/plain"}, b'{"name": "Rita", "email": "rita@hire.example"}',
         415, "unsupported_media_type"),
        ({}, b'{"name": "Rita", "email": "rita@hire.example"}', 415, "unsupported_media_type"),
        ({"content-type": "application/json"}, b'{"name": "' + b"R" * 100_000 + b'"}',
         413, "body_too_large"),
    ],
    ids=["text-plain", "no-content-type", "100kB"],
)
def test_login_checks_the_content_type_and_caps_the_body(
    example: Example, headers: dict[str, str], content: bytes, status: int, code: str
) -> None:
    answer = httpx2.post(f"{example.url}/login", content=content, headers=headers)
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["success"] is False


def test_a_trickled_body_over_the_cap_is_refused_too(example: Example) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"R" * 1000

    answer = httpx2.post(f"{example.url}/login", content=chunks(),
                         headers={"content-type": "application/json"})
    assert answer.status_code == 413


# ── the banner and the port ────────────────────────────────────────────────────


@contextmanager
def _started(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app", *args], cwd=tmp_path,
        env=_clean_subprocess_env(tmp_path, **env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]  # printed once it listens
        yield "".join(lines), process
    finally:
        process.terminate()
        process.communicate(timeout=15)


def test_the_banner_names_the_real_address_the_platform_and_the_sign_in(tmp_path: Path) -> None:
    with _started(tmp_path, "--host", "127.0.0.1", PORT="0") as (banner, _):
        port = int(banner.split("open http://127.0.0.1:")[1].split("/")[0])
        assert port != 0
        assert f"listening on 127.0.0.1:{port}\n" in banner
        assert "platform: embedded SmartAI sandbox at /sandbox" in banner
        assert "companies Acme Recruiting, Globex Talent, one organisation each" in banner
        assert "sign-in:  development sign-in" in banner
        assert httpx2.get(f"http://127.0.0.1:{port}/").status_code == 200


def test_all_interfaces_are_named_as_such_with_a_loud_warning(tmp_path: Path) -> None:
    with _started(tmp_path, "--host", "0.0.0.0", PORT=str(free_port())) as (banner, process):
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert "(every interface)" in banner
    assert "WARNING" in stderr
    assert "not on loopback" in stderr


def _two_busy_ports() -> tuple[socket.socket, socket.socket]:
    """Two listening sockets on neighbouring loopback ports."""
    for _ in range(50):
        first = socket.socket()
        first.bind(("127.0.0.1", 0))
        second = socket.socket()
        try:
            second.bind(("127.0.0.1", first.getsockname()[1] + 1))
        except OSError:
            first.close()
            second.close()
            continue
        first.listen()
        second.listen()
        return first, second
    raise AssertionError("found no two neighbouring free ports")


def test_a_busy_port_says_how_to_choose_another_that_is_free(tmp_path: Path) -> None:
    # Issue 21: the hint named port + 1 whether or not it was free (and 8001, the sandbox's
    # default port, for the default 8000). Here port + 1 is busy too: the hint must skip it.
    busy, next_one = _two_busy_ports()
    with busy, next_one:
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "example_app", "--host", "127.0.0.1"], cwd=tmp_path,
            env=_clean_subprocess_env(tmp_path, PORT=str(port)),
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 2
        assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
        hinted = re.search(r"PORT=(\d+) \./scripts/example", done.stderr)
        assert hinted, done.stderr
        suggested = int(hinted[1])
        assert suggested not in (port, port + 1, 0)
        assert f"python -m example_app --port {suggested}" in done.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", suggested))  # free indeed
    assert "Traceback" not in done.stderr
    assert "open http" not in done.stdout


def test_the_hint_never_names_the_sandbox_port() -> None:
    from example_app.__main__ import SANDBOX_PORT, _free_port

    assert SANDBOX_PORT == 8001
    assert _free_port("127.0.0.1", socket.AF_INET, SANDBOX_PORT - 1) != SANDBOX_PORT

