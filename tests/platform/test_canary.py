"""Quiet by design: canary secrets and candidate data, DEBUG logging everywhere, every
scenario — and no canary in any log line, log field, traceback, repr or str."""

from __future__ import annotations

import io
import logging
import traceback
from typing import Any

import anyio
import pytest

from assessment_asgi.platform import (
    Credentials,
    MemoryDedupStore,
    ResultsPoller,
    RetryPolicy,
    SmartAIClient,
    SmartAIError,
    Timeout,
)
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

from . import _faulty
from ._faulty import FaultServer

CANARY_KEY = "wc_ak_test_CANARYKEY7f3a91"
CANARY_SECRET = "wc_sk_test_CANARYSECRET9b1c44"
CANARY_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJjYW5hcnkiOjF9.CANARYTOKENsig"
CANARY_EMAIL = "canary.candidate.5e2d@example.org"
CANARY_NAME = "Canaryname Zqxwv"
CANARIES = {
    "api key": CANARY_KEY,
    "secret": CANARY_SECRET,
    "token": CANARY_TOKEN,
    "token signature": "CANARYTOKENsig",
    "email": CANARY_EMAIL,
    "name": CANARY_NAME,
}
CREDS = Credentials(CANARY_KEY, CANARY_SECRET)
USERS = [{"name": CANARY_NAME, "email": CANARY_EMAIL}]


def event(n: int) -> dict[str, Any]:
    return {
        "eventId": f"evt_{n}",
        "event": "assessment.completed",
        "candidateName": CANARY_NAME,
        "candidateEmail": CANARY_EMAIL,
        "score": 90,
        "questionAnswers": [{"answer": CANARY_EMAIL}],
    }


def build_canary_app() -> SandboxApp:
    """The sandbox scripted to echo every secret it can into its answers, as a careless
    platform might (the sandbox's own answers never do)."""
    sandbox = SandboxApp(credentials=CREDS)
    message = f"invalid user {CANARY_NAME} <{CANARY_EMAIL}> key {CANARY_KEY} {CANARY_TOKEN}"
    sandbox.script("POST", "/sessions", status=400, body={"success": False, "error": message},
                   headers={"x-request-id": "r-1"})
    sandbox.script("POST", "/sessions", status=401,
                   body={"success": False, "error": f"bad key {CANARY_KEY}"})
    sandbox.script("POST", "/sessions", status=200, times=None, body={
        "success": True, "data": {"token": CANARY_TOKEN, "expiresAt": "later", "echo": USERS}})
    sandbox.script("GET", "/assessments", status=200, times=None,
                   body={"success": True, "data": [{"_id": "a1", "candidates": USERS}]})
    sandbox.script("GET", "/webhook/events", status=429, headers={"Retry-After": "0"},
                   body={"message": f"slow down {CANARY_EMAIL}"})
    sandbox.script("GET", "/webhook/events", status=200, times=None, body={
        "status": "success", "data": {"events": [event(1), event(2)], "pendingCount": 0}})
    sandbox.script("POST", "/webhook/events/ack", status=200, times=None,
                   body={"status": "success", "data": {"acknowledged": 1}})
    sandbox.script("POST", "/campaigns", status=200, times=None,
                   body={"success": True, "data": {"assessmentLink": "x", "candidates": USERS}})
    return sandbox


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), repr(vars(record))]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    return "\n".join(parts)


@pytest.mark.anyio
async def test_no_canary_anywhere(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)  # root and every logger: httpx2, httpcore2, aiohttp, ours
    texts: list[str] = []
    errors: list[BaseException] = []
    fast = RetryPolicy(attempts=2, backoff=0.01)
    try:
        with serve(build_canary_app()) as base:
            client = SmartAIClient(base_url=f"{base}/api/v1", credentials=CREDS, retry=fast)
            texts.append(repr(client))
            for _ in range(2):  # 400 echoing everything, then 401
                try:
                    await client.create_session(users=USERS, recruiter_email=CANARY_EMAIL)
                except SmartAIError as exc:
                    errors.append(exc)
            tok = await client.create_session(name=CANARY_NAME, email=CANARY_EMAIL, recruiter_id="r")
            assert tok.token == CANARY_TOKEN  # the value is there for the caller...
            texts += [repr(tok), str(tok)]  # ...but not in its repr
            campaign = await client.create_campaign(workflow_id="wf", method="knowledge", users=USERS)
            texts += [repr(campaign), str(campaign)]
            listed = await client.list_assessments()
            texts += [repr(listed), str(listed)]
            batch = await client.poll_events()  # 429 first, then events full of candidate data
            texts += [repr(batch), str(batch), repr(batch.events[0]), str(batch.events[0])]

            def failing(ev: Any) -> None:
                raise RuntimeError("handler failed")

            poller = ResultsPoller(client, {"assessment.completed": failing}, dedup=MemoryDedupStore())
            texts += [repr(poller), repr(poller.dedup)]
            await poller.poll_once()
            await ResultsPoller(client, lambda ev: None).poll_once()
            await client.aclose()
        # Misbehaving servers: timeouts, cut-off bodies, refused connections, redirects.
        quick = Timeout(connect=0.5, read=0.3, deadline=1.0)
        scenarios = [
            FaultServer(_faulty.stall),
            FaultServer(_faulty.truncate),
            FaultServer(_faulty.answer(302, b"", {"Location": "http://127.0.0.1:9/"})),
            FaultServer(_faulty.answer(502, b"<html>" + CANARY_EMAIL.encode() + b"</html>")),
        ]
        for server in scenarios:
            with server:
                client = SmartAIClient(base_url=server.base_url, credentials=CREDS, timeout=quick, retry=fast)
                for call in (
                    lambda c: c.create_session(users=USERS, recruiter_email=CANARY_EMAIL),
                    lambda c: c.poll_events(),
                    lambda c: c.acknowledge_events(["evt_1"]),
                ):
                    try:
                        with anyio.fail_after(5):
                            await call(client)
                    except SmartAIError as exc:
                        errors.append(exc)
                await client.aclose()
        with _faulty.refusing() as url:
            try:
                await SmartAIClient(base_url=url, credentials=CREDS, retry=fast).create_session(
                    users=USERS, recruiter_id="r"
                )
            except SmartAIError as exc:
                errors.append(exc)
    finally:
        root.removeHandler(handler)
    assert len(errors) >= 12
    for exc in errors:
        texts += [str(exc), repr(exc), repr(vars(exc)), "".join(traceback.format_exception(exc))]
    texts += [_record_text(record) for record in caplog.records]
    texts.append(stream.getvalue())
    everything = "\n".join(texts)
    assert any(r.name == "assessment_asgi.platform" and r.levelno == logging.DEBUG for r in caplog.records)
    messages = [exc.platform_message for exc in errors]
    assert "invalid user [redacted] <[redacted]> key [redacted] [token]" in messages  # kept, redacted
    for label, canary in CANARIES.items():
        assert canary not in everything, f"the {label} leaked"
