"""Bounded memory: sessions and events expire and are capped."""

from __future__ import annotations

import httpx2

from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

from .conftest import FakeClock, Running


def _session(running: Running) -> str:
    response = httpx2.post(
        f"{running.url}/api/v1/sessions", headers=running.keys,
        json={"name": "J", "email": "j@example.com", "recruiterId": "r"},
    )
    token: str = response.json()["data"]["token"]
    return token


def _campaign(running: Running, n: int) -> None:
    httpx2.post(
        f"{running.url}/api/v1/campaigns", headers=running.keys,
        json={"workflowId": "w", "method": "knowledge", "name": f"N{n}", "email": "n@example.com"},
    ).raise_for_status()


def _events(running: Running) -> list[dict[str, object]]:
    response = httpx2.get(
        f"{running.url}/api/v1/webhook/events", headers={"x-api-key": running.api_key}
    )
    events: list[dict[str, object]] = response.json()["data"]["events"]
    return events


def test_oldest_sessions_are_dropped_beyond_max_sessions() -> None:
    app = SandboxApp(max_sessions=2)
    with serve(app, "uvicorn") as url:
        running = Running(app, url)
        tokens = [_session(running) for _ in range(3)]
        opened = [
            httpx2.post(f"{url}/portal/open", json={"token": t}).status_code for t in tokens
        ]
        assert opened == [401, 200, 200]


def test_the_queue_keeps_the_newest_max_events() -> None:
    app = SandboxApp(max_events=3)
    with serve(app, "uvicorn") as url:
        running = Running(app, url)
        for n in range(5):
            _campaign(running, n)
        names = [e["candidates"][0]["name"] for e in _events(running)]  # type: ignore[index]
        assert names == ["N2", "N3", "N4"]
        assert len(app.pending_events()) == 3


def test_events_expire_after_event_ttl(clock: FakeClock) -> None:
    app = SandboxApp(event_ttl=3600, clock=clock)
    with serve(app, "uvicorn") as url:
        running = Running(app, url)
        _campaign(running, 1)
        clock.advance(1800)
        _campaign(running, 2)
        assert len(_events(running)) == 2
        clock.advance(1801)
        assert [e["candidates"][0]["name"] for e in _events(running)] == ["N2"]  # type: ignore[index]


def test_opened_sessions_are_forgotten_after_session_retention(clock: FakeClock) -> None:
    app = SandboxApp(session_retention=3600, token_ttl=60, clock=clock)
    with serve(app, "uvicorn") as url:
        running = Running(app, url)
        data = httpx2.post(f"{url}/portal/open", json={"token": _session(running)}).json()["data"]
        clock.advance(3601)
        late = httpx2.post(f"{url}/portal/complete", json={
            "assessmentId": data["assessmentId"], "candidateId": data["candidates"][0]["id"],
            "candidateKey": data["candidates"][0]["key"]})
        assert late.status_code == 404
