"""``python -m assessment_asgi poll`` against the sandbox, as a separate process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from assessment_asgi.platform import Credentials, SmartAIClient
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

from ._portal import candidates_finish

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = [
    {"name": "Ada Lovelace", "email": "ada@example.com"},
    {"name": "Alan Turing", "email": "alan@example.com"},
]


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = SandboxApp()
    with serve(app) as url:
        yield app, url


def _env(app: SandboxApp | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSMENT_")}
    if app is not None:
        env["ASSESSMENT_API_KEY"] = app.credentials.api_key.get_secret_value()
        env["ASSESSMENT_SECRET_KEY"] = app.credentials.secret_key.get_secret_value()
    return env


def _poll(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assessment_asgi", "poll", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _finish(app: SandboxApp, url: str) -> None:
    async with SmartAIClient(base_url=SandboxApp.platform_url(url), credentials=app.credentials) as client:
        await candidates_finish(client, url, PEOPLE)


def test_once_prints_each_event_as_a_json_line_and_acknowledges_it(sandbox: tuple[SandboxApp, str]) -> None:
    app, url = sandbox
    anyio.run(_finish, app, url)
    peek = _poll("--base-url", SandboxApp.platform_url(url), "--no-ack", env=_env(app))
    assert peek.returncode == 0, peek.stderr
    assert len(peek.stdout.splitlines()) == 2
    assert len(app.pending_events()) == 2  # --no-ack left them queued
    done = _poll("--base-url", SandboxApp.platform_url(url), "--once", env=_env(app))
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(e["candidateEmail"] for e in events) == ["ada@example.com", "alan@example.com"]
    assert {e["event"] for e in events} == {"assessment.completed"}
    assert app.pending_events() == []
    again = _poll("--base-url", SandboxApp.platform_url(url), "--once", env=_env(app))
    assert again.stdout == ""


def test_once_reads_its_settings_from_dotenv_as_the_app_does(
    sandbox: tuple[SandboxApp, str], tmp_path: Path
) -> None:
    app, url = sandbox
    anyio.run(_finish, app, url)
    # The .env of the working directory, the one AssessmentApp() reads: no flag, no variable.
    (tmp_path / ".env").write_text(
        f"ASSESSMENT_BASE_URL={SandboxApp.platform_url(url)}\n"
        f"ASSESSMENT_API_KEY={app.credentials.api_key.get_secret_value()}\n"
        f"ASSESSMENT_SECRET_KEY={app.credentials.secret_key.get_secret_value()}\n"
    )
    env = _env(None) | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = _poll("--once", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(e["candidateEmail"] for e in events) == ["ada@example.com", "alan@example.com"]
    assert app.pending_events() == []  # acknowledged with the keys from .env


def test_a_bad_setting_in_dotenv_is_refused_as_the_app_refuses_it(
    sandbox: tuple[SandboxApp, str], tmp_path: Path
) -> None:
    app, _ = sandbox
    (tmp_path / ".env").write_text(
        "ASSESSMENT_BASE_URL=http://platform.example/api/v1\n"
        f"ASSESSMENT_API_KEY={app.credentials.api_key.get_secret_value()}\n"
        f"ASSESSMENT_SECRET_KEY={app.credentials.secret_key.get_secret_value()}\n"
    )
    env = _env(None) | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = _poll("--once", env=env, cwd=tmp_path)
    assert done.returncode == 2
    # The settings' own message: the variable and what is allowed, never the value.
    assert "ASSESSMENT_BASE_URL uses plain http to a remote host" in done.stderr
    assert "platform.example" not in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_keys_or_url_are_explained(sandbox: tuple[SandboxApp, str]) -> None:
    app, url = sandbox
    no_keys = _poll("--base-url", SandboxApp.platform_url(url), "--once", env=_env(None))
    assert no_keys.returncode == 2
    assert "ASSESSMENT_API_KEY" in no_keys.stderr
    no_url = _poll("--once", env=_env(app))
    assert no_url.returncode == 2
    assert "--base-url" in no_url.stderr
    too_fast = _poll("--base-url", SandboxApp.platform_url(url), "--interval", "1", env=_env(app))
    assert too_fast.returncode == 2
    assert "at least 5" in too_fast.stderr


def test_wrong_keys_fail_with_the_error_and_no_secret(sandbox: tuple[SandboxApp, str]) -> None:
    _, url = sandbox
    env = _env(None) | {
        "ASSESSMENT_API_KEY": "wc_ak_test_wrongkey1",
        "ASSESSMENT_SECRET_KEY": "wc_sk_test_wrong2",
    }
    result = _poll("--base-url", SandboxApp.platform_url(url), "--once", env=env)
    assert result.returncode == 1
    assert "refused our credentials (401)" in result.stderr
    assert "wrongkey1" not in result.stderr + result.stdout


def test_continuous_polling_stops_on_sigterm(sandbox: tuple[SandboxApp, str]) -> None:
    app, url = sandbox
    anyio.run(_finish, app, url)
    process = subprocess.Popen(
        [sys.executable, "-m", "assessment_asgi", "poll", "--base-url", SandboxApp.platform_url(url)],
        cwd=ROOT,
        env=_env(app),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert sorted(json.loads(line)["candidateEmail"] for line in lines) == [
        "ada@example.com",
        "alan@example.com",
    ]
    assert out == ""


def _completed(event_id: object, n: int) -> dict[str, object]:
    return {"eventId": event_id, "event": "assessment.completed", "candidateEmail": f"c{n}@example.com",
            "score": 80}


def test_an_event_without_a_usable_id_is_reported_never_a_traceback(sandbox: tuple[SandboxApp, str]) -> None:
    app, url = sandbox
    app.enqueue(_completed("", 0))
    app.enqueue(_completed("good_1", 1))
    app.enqueue(_completed("   ", 2))
    result = _poll("--base-url", SandboxApp.platform_url(url), "--once", env=_env(app))
    assert result.returncode == 0, result.stderr  # before the fix: 1, with a ValueError traceback
    assert "Traceback" not in result.stderr
    assert "has no usable eventId" in result.stderr
    assert [json.loads(line)["eventId"] for line in result.stdout.splitlines()] == ["good_1"]
    assert app.acknowledged_events() == ["good_1"]
    assert sorted(e["eventId"] for e in app.pending_events()) == ["", "   "]


def test_events_without_an_id_ahead_of_the_page_never_hide_the_rest(sandbox: tuple[SandboxApp, str]) -> None:
    app, url = sandbox
    for n in range(5):
        app.enqueue(_completed(None if n % 2 else n, n))
    for n in range(3):
        app.enqueue(_completed(f"good_{n}", n))
    result = _poll("--base-url", SandboxApp.platform_url(url), "--once", "--limit", "2", env=_env(app))
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line)["eventId"] for line in result.stdout.splitlines()]
    assert printed == ["good_0", "good_1", "good_2"]  # before the fix: nothing printed
    assert len(app.pending_events()) == 5


def test_a_type_filter_leaves_invalid_events_of_other_types_queued(sandbox: tuple[SandboxApp, str]) -> None:
    app, url = sandbox
    app.enqueue({"eventId": "dq_1", "event": "assessment.disqualified", "score": "n/a"})
    app.enqueue(_completed("good_1", 1))
    result = _poll(
        "--base-url", SandboxApp.platform_url(url), "--once", "--type", "assessment.completed", env=_env(app)
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["eventId"] for line in result.stdout.splitlines()] == ["good_1"]
    assert app.acknowledged_events() == ["good_1"]  # before the fix: dq_1 was deleted too
    assert [e["eventId"] for e in app.pending_events()] == ["dq_1"]


def _tenants_file(tmp_path: Path, orgs: dict[str, Credentials], toml: bool = False) -> Path:
    keys = {
        tenant: {"api_key": c.api_key.get_secret_value(), "secret_key": c.secret_key.get_secret_value()}
        for tenant, c in orgs.items()
    }
    if toml:
        path = tmp_path / "tenants.toml"
        rows = (f'["{t}"]\napi_key = "{k["api_key"]}"\nsecret_key = "{k["secret_key"]}"\n'
                for t, k in keys.items())
        path.write_text("".join(rows))
    else:
        path = tmp_path / "tenants.json"
        path.write_text(json.dumps(keys))
    return path


@pytest.mark.parametrize("toml", [False, True], ids=["json", "toml"])
def test_a_tenants_file_polls_each_tenants_queue_with_its_keys(
    sandbox: tuple[SandboxApp, str], tmp_path: Path, toml: bool
) -> None:
    app, url = sandbox
    orgs = {"acme": app.add_organisation(), "globex": app.add_organisation()}
    for tenant, keys in orgs.items():
        app.enqueue(_completed(f"{tenant}_1", 1), organisation=keys)
        app.enqueue({"eventId": f"{tenant}_sent", "event": "assessment.sent"}, organisation=keys)
    app.enqueue(_completed("own_1", 1))  # the sandbox's own account: not in the file
    path = _tenants_file(tmp_path, orgs, toml)
    result = _poll("--base-url", SandboxApp.platform_url(url), "--tenants", str(path), "--once",
                   "--type", "assessment.completed", env=_env(None))
    assert result.returncode == 0, result.stderr
    printed = map(json.loads, result.stdout.splitlines())
    lines = sorted((line["tenant"], line["payload"]["eventId"]) for line in printed)
    assert lines == [("acme", "acme_1"), ("globex", "globex_1")]
    for tenant, keys in orgs.items():
        assert app.acknowledged_events(organisation=keys) == [f"{tenant}_1"]
        assert [e["eventId"] for e in app.pending_events(organisation=keys)] == [f"{tenant}_sent"]
        for secret in (keys.api_key.get_secret_value(), keys.secret_key.get_secret_value()):
            assert secret not in result.stdout + result.stderr
    assert [e["eventId"] for e in app.pending_events()] == ["own_1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read"),
        ("{not json", "not valid JSON (line 1)"),
        ("[]", "expected a non-empty mapping"),
        ('{"acme": {"api_key": "wc_ak_test_canary77"}}', "tenant 'acme' needs a non-empty secret_key"),
        ('{"": {"api_key": "wc_ak_test_canary77", "secret_key": "wc_sk_canary7"}}', "not a usable tenant"),
    ],
)
def test_a_bad_tenants_file_is_explained_without_its_keys(
    sandbox: tuple[SandboxApp, str], tmp_path: Path, content: str | None, message: str
) -> None:
    _, url = sandbox
    path = tmp_path / "tenants.json"
    if content is not None:
        path.write_text(content)
    base = SandboxApp.platform_url(url)
    result = _poll("--base-url", base, "--tenants", str(path), "--once", env=_env(None))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "canary77" not in result.stderr


def test_a_tenant_whose_keys_are_refused_fails_the_run_and_spares_the_others(
    sandbox: tuple[SandboxApp, str], tmp_path: Path
) -> None:
    app, url = sandbox
    acme = app.add_organisation()
    app.enqueue(_completed("acme_1", 1), organisation=acme)
    orgs = {"acme": acme, "revoked": Credentials("wc_ak_test_revoked1", "wc_sk_test_revoked2")}
    path = _tenants_file(tmp_path, orgs)
    base = SandboxApp.platform_url(url)
    result = _poll("--base-url", base, "--tenants", str(path), "--once", env=_env(None))
    assert result.returncode == 1
    assert "tenant revoked: draining failed (SmartAIAuthError)" in result.stderr
    assert "not drained: revoked" in result.stderr
    assert "revoked1" not in result.stderr
    assert app.acknowledged_events(organisation=acme) == ["acme_1"]
