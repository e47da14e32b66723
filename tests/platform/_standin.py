"""A small, real Starlette stand-in for the SmartAI platform, recording what it receives."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "wc_ak_test_standin"
SECRET = "wc_sk_test_standin"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StandIn:
    """State of the stand-in: what it received, and canned answers to override."""

    seen: list[Seen] = field(default_factory=list)
    queue: list[dict[str, Any]] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    #: path -> list of (status, body, headers) answered in order before the normal answer
    script: dict[str, list[tuple[int, Any, dict[str, str]]]] = field(default_factory=dict)
    api_key: str = API_KEY
    secret: str = SECRET
    tokens: int = 0

    def calls(self, path_suffix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith(path_suffix)]


def _keys_ok(state: StandIn, request: Request, *, secret: bool) -> bool:
    if request.headers.get("x-api-key") != state.api_key:
        return False
    return not secret or request.headers.get("x-secret-key") == state.secret


def build_app(state: StandIn, prefix: str = "/api/v1") -> Starlette:
    async def record(request: Request) -> Response | None:
        body = await request.body()
        state.seen.append(
            Seen(
                request.method,
                request.url.path,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        for suffix, answers in state.script.items():
            if request.url.path.endswith(suffix) and answers:
                status, payload, headers = answers.pop(0)
                if isinstance(payload, bytes):
                    return Response(payload, status, headers=headers)
                return JSONResponse(payload, status, headers=headers)
        return None

    async def sessions(request: Request) -> Response:
        scripted = await record(request)
        if scripted is not None:
            return scripted
        if not _keys_ok(state, request, secret=True):
            return JSONResponse({"success": False, "error": "Invalid API key"}, 401)
        state.tokens += 1
        return JSONResponse(
            {
                "success": True,
                "data": {
                    "token": f"eyJhbGciOiJIUzI1NiJ9.standin{state.tokens}.sig",
                    "expiresAt": "2030-01-01T00:00:00Z",
                    "sessionKind": "bulk" if "users" in json.loads(await request.body()) else "one",
                },
            },
            headers={"x-request-id": f"req-{state.tokens}"},
        )

    async def campaigns(request: Request) -> Response:
        scripted = await record(request)
        if scripted is not None:
            return scripted
        if not _keys_ok(state, request, secret=True):
            return JSONResponse({"success": False, "error": "Invalid API key"}, 401)
        body = json.loads(await request.body())
        return JSONResponse(
            {
                "success": True,
                "data": {
                    "workflowId": body["workflowId"],
                    "assessmentId": "as_1",
                    "assessmentLink": "http://portal.invalid/a/as_1",
                    "method": body["method"],
                    "totalQuestions": 10,
                    "totalMarks": 100,
                    "totalCandidates": len(body.get("users", [1])),
                    "brandNewField": {"x": 1},
                },
            }
        )

    async def assessments(request: Request) -> Response:
        scripted = await record(request)
        if scripted is not None:
            return scripted
        timestamp = request.headers.get("x-timestamp", "")
        body = (await request.body()).decode()
        expected = hmac.new(
            state.secret.encode(),
            f"GET:{request.url.path}:{timestamp}:{body}".encode(),
            hashlib.sha256,
        ).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 300_000
        if (
            request.headers.get("x-api-key") != state.api_key
            or not fresh
            or not hmac.compare_digest(expected, request.headers.get("x-signature", ""))
        ):
            return JSONResponse({"success": False, "error": "Invalid signature"}, 401)
        return JSONResponse({"success": True, "data": [{"_id": "as_1", "title": "Backend"}]})

    async def events(request: Request) -> Response:
        scripted = await record(request)
        if scripted is not None:
            return scripted
        if not _keys_ok(state, request, secret=False):
            return JSONResponse({"status": "error", "code": 401, "message": "Invalid API key"}, 401)
        limit = min(int(request.query_params.get("limit", "50")), 100)
        pending = [e for e in state.queue if e["eventId"] not in state.acked]
        batch = pending[:limit]
        return JSONResponse(
            {
                "status": "success",
                "code": 200,
                "success": True,
                "data": {"events": batch, "pendingCount": max(0, len(pending) - len(batch))},
            }
        )

    async def ack(request: Request) -> Response:
        scripted = await record(request)
        if scripted is not None:
            return scripted
        if not _keys_ok(state, request, secret=False):
            return JSONResponse({"status": "error", "code": 401, "message": "Invalid API key"}, 401)
        ids = json.loads(await request.body())["eventIds"]
        if not 1 <= len(ids) <= 100:
            return JSONResponse({"status": "error", "code": 400, "message": "1-100 ids"}, 400)
        fresh = [i for i in ids if i not in state.acked and any(e["eventId"] == i for e in state.queue)]
        state.acked.extend(fresh)
        return JSONResponse(
            {
                "status": "success",
                "code": 200,
                "success": True,
                "data": {"acknowledged": len(fresh)},
            }
        )

    return Starlette(
        routes=[
            Route(f"{prefix}/sessions", sessions, methods=["POST"]),
            Route(f"{prefix}/campaigns", campaigns, methods=["POST"]),
            Route(f"{prefix}/assessments", assessments, methods=["GET"]),
            Route(f"{prefix}/webhook/events", events, methods=["GET"]),
            Route(f"{prefix}/webhook/events/ack", ack, methods=["POST"]),
        ]
    )


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
