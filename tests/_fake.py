"""The suite's one fake of the SmartAI platform: the embedded sandbox, with the canary values.

Every test that needs "the platform" talks to a real ``SandboxApp`` served over loopback — the
same wire contract the official SDKs are tested against (``tests/sandbox/``). What a test needs
beyond the contract comes from the sandbox's public testing API (``docs/sandbox-testing.md``):
``recorder`` for what arrived, ``script(...)`` for canned answers and faults, ``enqueue`` for
events. The two helpers below only name the canned answers the suite asserts on:

- ``FakePlatform`` (fixtures ``platform``/``platform_url``): answers ``POST /sessions`` with the
  canary token; ``mode`` makes it misbehave; ``calls`` lists the session requests received.
- ``FakeAPI`` (the platform client's tests): canned session/campaign/assessment answers,
  ``seen``/``calls(suffix)``, ``script[suffix] = [(status, body, headers), …]``, ``queue``,
  ``acked``.

Every secret below is a canary: a test that finds one in a log line, a response or a repr has
found a leak. Faults below HTTP (refused or reset connections, garbage bytes) are not here:
they need a real misbehaving socket server (``tests/platform/_faulty.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from assessment_asgi.platform import Credentials
from assessment_asgi.sandbox import RecordedRequest, SandboxApp
from tests._servers import serve

API_KEY = "wc_ak_test_CANARY-API-KEY-51d2"
SECRET_KEY = "wc_sk_test_CANARY-SECRET-KEY-88c1"
SECRET = SECRET_KEY
JWT_SECRET = "CANARY-JWT-SECRET-0123456789abcdef0123456789"
STANDIN_TOKEN = "eyJhbGciOiJIUzI1NiJ9.CANARY-SESSION-TOKEN-7f3a.sig"
STANDIN_EXPIRES = "2026-11-28T12:00:00.000Z"
CANARIES = (API_KEY, SECRET_KEY, JWT_SECRET, "CANARY-SESSION-TOKEN-7f3a")
RECORD = 10_000  # requests each fake keeps: more than any test sends

USERS = [
    {"name": "Ada Lovelace", "email": "ada@example.com"},
    {"name": "Alan Turing", "email": "alan@example.com"},
    {"name": "Grace Hopper", "email": "grace@example.com"},
]


def make_token(secret: str = JWT_SECRET, **claims: Any) -> str:
    """A recruiter JWT (HS256) for ``rec_42``; ``claim=None`` leaves a claim out."""
    now = int(time.time())
    payload: dict[str, Any] = {"sub": "rec_42", "email": "rita@hire.example", "iat": now,
                               "exp": now + 300}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(secret.encode()))


def auth(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or make_token()}"}


def canary_sandbox() -> SandboxApp:
    return SandboxApp(credentials=Credentials(API_KEY, SECRET_KEY), record_requests=RECORD)


# ── FakePlatform: what the host-facing tests assert on ──────────────────────────

_SESSIONS = "/api/v1/sessions"
_CANNED_SESSION = {"success": True, "data": {"token": STANDIN_TOKEN, "expiresAt": STANDIN_EXPIRES}}
#: mode -> (status, body, headers) of the sandbox's answer to POST /sessions
_MODES: dict[str, tuple[int, object, dict[str, str]]] = {
    "ok": (200, _CANNED_SESSION, {}),
    "slow": (200, _CANNED_SESSION, {}),
    "401": (401, {"success": False, "error": "Invalid API key"}, {}),
    "500": (500, {"success": False, "error": "boom"}, {}),
    "html": (502, b"<html><body>502 Bad Gateway</body></html>", {"content-type": "text/html"}),
    "html200": (200, b"<html>maintenance</html>", {"content-type": "text/html"}),
    "bad_envelope": (200, {"success": True, "data": {"tok": "x"}}, {}),
    "429": (429, {"success": False, "error": "Too many requests"}, {}),
}


class FakePlatform:
    """The sandbox answering ``POST /api/v1/sessions`` with the canary token, to the canary keys.

    ``mode`` (one of ``_MODES``), ``delay`` (for ``"slow"``) and ``retry_after`` (for
    ``"429"``) script its answer; ``api_key``/``secret_key`` rotate the keys it accepts.
    """

    def __init__(self, sandbox: SandboxApp) -> None:
        self.sandbox = sandbox
        self._mode, self._delay, self._retry_after = "ok", 0.0, "7"
        self._apply()

    def reset(self) -> None:
        """A well-behaved platform with the canary keys, nothing recorded."""
        self.sandbox.reset()
        self.sandbox.credentials = Credentials(API_KEY, SECRET_KEY)
        self._mode, self._delay, self._retry_after = "ok", 0.0, "7"
        self._apply()

    def _apply(self) -> None:
        status, body, headers = _MODES[self._mode]
        if self._mode == "429":
            headers = {"Retry-After": self._retry_after}
        self.sandbox.clear_script()
        self.sandbox.script(
            "POST", _SESSIONS, status=status, body=body, headers=headers, times=None,
            delay=self._delay if self._mode == "slow" else 0, check_keys=True,
        )

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Each ``POST /sessions`` received: its headers and JSON body."""
        return [{"headers": r.headers, "body": r.json()}
                for r in self.sandbox.recorder.to(_SESSIONS, method="POST")]

    def clear_calls(self) -> None:
        self.sandbox.recorder.clear()

    mode = property(lambda self: self._mode, lambda self, v: self._set("_mode", v))
    delay = property(lambda self: self._delay, lambda self, v: self._set("_delay", v))
    retry_after = property(lambda self: self._retry_after,
                           lambda self, v: self._set("_retry_after", v))

    def _set(self, name: str, value: Any) -> None:
        setattr(self, name, value)
        self._apply()

    @property
    def api_key(self) -> str:
        return self.sandbox.credentials.api_key.get_secret_value()

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.sandbox.credentials = Credentials(value, self.secret_key)

    @property
    def secret_key(self) -> str:
        return self.sandbox.credentials.secret_key.get_secret_value()

    @secret_key.setter
    def secret_key(self, value: str) -> None:
        self.sandbox.credentials = Credentials(self.api_key, value)


@pytest.fixture(scope="session")
def _served_platform() -> Iterator[tuple[FakePlatform, str]]:
    sandbox = canary_sandbox()
    with serve(sandbox) as url:
        yield FakePlatform(sandbox), SandboxApp.platform_url(url)


@pytest.fixture
def platform(_served_platform: tuple[FakePlatform, str]) -> FakePlatform:
    """The platform (the sandbox) on loopback, reset for this test."""
    _served_platform[0].reset()
    return _served_platform[0]


@pytest.fixture
def platform_url(_served_platform: tuple[FakePlatform, str], platform: FakePlatform) -> str:
    """The platform's base URL, including ``/api/v1``."""
    return _served_platform[1]


# ── FakeAPI: what the platform client's tests assert on ─────────────────────────


class _Seen(list[RecordedRequest]):
    def __init__(self, fake: FakeAPI) -> None:
        super().__init__(fake.sandbox.recorder.requests)
        self._fake = fake

    def clear(self) -> None:
        super().clear()
        self._fake.sandbox.recorder.clear()


class _Script(dict[str, list[tuple[int, Any, dict[str, str]]]]):
    """``script[path_suffix] = [(status, body, headers), …]``: answered in order, before the
    canned answers; each assignment becomes ``sandbox.script(..., times=1)`` rules."""

    def __init__(self, fake: FakeAPI) -> None:
        super().__init__()
        self._fake = fake

    def __setitem__(self, key: str, value: list[tuple[int, Any, dict[str, str]]]) -> None:
        super().__setitem__(key, value)
        self._fake._apply()

    def clear(self) -> None:
        super().clear()
        self._fake._apply()


def _session_answer(request: RecordedRequest, fake: FakeAPI) -> object:
    fake.tokens += 1
    return {"success": True, "data": {
        "token": f"eyJhbGciOiJIUzI1NiJ9.standin{fake.tokens}.sig",
        "expiresAt": "2030-01-01T00:00:00Z",
        "sessionKind": "bulk" if "users" in request.json() else "one",
    }}


def _campaign_answer(request: RecordedRequest) -> object:
    body = request.json()
    return {"success": True, "data": {
        "workflowId": body["workflowId"], "assessmentId": "as_1",
        "assessmentLink": "http://portal.invalid/a/as_1", "method": body["method"],
        "totalQuestions": 10, "totalMarks": 100,
        "totalCandidates": len(body.get("users", [1])), "brandNewField": {"x": 1},
    }}


class FakeAPI:
    """The sandbox with fixed answers for sessions, campaigns and the assessment list (its own
    key and signature checks still apply), the real queue, and a stand-in-shaped record."""

    def __init__(self, queue: list[dict[str, Any]] | None = None) -> None:
        self.sandbox = canary_sandbox()
        self.tokens = 0
        self.script = _Script(self)
        self._queue: list[dict[str, Any]] = []
        self._queued = True
        self.queue = queue or []
        self._apply()

    @property
    def queue(self) -> list[dict[str, Any]]:
        return self._queue

    @queue.setter
    def queue(self, events: list[dict[str, Any]]) -> None:
        # Queued on the next request, so a test may still edit the events it assigned.
        self._queue, self._queued = events, False

    @property
    def seen(self) -> list[RecordedRequest]:
        return _Seen(self)

    def calls(self, path_suffix: str) -> list[RecordedRequest]:
        return self.sandbox.recorder.to(path_suffix)

    @property
    def acked(self) -> list[str]:
        return self.sandbox.acknowledged_events()

    def _apply(self) -> None:
        sandbox = self.sandbox
        sandbox.clear_script()
        for suffix, answers in self.script.items():
            for status, body, headers in answers:
                sandbox.script("*", suffix, status=status, body=body, headers=headers)
        sandbox.script("POST", "/sessions", status=200, times=None, check_keys=True,
                       body=lambda r: _session_answer(r, self))
        sandbox.script("POST", "/campaigns", status=200, times=None, check_keys=True,
                       body=_campaign_answer)
        sandbox.script("GET", "/assessments", status=200, times=None, check_keys=True,
                       body={"success": True, "data": [{"_id": "as_1", "title": "Backend"}]})

    def app(self, prefix: str = "/api/v1") -> ASGIApp:
        """The sandbox serving its API at ``prefix`` (it answers both ``/api/v1`` and ``/api``)."""
        mount = prefix.removesuffix("/api/v1").removesuffix("/api")
        inner: ASGIApp = Starlette(routes=[Mount(mount, app=self.sandbox)]) if mount else self.sandbox

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if not self._queued:
                self._queued = True
                for event in self._queue:
                    self.sandbox.enqueue(json.loads(json.dumps(event)))
            await inner(scope, receive, send)

        return app


def build_app(state: FakeAPI, prefix: str = "/api/v1") -> ASGIApp:
    return state.app(prefix)


def completed_event(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": f"evt_{n}",
        "event": "assessment.completed",
        "storedAt": "2030-01-01T00:00:00Z",
        "assessmentId": "as_1",
        "candidateId": f"c{n}",
        "candidateName": f"Candidate {n}",
        "candidateEmail": f"candidate{n}@example.com",
        "score": 80,
        "totalMarks": 100,
        "passMarks": 60,
        "passed": True,
        "status": "completed",
        **extra,
    }
