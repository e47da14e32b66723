"""``python -m assessment_asgi sandbox`` as a user runs it: a real process on a free port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from tests._servers import free_port

ROOT = Path(__file__).parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSMENT_")}
    env.update(extra)
    return env


def _wait_for(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sandbox exited early with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("sandbox did not start listening")


@contextmanager
def _running(env: dict[str, str], *args: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "assessment_asgi", "sandbox", "--port", str(port), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:
        try:
            _wait_for(port, process)
            yield port, process
        finally:
            process.terminate()
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate(timeout=10)


def _banner(process: subprocess.Popen[str], pairs: int = 1) -> str:
    """Start-up lines up to the ``pairs``-th key pair printed (or the note on the env's)."""
    assert process.stdout is not None
    lines = []
    while True:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "ASSESSMENT_SECRET_KEY" in line or "using the test keys" in line:
            pairs -= 1
            if not pairs:
                break
    return "".join(lines)


def test_generated_keys_are_printed_and_work() -> None:
    with _running(_env()) as (port, process):
        banner = _banner(process)
        assert f"ASSESSMENT_BASE_URL=http://127.0.0.1:{port}/api/v1" in banner
        api_key = re.search(r"ASSESSMENT_API_KEY=(wc_ak_test_\w+)", banner)
        secret_key = re.search(r"ASSESSMENT_SECRET_KEY=(wc_sk_test_\w+)", banner)
        assert api_key
        assert secret_key
        response = httpx2.post(
            f"http://127.0.0.1:{port}/api/v1/sessions",
            headers={"x-api-key": api_key[1], "x-secret-key": secret_key[1]},
            json={"name": "J", "email": "j@example.com", "recruiterId": "r"},
        )
        assert response.status_code == 200
        assert response.json()["data"]["expiresAt"].endswith("Z")


def test_test_keys_from_the_environment_are_used_and_not_printed() -> None:
    keys = {"ASSESSMENT_API_KEY": "wc_ak_test_fromenv123",
            "ASSESSMENT_SECRET_KEY": "wc_sk_test_fromenv456"}
    with _running(_env(**keys)) as (port, process):
        banner = _banner(process)
        assert "fromenv" not in banner
        response = httpx2.get(
            f"http://127.0.0.1:{port}/api/webhook/events",
            headers={"x-api-key": keys["ASSESSMENT_API_KEY"]},
        )
        assert response.status_code == 200
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
        assert "fromenv" not in stdout + stderr


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"ASSESSMENT_API_KEY": "wc_ak_live_realkey1", "ASSESSMENT_SECRET_KEY": "wc_sk_test_x"},
         "ASSESSMENT_API_KEY looks like a live key"),
        ({"ASSESSMENT_API_KEY": "wc_ak_test_x", "ASSESSMENT_SECRET_KEY": "wc_sk_live_realkey1"},
         "ASSESSMENT_SECRET_KEY looks like a live key"),
        ({"ASSESSMENT_API_KEY": "wc_ak_test_x"}, "ASSESSMENT_SECRET_KEY is not set"),
    ],
)
def test_live_looking_or_half_set_keys_exit_2(keys: dict[str, str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assessment_asgi", "sandbox", "--port", str(free_port())],
        cwd=ROOT, env=_env(**keys), capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "realkey1" not in done.stderr + done.stdout


def test_added_organisations_get_printed_keys_that_see_only_their_own_events() -> None:
    env_keys = {"ASSESSMENT_API_KEY": "wc_ak_test_fromenv123",
                "ASSESSMENT_SECRET_KEY": "wc_sk_test_fromenv456"}
    with _running(_env(**env_keys), "--organisations", "2") as (port, process):
        banner = _banner(process, pairs=3)
        assert "fromenv" not in banner  # the environment's pair is still not printed
        api_keys = re.findall(r"ASSESSMENT_API_KEY=(wc_ak_test_\w+)", banner)
        secret_keys = re.findall(r"ASSESSMENT_SECRET_KEY=(wc_sk_test_\w+)", banner)
        assert len(set(api_keys)) == len(set(secret_keys)) == 2
        base = f"http://127.0.0.1:{port}/api/v1"
        created = httpx2.post(
            f"{base}/campaigns",
            headers={"x-api-key": api_keys[0], "x-secret-key": secret_keys[0]},
            json={"workflowId": "wf", "method": "knowledge",
                  "users": [{"name": "A", "email": "a@example.com"}]},
        )
        assert created.status_code == 200, created.text

        def queued(api_key: str) -> int:
            answer = httpx2.get(f"{base}/webhook/events", headers={"x-api-key": api_key})
            assert answer.status_code == 200
            return len(answer.json()["data"]["events"])

        assert [queued(api_keys[0]), queued(api_keys[1]), queued(env_keys["ASSESSMENT_API_KEY"])] \
            == [1, 0, 0]


def test_a_bad_organisations_count_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assessment_asgi", "sandbox", "--port", str(free_port()),
         "--organisations", "-1"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 2
    assert "--organisations must be 0-100" in done.stderr
