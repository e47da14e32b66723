"""Real processes for the replica tests: redis-server, uvicorn apps and poller workers.

Every process is started here on 127.0.0.1, waited for with a bound, and stopped (or
killed) at the end of its test. The sandbox platform runs in the test process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from assessment_asgi.sandbox import SandboxApp
from tests._servers import free_port, serve

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> None:
    """Poll ``condition()`` until true, at most ``timeout`` seconds (then fail naming ``what``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def _answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


class RedisServer:
    """A redis-server on one loopback port that a test may stop and start again."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/test installs it)")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: _answers_ping(self.port), "redis-server to answer PING", 10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = SandboxApp()
    with serve(app) as url:
        yield app, url


def seed_completed(app: SandboxApp, sandbox_url: str, count: int, per_session: int = 100) -> None:
    """``count`` candidates finish in the sandbox's portal: ``count`` events queued."""
    keys = {
        "x-api-key": app.credentials.api_key.get_secret_value(),
        "x-secret-key": app.credentials.secret_key.get_secret_value(),
    }
    with httpx2.Client(base_url=sandbox_url, timeout=30) as http:
        for start in range(0, count, per_session):
            users = [
                {"name": f"Candidate {n}", "email": f"cand{n}@example.com"}
                for n in range(start, min(start + per_session, count))
            ]
            created = http.post("/api/v1/sessions", json={"users": users, "recruiterId": "r1"}, headers=keys)
            created.raise_for_status()
            opened = http.post("/portal/open", json={"token": created.json()["data"]["token"]})
            opened.raise_for_status()
            session = opened.json()["data"]
            for candidate in session["candidates"]:
                done = http.post(
                    "/portal/complete",
                    json={"assessmentId": session["assessmentId"], "candidateId": candidate["id"],
                          "score": 70},
                )
                done.raise_for_status()


class Process:
    """A child process with its output in a file, stopped with SIGTERM (or SIGKILL) at the end."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=full_env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()


@contextlib.contextmanager
def app_process(env: dict[str, str], log: Path) -> Iterator[tuple[Process, str]]:
    """``AssessmentApp()`` from the environment under its own uvicorn process."""
    port = free_port()
    args = [
        sys.executable, "-m", "uvicorn", "--factory", "assessment_asgi:AssessmentApp",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]
    process = Process(args, env, log)
    try:
        def listening() -> bool:
            if process.popen.poll() is not None:
                pytest.fail(f"the app process exited:\n{process.output()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return True
            return False

        wait_for(listening, "the app process to listen", 30)
        yield process, f"http://127.0.0.1:{port}/session"
    finally:
        process.stop()


@contextlib.contextmanager
def poller_process(env: dict[str, str], out: Path, log: Path) -> Iterator[Process]:
    process = Process([sys.executable, str(Path(__file__).with_name("_poller_worker.py"))],
                      {**env, "WORKER_OUT": str(out)}, log)
    try:
        def ready() -> bool:
            if process.popen.poll() is not None:
                pytest.fail(f"a poller process exited:\n{process.output()}")
            return out.exists() and b"ready" in out.read_bytes()

        wait_for(ready, "a poller process to start", 30)
        yield process
    finally:
        process.stop()
