"""Two replicas (two uvicorn processes) share one real redis-server and one sandbox: the same
Idempotency-Key sent to both at once creates exactly one platform session."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests._features import Sandbox, running_sandbox
from tests._platform import API_KEY, JWT_SECRET, SECRET_KEY, USERS, auth
from tests._servers import _wait_for_port, free_port

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@contextlib.contextmanager
def replica(sandbox: Sandbox, redis_url: str) -> Iterator[str]:
    """``uvicorn --factory assessment_asgi:AssessmentApp``: configured from the environment only."""
    port = free_port()
    env = {
        **os.environ,
        "ASSESSMENT_BASE_URL": sandbox.platform_url,
        "ASSESSMENT_API_KEY": API_KEY,
        "ASSESSMENT_SECRET_KEY": SECRET_KEY,
        "ASSESSMENT_JWT_SECRET": JWT_SECRET,
        "ASSESSMENT_REDIS_URL": redis_url,
        "ASSESSMENT_RATE_LIMIT": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "assessment_asgi:AssessmentApp",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}/session"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        # Nothing went wrong on the replica, and nothing secret reached its log.
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-2000:]
        assert API_KEY.encode() not in stderr
        assert SECRET_KEY.encode() not in stderr


def test_one_key_sent_to_two_replicas_at_once_creates_one_session(redis_url: str) -> None:
    keys = [str(uuid.uuid4()) for _ in range(12)]
    answers: dict[str, list[Any]] = {k: [] for k in keys}
    with running_sandbox() as sandbox, replica(sandbox, redis_url) as a, replica(sandbox, redis_url) as b:
        for k in keys:
            start = threading.Barrier(2)

            def send(url: str, k: str = k, start: threading.Barrier = start) -> None:
                with httpx2.Client(timeout=30) as client:
                    start.wait(30)  # both requests leave together
                    answers[k].append(client.post(
                        url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": k}
                    ))

            threads = [threading.Thread(target=send, args=(url,)) for url in (a, b)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        created = sandbox.sessions()

    assert created == len(keys)
    for k, (first, second) in answers.items():
        statuses = sorted([first.status_code, second.status_code])
        # One created it; the other replayed it (200) or found it in flight (409).
        assert statuses in ([200, 200], [200, 409]), (k, statuses)
        tokens = {r.json()["data"]["token"] for r in (first, second) if r.status_code == 200}
        assert len(tokens) == 1
        for response in (first, second):
            if response.status_code == 409:
                assert response.json()["code"] == "idempotency_key_in_flight"
