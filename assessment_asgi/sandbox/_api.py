"""The platform's API as the official SDKs call it (platform-contract.md sections 2-3)."""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from . import _auth, _payloads
from ._context import Organisation, SandboxContext
from ._http import (
    NO_STORE,
    TooLarge,
    fail,
    ok,
    parse_json,
    queue_fail,
    queue_ok,
    read_body,
)
from ._state import Assessment, Candidate, iso_ms, new_id
from ._validation import BodyError, parse_ack, parse_campaign, parse_int, parse_session

_T = TypeVar("_T")

logger = logging.getLogger("assessment_asgi.sandbox")


class PlatformAPI:
    """`/api/v1/sessions`, `/campaigns`, `/assessments` and the event queue."""

    def __init__(self, ctx: SandboxContext) -> None:
        self._ctx = ctx

    def routes(self) -> list[Route]:
        routes = [
            Route("/api/v1/sessions", self.create_session, methods=["POST"]),
            Route("/api/v1/campaigns", self.create_campaign, methods=["POST"]),
            Route("/api/v1/assessments", self.list_assessments, methods=["GET"]),
        ]
        for prefix in ("/api/v1", "/api"):  # SDK 2.0.4 polls /api/v1; 1.0.2 and Node /api
            routes += [
                Route(f"{prefix}/webhook/events", self.poll_events, methods=["GET"]),
                Route(f"{prefix}/webhook/events/ack", self.ack_events, methods=["POST"]),
            ]
        return routes

    # ── authentication ──────────────────────────────────────────────────────────

    def _signed(self, request: Request, raw: bytes, org: Organisation) -> bool:
        return _auth.signature_ok(
            request,
            raw,
            org.credentials,
            now_ms=self._ctx.now_ms(),
            window_ms=int(self._ctx.signature_window * 1000),
        )

    def _organisation(self, request: Request) -> Organisation | None:
        """The organisation whose API key the request carries: all it may see."""
        return self._ctx.by_api_key(request.headers.get("x-api-key"))

    def _refuse(self, request: Request, raw: bytes) -> Organisation | JSONResponse:
        """`x-api-key` + `x-secret-key` (what the SDKs send), or a valid signature; the
        organisation they belong to, or the refusal."""
        org = self._organisation(request)
        if org is None:
            return fail(401, "Invalid API key")
        if _auth.secret_key_ok(request, org.credentials):
            return org
        if request.headers.get("x-signature") and self._signed(request, raw, org):
            return org
        return fail(401, "Invalid secret key or signature")

    def keys_ok(self, scope: Scope, raw: bytes) -> bool:
        """What a scripted `check_keys` answer asks: the API key, plus the secret key or a
        valid signature when the request carries either (the queue needs the key alone)."""
        request = Request(scope)
        org = self._organisation(request)
        if org is None:
            return False
        if _auth.secret_key_ok(request, org.credentials):
            return True
        if request.headers.get("x-signature"):
            return self._signed(request, raw, org)
        return "x-secret-key" not in request.headers

    async def _body(self, request: Request) -> bytes:
        return await read_body(request, self._ctx.max_body_bytes)

    # ── sessions, campaigns, assessments ───────────────────────────────────────

    async def _parsed(
        self, request: Request, parse: Callable[[Any], _T]
    ) -> tuple[Organisation, _T] | Response:
        """The caller's organisation and the body, its fields parsed; or the refusal."""
        try:
            raw = await self._body(request)
        except TooLarge:
            return fail(413, "Request body too large")
        except BodyError as exc:
            return fail(400, exc.errors[0])
        org = self._refuse(request, raw)
        if isinstance(org, Response):
            return org
        try:
            return org, parse(parse_json(raw))
        except BodyError as exc:
            return fail(400, exc.errors[0], details=exc.errors)

    async def create_session(self, request: Request) -> Response:
        parsed = await self._parsed(request, parse_session)
        if isinstance(parsed, Response):
            return parsed
        org, people = parsed
        now_ms = self._ctx.now_ms()
        expires_ms = now_ms + int(self._ctx.token_ttl * 1000)
        token_id = secrets.token_hex(16)
        assessment = Assessment(
            id=new_id("asmnt_"),
            kind="session",
            candidates=[
                Candidate(cid or new_id("cand_", 12), name, email)
                for name, email, cid in people.users
            ],
            created_at=now_ms / 1000,
            expires_at=expires_ms / 1000,
            recruiter_id=people.recruiter_id,
            recruiter_email=people.recruiter_email,
            workflow_id=people.workflow_id,
            token_id=token_id,
        )
        org.state.add(assessment)
        token = self._ctx.issue_token(
            assessment.id, token_id, iat=now_ms // 1000, exp=expires_ms // 1000
        )
        logger.info(
            "session created: %d candidate(s), token valid %ds",
            len(assessment.candidates),
            int(self._ctx.token_ttl),
        )
        return ok({"token": token, "expiresAt": iso_ms(expires_ms)}, headers=NO_STORE)

    async def create_campaign(self, request: Request) -> Response:
        parsed = await self._parsed(request, parse_campaign)
        if isinstance(parsed, Response):
            return parsed
        org, campaign = parsed
        if self._ctx.campaign_delay:
            await anyio.sleep(self._ctx.campaign_delay)  # the platform takes 20-30 s
        now = self._ctx.clock()
        total_questions = 3 if campaign.method == "programming" else 20
        assessment = Assessment(
            id=new_id("asmnt_"),
            kind="campaign",
            candidates=[
                Candidate(cid or new_id("cand_", 12), name, email)
                for name, email, cid in campaign.people.users
            ],
            created_at=now,
            expires_at=now,
            workflow_id=campaign.people.workflow_id,
            method=campaign.method,
            job_title=campaign.job_title or "Software Engineer",
            experience=campaign.experience,
            level=campaign.level or "2-5",
            total_questions=total_questions,
        )
        org.state.add(assessment)
        base = self._ctx.base_url(request)
        link = _payloads.assessment_url(base, assessment, org.key_id)
        org.state.enqueue(
            _payloads.campaign_generated(
                assessment, link=link, key_id=org.key_id, org_id=org.org_id, base_url=base
            )
        )
        logger.info(
            "campaign created: method=%s, %d candidate(s); campaign.generated queued",
            campaign.method,
            len(assessment.candidates),
        )
        return ok(
            {
                "workflowId": assessment.workflow_id,
                "assessmentId": assessment.id,
                "campaignId": assessment.id,  # the name SDK 1.0.0 read
                "assessmentLink": link,
                "method": assessment.method,
                "totalQuestions": total_questions,
                "totalMarks": _payloads.TOTAL_MARKS,
                "totalCandidates": len(assessment.candidates),
            }
        )

    async def list_assessments(self, request: Request) -> Response:
        try:
            raw = await self._body(request)
        except TooLarge:
            return fail(413, "Request body too large")
        except BodyError as exc:
            return fail(400, exc.errors[0])
        org = self._organisation(request)
        if org is None:
            return fail(401, "Invalid API key")
        if not self._signed(request, raw, org):
            return fail(401, "Invalid or expired signature")
        base = self._ctx.base_url(request)
        items = [
            {
                "assessmentId": item.id,
                "type": item.kind,
                "workflowId": item.workflow_id,
                "method": item.method,
                "jobTitle": item.job_title,
                "assessmentLink": _payloads.assessment_url(base, item, org.key_id),
                "totalCandidates": len(item.candidates),
                "completedCandidates": len(item.finished),
                "createdAt": iso_ms(int(item.created_at * 1000)),
            }
            for item in org.state.assessments()
            if item.open
        ]
        return ok(items)

    # ── the event queue ─────────────────────────────────────────────────────────

    def _retry_after(self, org: Organisation) -> float:
        """Seconds to wait when an organisation polls faster than `min_poll_interval`."""
        interval = self._ctx.min_poll_interval
        if not interval:
            return 0.0
        now = self._ctx.clock()
        last = org.last_poll
        if last is not None and now - last < interval:
            return interval - (now - last)
        org.last_poll = now
        return 0.0

    async def poll_events(self, request: Request) -> Response:
        org = self._organisation(request)
        if org is None:
            return queue_fail(401, "Invalid API key")
        query = request.query_params
        try:
            limit = parse_int(query.get("limit"), "limit", default=50, minimum=1)
            since = parse_int(query.get("since"), "since", default=0, minimum=0)
        except BodyError as exc:
            return queue_fail(400, exc.errors[0])
        if (wait := self._retry_after(org)) > 0:
            seconds = max(1, math.ceil(wait))
            return queue_fail(
                429,
                f"Polling too frequently: wait {seconds}s between polls",
                headers={"Retry-After": str(seconds)},
            )
        events, pending = org.state.poll(limit=min(limit, 100), since_ms=since)
        return queue_ok({"events": events, "pendingCount": pending})

    async def ack_events(self, request: Request) -> Response:
        org = self._organisation(request)
        if org is None:
            return queue_fail(401, "Invalid API key")
        try:
            event_ids = parse_ack(parse_json(await self._body(request)))
        except TooLarge:
            return queue_fail(413, "Request body too large")
        except BodyError as exc:
            return queue_fail(400, exc.errors[0])
        acknowledged = org.state.ack(event_ids)
        logger.info("acknowledged %d of %d event id(s)", acknowledged, len(event_ids))
        return queue_ok({"acknowledged": acknowledged})
