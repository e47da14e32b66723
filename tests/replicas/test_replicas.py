"""Many replicas, proven with real processes sharing one real redis-server.

1. Two app processes: one recruiter's ``30/minute`` holds across both.
2. Two poller processes on one queue of 1,000 events, one SIGKILLed midway: every event is
   handled at least once, twice only if in flight at the kill, all acknowledged.
3. Redis stopped and started mid-run: 503 during the outage, then recovery without a
   restart; the poller backs off and resumes.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from assessment_asgi.sandbox import SandboxApp

from .conftest import RedisServer, app_process, poller_process, seed_completed, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]

JWT_SECRET = "replica-test-jwt-secret-0123456789abcdef"


def recruiter_token(sub: str = "rec_42") -> str:
    now = int(time.time())
    claims = {"sub": sub, "email": f"{sub}@hire.example", "iat": now, "exp": now + 600}
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(JWT_SECRET.encode()))


def app_env(app: SandboxApp, sandbox_url: str, redis_url: str) -> dict[str, str]:
    return {
        "ASSESSMENT_JWT_SECRET": JWT_SECRET,
        "ASSESSMENT_API_KEY": app.credentials.api_key.get_secret_value(),
        "ASSESSMENT_SECRET_KEY": app.credentials.secret_key.get_secret_value(),
        "ASSESSMENT_BASE_URL": SandboxApp.platform_url(sandbox_url),
        "ASSESSMENT_REDIS_URL": redis_url,
        "ASSESSMENT_RATE_LIMIT": "30/minute",
    }


def worker_env(app: SandboxApp, sandbox_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    return {
        "WORKER_BASE_URL": SandboxApp.platform_url(sandbox_url),
        "WORKER_API_KEY": app.credentials.api_key.get_secret_value(),
        "WORKER_SECRET_KEY": app.credentials.secret_key.get_secret_value(),
        "WORKER_REDIS_URL": redis_url,
        "WORKER_PREFIX": prefix,
        "WORKER_CLAIM_TTL": "2",
    }


def lines(path: Path, kind: str) -> list[str]:
    if not path.exists():
        return []
    return [line.split()[1] for line in path.read_text().splitlines() if line.startswith(kind + " ")]


def test_one_recruiters_limit_holds_across_two_app_processes(
    redis_server: RedisServer, sandbox: tuple[SandboxApp, str], tmp_path: Path
) -> None:
    app, sandbox_url = sandbox
    env = app_env(app, sandbox_url, redis_server.url)
    token, other = recruiter_token(), recruiter_token("rec_7")
    body = {"users": [{"name": "Ann Candidate", "email": "ann@example.com"}]}
    with (
        app_process(env, tmp_path / "a.log") as (_, url_a),
        app_process(env, tmp_path / "b.log") as (_, url_b),
        httpx2.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        urls = [url_a, url_b]
        statuses = [http.post(urls[n % 2], json=body).status_code for n in range(30)]
        assert statuses == [200] * 30  # 15 answered by each process
        for url in urls:  # the 31st is refused whichever process answers it
            refused = http.post(url, json=body)
            assert refused.status_code == 429
            assert refused.json()["code"] == "rate_limited"
        other_recruiter = http.post(url_b, json=body, headers={"Authorization": f"Bearer {other}"})
        assert other_recruiter.status_code == 200


def test_two_pollers_one_killed_midway_handle_every_event(
    redis_server: RedisServer, sandbox: tuple[SandboxApp, str], tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    app, sandbox_url = sandbox
    total = 1000
    seed_completed(app, sandbox_url, total)
    queued = {event["eventId"] for event in app.pending_events()}
    assert len(queued) == total
    env = worker_env(app, sandbox_url, redis_server.url, f"replicas:{uuid.uuid4().hex}:")
    out_a, out_b = tmp_path / "a.out", tmp_path / "b.out"
    with (
        poller_process(env, out_a, tmp_path / "a.log") as victim,
        poller_process(env, out_b, tmp_path / "b.log") as survivor,
    ):
        wait_for(lambda: len(lines(out_a, "done")) >= 150, "the first poller to handle 150 events", 60)
        victim.kill()
        killed_after = len(lines(out_a, "done"))
        assert killed_after < total - 100, "the kill came too late to be midway"
        wait_for(lambda: not app.pending_events(), "the queue to drain", 90)
        assert survivor.popen.poll() is None
    done_a, done_b = lines(out_a, "done"), lines(out_b, "done")
    started_a = lines(out_a, "start")
    runs = Counter(done_a + done_b)
    duplicated = sorted(event_id for event_id, n in runs.items() if n > 1)
    assert set(runs) == queued  # every event handled at least once
    assert max(Counter(done_a).values()) == max(Counter(done_b).values()) == 1  # never twice in one process
    # Twice only for what the victim was handling when it died (concurrency=2: at most 2),
    # and not yet recorded as done in Redis: its last events.
    assert len(duplicated) <= 2
    assert set(duplicated) <= set(started_a[-2:])
    assert app.pending_events() == []  # all acknowledged: the queue is drained
    counts = {
        "events": total,
        "handled_runs": sum(runs.values()),
        "handled_unique": len(runs),
        "duplicated": len(duplicated),
        "acknowledged": total - len(app.pending_events()),
        "victim_handled_before_kill": killed_after,
        "victim_in_flight_at_kill": len(set(started_a) - set(done_a)),
        "survivor_handled": len(done_b),
    }
    for key, value in counts.items():
        record_property(key, value)
    print(f"\nscenario 2 counts: {counts}")


#: A connection that breaks before any answer: no status to judge, so the request is sent
#: again (a keep-alive connection the server closes as the request goes out, under load).
RESETS = (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError)


def answered(send: Callable[[], httpx2.Response], what: str) -> httpx2.Response:
    """``send()``'s answer, sent again while the connection is reset before one arrives."""
    answers: list[httpx2.Response] = []

    def got_one() -> bool:
        try:
            answers.append(send())
        except RESETS:
            return False
        return True

    wait_for(got_one, what, 30)
    return answers[-1]


def test_a_redis_outage_gives_503_then_everything_recovers_without_a_restart(
    redis_server: RedisServer, sandbox: tuple[SandboxApp, str], tmp_path: Path
) -> None:
    app, sandbox_url = sandbox
    env = app_env(app, sandbox_url, redis_server.url)
    body = {"users": [{"name": "Ann Candidate", "email": "ann@example.com"}]}
    out = tmp_path / "poller.out"
    with (
        app_process(env, tmp_path / "app.log") as (app_proc, url),
        poller_process(
            worker_env(app, sandbox_url, redis_server.url, f"outage:{uuid.uuid4().hex}:"),
            out, tmp_path / "poller.log",
        ) as poller,
        # A new connection per request: between the steps below the app's idle keep-alive
        # connection would be closed by uvicorn, racing the next request (a reset, not a 503).
        httpx2.Client(
            timeout=30, headers={"Authorization": f"Bearer {recruiter_token()}"},
            limits=httpx2.Limits(max_keepalive_connections=0),
        ) as http,
    ):
        def post() -> httpx2.Response:
            return http.post(url, json=body)

        assert answered(post, "the first answer").status_code == 200
        seed_completed(app, sandbox_url, 5)
        wait_for(lambda: len(lines(out, "done")) == 5, "the poller to handle the first events", 30)

        redis_server.stop()
        down = answered(post, "an answer while Redis is down")
        assert down.status_code == 503
        assert down.json()["code"] == "service_unavailable"
        seed_completed(app, sandbox_url, 5)  # queued while Redis is down
        backing_off = "backing off for the de-duplication store"
        wait_for(lambda: backing_off in poller.output(), "the poller to back off", 30)
        assert len(lines(out, "done")) == 5  # nothing handled without de-duplication
        assert len(app.pending_events()) == 5

        redis_server.start()  # same port, empty: the processes reconnect on their own
        statuses: list[int] = []

        def recovered() -> bool:
            try:
                statuses.append(post().status_code)
            except RESETS:
                return False  # no answer at all: not a status to judge, ask again
            return statuses[-1] == 200

        wait_for(recovered, "the endpoint to recover", 30)
        assert set(statuses) <= {200, 503}
        wait_for(lambda: not app.pending_events(), "the poller to resume and drain the queue", 60)
        assert len(set(lines(out, "done"))) == 10
        assert app_proc.popen.poll() is None
        assert poller.popen.poll() is None
