"""The portal: `AssessmentPortal.open({ token })`, single-use tokens, finishing candidates."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import _pages, _payloads
from ._context import Organisation, SandboxContext
from ._http import NO_STORE, TooLarge, cors, fail, ok, parse_json, read_body
from ._state import Assessment, iso_ms, new_event_id
from ._validation import BodyError

logger = logging.getLogger("assessment_asgi.sandbox")

TOKEN_EXPIRED = "Token expired"  # noqa: S105 - the docs' message, not a secret
_PAGE_HEADERS = {**NO_STORE, "Referrer-Policy": "no-referrer"}


class Portal:
    """The hosted portal's stand-in and the script that opens it."""

    def __init__(self, ctx: SandboxContext) -> None:
        self._ctx = ctx

    def routes(self) -> list[Route]:
        both = ["POST", "OPTIONS"]
        return [
            Route("/portal/sdk.js", self.sdk_js, methods=["GET"]),
            Route("/portal/portal.js", self.portal_js, methods=["GET"]),
            Route("/portal/view", self.view, methods=["GET", "POST"]),
            Route("/portal/open", cors(self.open), methods=both),
            Route("/portal/complete", cors(self.complete), methods=both),
            Route("/portal/send", cors(self.send), methods=both),
            Route("/assessment/{assessment_id}/{key_id}", self.overview, methods=["GET"]),
            Route("/assessment/{assessment_id}/{key_id}/{candidate_key}", self.take,
                  methods=["GET"]),
            Route("/reports/{event_id}", self.report, methods=["GET"]),
            Route("/media/{event_id}/selfie.svg", self.selfie, methods=["GET"]),
        ]

    # ── opening a session with its token ────────────────────────────────────────

    def _open_token(self, token: object) -> tuple[Organisation, Assessment] | None:
        found = self._ctx.read_token(token)
        if found is None:
            return None
        return self._ctx.open_session(*found)

    async def _token_from(self, request: Request) -> object:
        raw = await read_body(request, self._ctx.max_body_bytes)
        if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            values = parse_qs(raw.decode("utf-8", errors="replace")).get("token")
            return values[0] if values else None
        body = parse_json(raw)
        return body.get("token") if isinstance(body, dict) else None

    async def open(self, request: Request) -> Response:
        """`POST /portal/open {"token"}`: the session's candidates and recruiter, once."""
        try:
            token = await self._token_from(request)
        except TooLarge:
            return fail(413, "Request body too large")
        except BodyError as exc:
            return fail(400, exc.errors[0])
        opened = self._open_token(token)
        if opened is None:
            logger.info("portal refused a token (reused, expired or invalid)")
            return fail(401, TOKEN_EXPIRED, headers=NO_STORE)
        org, assessment = opened
        logger.info("portal opened a session of %d candidate(s)", len(assessment.candidates))
        base = self._ctx.base_url(request)
        key_id = org.key_id
        return ok(
            {
                "assessmentId": assessment.id,
                # The opener is the recruiter: each candidate's own link (and its key, which
                # /portal/complete needs), and the key that sends the assessment.
                "candidates": [
                    {**c.as_dict(), "key": c.key,
                     "link": _payloads.candidate_url(base, assessment, c, key_id)}
                    for c in assessment.candidates
                ],
                "portalKey": assessment.portal_key,
                "totalCandidates": len(assessment.candidates),
                "recruiter": {"id": assessment.recruiter_id, "email": assessment.recruiter_email},
                "assessmentUrl": _payloads.assessment_url(base, assessment, key_id),
                "expiresAt": iso_ms(int(assessment.expires_at * 1000)),
            }
        )

    async def view(self, request: Request) -> Response:
        """The portal page (a form POST from `sdk.js` into its iframe), or "Token expired"."""
        base = self._ctx.base_url(request)
        if request.method == "GET":
            return HTMLResponse(_pages.index_page(base), headers=_PAGE_HEADERS)
        try:
            token = await self._token_from(request)
        except (TooLarge, BodyError):
            token = None
        opened = self._open_token(token)
        if opened is None:
            logger.info("portal refused a token (reused, expired or invalid)")
            page = _pages.error_page(TOKEN_EXPIRED, base)
            return HTMLResponse(page, status_code=401, headers=_PAGE_HEADERS)
        assessment = opened[1]
        logger.info("portal opened a session of %d candidate(s)", len(assessment.candidates))
        page = _pages.portal_page(assessment, base, title="SmartAI assessment portal")
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    # ── what candidates and recruiters do in the portal ────────────────────────

    async def _opened(
        self, request: Request
    ) -> tuple[dict[str, Any], Organisation, Assessment]:
        try:
            body = parse_json(await read_body(request, self._ctx.max_body_bytes))
        except TooLarge as exc:
            raise BodyError(["Request body too large"]) from exc
        if not isinstance(body, dict) or not isinstance(body.get("assessmentId"), str):
            raise BodyError(["assessmentId is required"])
        found = self._ctx.find(body["assessmentId"])
        if found is None or not found[1].open:
            raise LookupError("Unknown assessment, or its portal was never opened")
        return body, *found

    async def complete(self, request: Request) -> Response:
        """`POST /portal/complete {"assessmentId", "candidateId", "candidateKey", "outcome"?,
        "score"?}`: `candidateKey` is the secret in that candidate's own link."""
        try:
            body, org, assessment = await self._opened(request)
        except BodyError as exc:
            return fail(400, exc.errors[0])
        except LookupError as exc:
            return fail(404, str(exc))
        candidate = assessment.candidate(str(body.get("candidateId", "")))
        if candidate is None:
            return fail(404, "Unknown candidate for this assessment")
        key = body.get("candidateKey")
        if not isinstance(key, str) or assessment.candidate_by_key(key) is not candidate:
            logger.info("portal refused to finish a candidate without their own link")
            return fail(403, "Finishing needs this candidate's own link (candidateKey)")
        outcome = body.get("outcome", "completed")
        if outcome not in ("completed", "disqualified"):
            return fail(400, 'outcome must be "completed" or "disqualified"')
        score = body.get("score")
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100
        ):
            return fail(400, "score must be an integer from 0 to 100")
        event_id = new_event_id()
        if not org.state.mark_finished(assessment.id, candidate.id, event_id):
            return fail(409, "This candidate has already finished")
        payload = _payloads.assessment_completed(
            assessment,
            candidate,
            now=self._ctx.clock(),
            base_url=self._ctx.base_url(request),
            key_id=org.key_id,
            org_id=org.org_id,
            report_id=event_id,
            outcome=str(outcome),
            score=score,
        )
        event = org.state.enqueue(payload, event_id=event_id, keep_report=True)
        logger.info("%s queued", event["event"])
        return ok(
            {
                "eventId": event_id,
                "event": event["event"],
                "candidateId": candidate.id,
                "score": event["score"],
                "passed": event["passed"],
                "reportUrl": event["reportUrl"],
            }
        )

    async def send(self, request: Request) -> Response:
        """`POST /portal/send {"assessmentId", "portalKey"}`: queue `assessment.sent` once;
        `portalKey` comes with the opened portal, so only the token's holder sends."""
        try:
            body, org, assessment = await self._opened(request)
        except BodyError as exc:
            return fail(400, exc.errors[0])
        except LookupError as exc:
            return fail(404, str(exc))
        key = body.get("portalKey")
        if not isinstance(key, str) or not secrets.compare_digest(
            key.encode(), assessment.portal_key.encode()
        ):
            return fail(403, "Sending needs the opened portal's key (portalKey)")
        if not org.state.mark_sent(assessment.id):
            return fail(409, "This assessment was already sent")
        base = self._ctx.base_url(request)
        url = _payloads.assessment_url(base, assessment, org.key_id)
        event = org.state.enqueue(
            _payloads.assessment_sent(
                assessment, url=url, key_id=org.key_id, org_id=org.org_id, base_url=base
            )
        )
        logger.info("assessment.sent queued")
        return ok({"eventId": event["eventId"], "event": event["event"]})

    # ── pages behind the links in events ────────────────────────────────────────

    def _linked(self, request: Request) -> Assessment:
        found = self._ctx.find(request.path_params["assessment_id"])
        if (
            found is None
            or not found[1].open
            or request.path_params["key_id"] != found[0].key_id
        ):
            raise HTTPException(404, "Unknown assessment")
        return found[1]

    async def overview(self, request: Request) -> Response:
        """The shared link: what the assessment is, naming no candidate."""
        assessment = self._linked(request)
        page = _pages.overview_page(assessment, f"{assessment.job_title} assessment")
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    async def take(self, request: Request) -> Response:
        """A candidate's own link: that candidate, and nobody else."""
        assessment = self._linked(request)
        candidate = assessment.candidate_by_key(request.path_params["candidate_key"])
        if candidate is None:
            raise HTTPException(404, "Unknown candidate link")
        title = f"{assessment.job_title} assessment"
        page = _pages.portal_page(
            assessment, self._ctx.base_url(request), title=title, only=candidate
        )
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    def _report(self, event_id: str) -> dict[str, Any] | None:
        for state in self._ctx.states():
            if (event := state.report(event_id)) is not None:
                return event
        return None

    async def report(self, request: Request) -> Response:
        event = self._report(request.path_params["event_id"])
        if event is None:
            raise HTTPException(404, "Unknown report")
        return HTMLResponse(_pages.report_page(event), headers=NO_STORE)

    async def selfie(self, request: Request) -> Response:
        if self._report(request.path_params["event_id"]) is None:
            raise HTTPException(404, "Unknown image")
        return Response(_pages.SELFIE_SVG, media_type="image/svg+xml")

    # ── scripts ─────────────────────────────────────────────────────────────────

    async def sdk_js(self, request: Request) -> Response:
        # The script finds the sandbox from its own src; the embedded URL is the fallback.
        script = _pages.static_text("sdk.js").replace(
            '"__SANDBOX_BASE_URL__"', json.dumps(self._ctx.base_url(request))
        )
        return Response(
            script,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
        )

    async def portal_js(self, request: Request) -> Response:
        return Response(
            _pages.static_text("portal.js"),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )
