"""on_session_created / on_session_refused: what they carry, where they run, what a failure does."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from assessment_asgi import Credentials, SessionCreated, SessionRefused, _audit
from assessment_asgi._audit import REFUSAL_THREADS
from tests._fake import API_KEY, SECRET_KEY, USERS, auth, make_token
from tests._features import Sandbox, assessment_app, served


def sync_hooks() -> tuple[queue.Queue[Any], dict[str, Any]]:
    events: queue.Queue[Any] = queue.Queue()

    def record(event: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        events.put((event, on_loop, threading.current_thread().name))

    return events, {"on_session_created": record, "on_session_refused": record}


def async_hooks() -> tuple[queue.Queue[Any], dict[str, Any]]:
    events: queue.Queue[Any] = queue.Queue()

    async def record(event: Any) -> None:
        events.put((event, True, threading.current_thread().name))

    return events, {"on_session_created": record, "on_session_refused": record}


@pytest.mark.parametrize("make_hooks", [sync_hooks, async_hooks], ids=["sync", "async"])
def test_a_created_session_is_reported_without_its_token(sandbox: Sandbox, make_hooks: Any) -> None:
    events, hooks = make_hooks()
    with served(assessment_app(sandbox, **hooks)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
        event, on_loop, _ = events.get(timeout=30)
    assert response.status_code == 200
    data = response.json()["data"]
    assert isinstance(event, SessionCreated)
    assert (event.recruiter.id, event.recruiter.email) == ("rec_42", "rita@hire.example")
    assert [(c.name, c.email) for c in event.candidates] == [(u["name"], u["email"]) for u in USERS]
    assert event.expires_at == data["expiresAt"]
    assert event.request_id == "req_1"  # the platform's, for its support desk
    assert event.at.tzinfo is not None
    # Never the token, in a field or in the repr; no name or email in the repr either.
    assert all(data["token"] not in str(getattr(event, f)) for f in SessionCreated.__dataclass_fields__)
    for secret in (data["token"], USERS[0]["name"], USERS[0]["email"], "rita@hire.example"):
        assert secret not in repr(event)
    # A sync hook runs in a worker thread, off the event loop; an async one on it.
    assert on_loop is (make_hooks is async_hooks)
    assert events.empty()


def test_refusals_are_reported_with_their_code_and_what_was_known(sandbox: Sandbox) -> None:
    events, hooks = sync_hooks()
    other = make_token(sub="rec_77", email="otto@hire.example")
    with served(assessment_app(sandbox, **hooks)) as (client, url):
        client.post(url, json={"users": USERS})  # no token
        events_seen = [events.get(timeout=30)[0]]
        client.post(url, json={"users": USERS, "recruiterId": "rec_42"}, headers=auth(other))
        events_seen.append(events.get(timeout=30)[0])
        sandbox.door.fail_next = 1
        client.post(url, json={"users": USERS[:1]}, headers=auth())
        events_seen.append(events.get(timeout=30)[0])
    unauthorized, mismatch, platform = events_seen
    assert all(isinstance(e, SessionRefused) for e in events_seen)
    assert (unauthorized.code, unauthorized.status, unauthorized.recruiter) == ("unauthorized", 401, None)
    assert unauthorized.candidates == ()
    assert (mismatch.code, mismatch.status, mismatch.recruiter) == ("recruiter_mismatch", 403, None)
    assert len(mismatch.candidates) == 3
    assert (platform.code, platform.status) == ("platform_error", 502)
    assert platform.recruiter is not None
    assert platform.recruiter.id == "rec_42"
    assert platform.request_id == "req_1"
    assert sandbox.sessions() == 0


def test_a_replay_is_not_a_new_session(sandbox: Sandbox) -> None:
    events, hooks = sync_hooks()
    with served(assessment_app(sandbox, **hooks)) as (client, url):
        for _ in range(2):
            response = client.post(url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": "k"})
        assert response.headers["idempotent-replayed"] == "true"
        client.post(url, json={"users": USERS[:1]}, headers={**auth(), "Idempotency-Key": "k"})
        # Hooks run after each answer, in threads: the two may arrive in either order.
        first, reused = sorted((events.get(timeout=30)[0] for _ in range(2)),
                               key=lambda e: isinstance(e, SessionRefused))
    assert isinstance(first, SessionCreated)
    assert isinstance(reused, SessionRefused)
    assert reused.code == "idempotency_key_reused"
    assert events.empty()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failing_hook_is_logged_without_personal_data_and_changes_nothing(
    sandbox: Sandbox, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    called = threading.Event()

    def explode(event: Any) -> None:
        called.set()
        raise RuntimeError(f"cannot write {event.candidates[0].email if event.candidates else ''}")

    async def explode_async(event: Any) -> None:
        explode(event)

    hook = explode if kind == "sync" else explode_async
    app = assessment_app(sandbox, on_session_created=hook, on_session_refused=hook)
    with served(app) as (client, url):
        created = client.post(url, json={"users": USERS}, headers=auth())
        assert called.wait(30)
        called.clear()
        refused = client.post(url, json={"users": USERS})
        assert called.wait(30)
        again = client.post(url, json={"users": USERS}, headers=auth())
    assert created.status_code == again.status_code == 200
    assert refused.status_code == 401
    failures = [r.getMessage() for r in caplog.records if "audit hook" in r.getMessage()]
    assert "audit hook on_session_created failed: RuntimeError" in failures
    assert "audit hook on_session_refused failed: RuntimeError" in failures
    text = " ".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for personal in (USERS[0]["email"], USERS[0]["name"], "rita@hire.example"):
        assert personal not in text


def test_hooks_must_be_callable(sandbox: Sandbox) -> None:
    with pytest.raises(TypeError, match="on_session_created must be callable"):
        assessment_app(sandbox, on_session_created="audit")


def test_a_rate_limited_request_is_reported_as_a_refusal(sandbox: Sandbox) -> None:
    """The per-recruiter limit is a refusal like any other: the audit trail shows who hit it."""
    events, hooks = sync_hooks()
    with served(assessment_app(sandbox, rate_limit="1/minute", **hooks)) as (client, url):
        first = client.post(url, json={"users": USERS[:1]}, headers=auth())
        created = events.get(timeout=30)[0]
        second = client.post(url, json={"users": USERS[:1]}, headers=auth())
        refused = events.get(timeout=30)[0]
    assert (first.status_code, second.status_code) == (200, 429)
    assert isinstance(created, SessionCreated)
    assert isinstance(refused, SessionRefused)
    assert (refused.code, refused.status) == ("rate_limited", 429)
    assert refused.recruiter is not None
    assert refused.recruiter.id == "rec_42"
    assert sandbox.sessions() == 1
    assert events.empty()


def _refused_at_once(url: str, count: int) -> list[int]:
    """``count`` requests with a bad token, all in flight together; their statuses."""
    def one(_: int) -> int:
        return httpx2.post(url, json={"users": USERS}, headers={"Authorization": "Bearer bad"},
                           timeout=30).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _wait_for(condition: Any, show: Any = None) -> None:
    """Until ``condition()`` (a deadline only to fail instead of hanging)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"the condition never came true {show() if show else ''}"
        time.sleep(0.01)


def test_a_flood_of_refusals_never_starves_the_shared_thread_pool(sandbox: Sandbox) -> None:
    """Issue 19: every 401 ran a sync on_session_refused in the shared pool (40 tokens), so
    blocked refusal hooks held up a good request whose sync keys hook needed a thread."""
    release, started = threading.Event(), queue.Queue[str]()

    def on_refused(event: SessionRefused) -> None:
        started.put(event.code)
        release.wait(60)

    def keys() -> Credentials:  # sync: it runs in the shared worker pool
        return Credentials(API_KEY, SECRET_KEY)

    flood = 48  # more than the shared pool's 40 tokens
    app = assessment_app(sandbox, keys=keys, on_session_refused=on_refused)
    try:
        with served(app) as (client, url):
            assert _refused_at_once(url, flood) == [401] * flood  # answered before their hooks
            _wait_for(lambda: started.qsize() >= REFUSAL_THREADS, started.qsize)
            # Every refusal hook that may run is blocked, the rest wait: a good request goes on.
            good = client.post(url, json={"users": USERS}, headers=auth())
            assert good.status_code == 200
            assert started.qsize() == REFUSAL_THREADS  # bounded: the others wait their turn
            release.set()
            _wait_for(lambda: started.qsize() == flood, started.qsize)  # queued, not lost
    finally:
        release.set()
    assert {started.get() for _ in range(flood)} == {"unauthorized"}


def test_refusals_beyond_the_backlog_are_dropped_and_counted(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_audit, "REFUSAL_BACKLOG", 2)
    release, started = threading.Event(), queue.Queue[str]()

    def on_refused(event: SessionRefused) -> None:
        started.put(event.code)
        release.wait(60)

    app = assessment_app(sandbox, on_session_refused=on_refused)
    try:
        with served(app) as (client, url):
            assert _refused_at_once(url, 10) == [401] * 10
            hook = app._audit._refused  # its count of drops: every refusal is then accounted for
            _wait_for(lambda: getattr(hook, "dropped", None) == 10 - REFUSAL_THREADS - 2,
                      lambda: (getattr(hook, "dropped", None), started.qsize()))
            release.set()
            _wait_for(lambda: started.qsize() == REFUSAL_THREADS + 2, started.qsize)
            assert client.post(url, json={"users": USERS}, headers=auth()).status_code == 200
    finally:
        release.set()
    [warning] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert warning.getMessage().startswith("audit hook on_session_refused: ")
    assert started.qsize() == REFUSAL_THREADS + 2  # 4 ran, 2 waited, 4 were dropped
