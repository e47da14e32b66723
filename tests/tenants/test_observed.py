"""Audit events carry the tenant; keys never reach a log, a repr, an answer or an audit event."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import time
from pathlib import Path
from typing import Any

import pytest

from assessment_asgi import Credentials, SessionCreated, SessionRefused, TenantKeys
from tests._canary import leaks
from tests._fake import USERS
from tests._features import Sandbox, served

from .conftest import (
    ACME,
    GLOBEX,
    GLOBEX_API,
    GLOBEX_SECRET,
    TENANT_CANARIES,
    assert_no_key,
    tenant_app,
    tenant_token,
)


def recorder() -> tuple[queue.Queue[Any], dict[str, Any]]:
    events: queue.Queue[Any] = queue.Queue()
    return events, {"on_session_created": events.put, "on_session_refused": events.put}


def test_audit_events_carry_the_tenant(sandbox: Sandbox) -> None:
    sandbox.app.add_organisation(GLOBEX)
    events, hooks = recorder()
    seen: list[Any] = []
    with served(tenant_app(sandbox, **hooks)) as (client, url):
        # Hooks run after each answer, in threads, so two requests' events may arrive in
        # either order: take each one before sending the next request.
        created = client.post(url, json={"users": USERS}, headers=tenant_token("globex"))
        seen.append(events.get(timeout=30))
        unknown = client.post(url, json={"users": USERS}, headers=tenant_token("initech"))
        seen.append(events.get(timeout=30))
        no_tenant = client.post(url, json={"users": USERS}, headers=tenant_token(None))
        seen.append(events.get(timeout=30))
    assert [r.status_code for r in (created, unknown, no_tenant)] == [200, 403, 403]
    first, second, third = seen
    assert isinstance(first, SessionCreated)
    assert (first.tenant, first.recruiter.tenant) == ("globex", "globex")
    assert "tenant='globex'" in repr(first)
    assert isinstance(second, SessionRefused)
    assert (second.code, second.tenant) == ("tenant_unknown", "initech")
    assert isinstance(third, SessionRefused)
    assert (third.code, third.tenant, third.recruiter) == ("tenant_required", None, None)
    for event in seen:
        assert_no_key(f"{event!r} {event!s}")


def test_keys_never_reach_a_log_a_repr_an_answer_or_an_audit_event(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every outcome of every source, DEBUG logging on; globex's keys are canaries too."""
    caplog.set_level(logging.DEBUG)
    sandbox.app.add_organisation(GLOBEX)
    events, hooks = recorder()
    calls = {"n": 0}

    async def loader(tenant: str) -> Credentials | None:
        calls["n"] += 1
        if tenant == "broken":
            raise RuntimeError(f"vault answered {GLOBEX_API}:{GLOBEX_SECRET}")
        if tenant == "slow":
            await asyncio.sleep(30)
        return {"acme": ACME, "globex": GLOBEX}.get(tenant)

    file = tmp_path / "tenants.json"
    file.write_text(f'{{"globex": {{"api_key": "{GLOBEX_API}", "secret_key": "{GLOBEX_SECRET}"}}}}')
    monkeypatch.setenv("ASSESSMENT_TENANT_KEYS_FILE", str(file))
    from_file = tenant_app(sandbox, keys=None, **hooks)
    monkeypatch.delenv("ASSESSMENT_TENANT_KEYS_FILE")
    with_loader = tenant_app(sandbox, keys=TenantKeys(loader=loader), keys_timeout=0.5, **hooks)
    texts: list[str] = []
    statuses: list[int] = []

    def post(client: Any, url: str, tenant: str) -> None:
        response = client.post(url, json={"users": USERS}, headers=tenant_token(tenant))
        statuses.append(response.status_code)
        texts.append(f"{response.text} {response.headers!r}")

    with served(from_file) as (client, url):
        post(client, url, "globex")
        post(client, url, "initech")
        # A rewrite that does not parse: logged, the last good keys kept.
        file.write_text(f'{{"globex": {{"api_key": "{GLOBEX_API}"')
        os.utime(file, (2_000_000_000, 2_000_000_000))
        time.sleep(1.1)
        post(client, url, "globex")
    with served(with_loader) as (client, url):
        for tenant in ("acme", "globex", "initech", "broken", "slow"):
            post(client, url, tenant)
    for app in (from_file, with_loader):
        texts += [repr(app), str(app), repr(app.keys), repr(app.settings)]
    while not events.empty():
        event = events.get()
        texts.append(f"{event!r} {event!s}")
    assert statuses == [200, 403, 200, 200, 200, 403, 503, 503]
    for text in texts:
        assert_no_key(text)
    found = [where for record in caplog.records for where in leaks(record, TENANT_CANARIES)]
    assert found == []
    assert any("not reloaded" in r.getMessage() for r in caplog.records)
