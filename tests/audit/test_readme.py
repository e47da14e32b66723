"""The audit example of docs/telemetry.md runs as written: events land in a sqlite table,
without the token."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, USERS, auth
from tests._features import Sandbox
from tests._servers import serve

README = Path(__file__).resolve().parents[2] / "docs" / "telemetry.md"


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Audit events\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```python\n(.*?)^```", section, re.M | re.S)
    assert match is not None
    return match.group(1)


class Finished:
    """Counts HTTP requests whose handling (audit hooks included) has ended, to wait on."""

    def __init__(self, app: Any) -> None:
        self.app, self.count, self.changed = app, 0, threading.Condition()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                with self.changed:
                    self.count += 1
                    self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, timeout=30)


def test_the_readme_writes_audit_events_to_a_database_table(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {"BASE_URL": sandbox.platform_url, "API_KEY": API_KEY, "SECRET_KEY": SECRET_KEY,
                        "JWT_SECRET": JWT_SECRET}.items():
        monkeypatch.setenv(f"ASSESSMENT_{name}", value)
    namespace: dict[str, Any] = {"__name__": "readme_audit"}
    exec(compile(readme_block(), f"{README}:Audit events", "exec"), namespace)  # noqa: S102 - our README
    host = Finished(namespace["app"])
    with serve(host) as url, httpx2.Client(base_url=url, timeout=30) as client:
        created = client.post("/assessment/session", json={"users": USERS[:2]}, headers=auth())
        host.wait_for(1)  # hooks run after the answer: the row is written once handling ends
        refused = client.post("/assessment/session", json={"users": USERS[:2]})
        host.wait_for(2)
    assert created.status_code == 200
    assert refused.status_code == 401

    with sqlite3.connect(tmp_path / "audit.db") as db:
        rows = db.execute("SELECT outcome, code, recruiter_id, recruiter_email, candidates, "
                          "platform_request_id, expires_at FROM session_audit ORDER BY rowid").fetchall()
        everything = repr(db.execute("SELECT * FROM session_audit").fetchall())
    emails = '["ada@example.com", "alan@example.com"]'
    assert rows == [
        ("created", None, "rec_42", "rita@hire.example", emails, "req_1",
         created.json()["data"]["expiresAt"]),
        ("refused", "unauthorized", None, None, "[]", None, None),
    ]
    assert created.json()["data"]["token"] not in everything
