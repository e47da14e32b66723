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

from assessment_asgi.platform import SmartAIClient
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


def _poll(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assessment_asgi", "poll", *args],
        cwd=ROOT,
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
