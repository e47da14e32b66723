"""The sandbox ASGI app: the platform's wire contract, a portal and an event queue."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import anyio
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..platform._credentials import TEST_KEY_PREFIX, TEST_SECRET_PREFIX, Credentials
from . import _auth, _pages, _payloads
from ._state import Assessment, Candidate, SandboxState, iso_ms, new_event_id, new_id
from ._validation import BodyError, parse_ack, parse_campaign, parse_int, parse_session

logger = logging.getLogger("assessment_asgi.sandbox")

TOKEN_EXPIRED = "Token expired"  # noqa: S105 - the portal's message, not a secret
_JWT_ISSUER = "smartai-sandbox"
_NO_STORE = {"Cache-Control": "no-store"}
_CORS = {"Access-Control-Allow-Origin": "*"}
_CORS_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "content-type",
    "Access-Control-Max-Age": "600",
}

Handler = Callable[[Request], Awaitable[Response]]


class _TooLarge(Exception):
    pass


def _check_number(name: str, value: object, *, minimum: float, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
    if not math.isfinite(value) or value < minimum:  # type: ignore[arg-type, operator]
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def generate_test_credentials() -> Credentials:
    """A fresh test key pair: ``wc_ak_test_<hex>`` / ``wc_sk_test_<hex>``."""
    return Credentials(
        TEST_KEY_PREFIX + secrets.token_hex(16), TEST_SECRET_PREFIX + secrets.token_hex(24)
    )


def is_test_pair(credentials: Credentials) -> bool:
    return credentials.api_key.get_secret_value().startswith(
        TEST_KEY_PREFIX
    ) and credentials.secret_key.get_secret_value().startswith(TEST_SECRET_PREFIX)


class SandboxApp:
    """An in-memory SmartAI platform speaking the wire contract, for development and tests.

    ::

        sandbox = SandboxApp()                       # generates a wc_ak_test_/wc_sk_test_ pair
        app.mount("/sandbox", sandbox)               # or run it alone under any ASGI server
        base_url = SandboxApp.platform_url("http://127.0.0.1:8000/sandbox")  # …/sandbox/api/v1

    Test keys only: live-looking keys are refused, so a real key pair is never pasted here.
    """

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        token_ttl: float = 900,
        max_sessions: int = 10_000,
        max_events: int = 10_000,
        event_ttl: float = 86_400,
        session_retention: float = 86_400,
        min_poll_interval: float = 0,
        signature_window: float = 300,
        campaign_delay: float = 0,
        max_body_bytes: int = 1_048_576,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if credentials is None:
            credentials = generate_test_credentials()
        elif not isinstance(credentials, Credentials):
            raise TypeError(
                f"credentials must be a Credentials, got {type(credentials).__name__}"
            )
        if not is_test_pair(credentials):
            raise ValueError(
                "credentials: the sandbox accepts test keys only (api_key starting with "
                f"{TEST_KEY_PREFIX!r} and secret_key starting with {TEST_SECRET_PREFIX!r}); "
                "never give it live keys"
            )
        _check_number("token_ttl", token_ttl, minimum=1)
        _check_number("max_sessions", max_sessions, minimum=1, integer=True)
        _check_number("max_events", max_events, minimum=1, integer=True)
        _check_number("event_ttl", event_ttl, minimum=1)
        _check_number("session_retention", session_retention, minimum=1)
        _check_number("min_poll_interval", min_poll_interval, minimum=0)
        _check_number("signature_window", signature_window, minimum=1)
        _check_number("campaign_delay", campaign_delay, minimum=0)
        _check_number("max_body_bytes", max_body_bytes, minimum=1024, integer=True)
        if not callable(clock):
            raise TypeError("clock must be a callable returning Unix seconds")

        self.credentials = credentials
        self.token_ttl = float(token_ttl)
        self.min_poll_interval = float(min_poll_interval)
        self.signature_window = float(signature_window)
        self.campaign_delay = float(campaign_delay)
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._state = SandboxState(
            clock=clock,
            max_sessions=max_sessions,
            max_events=max_events,
            event_ttl=float(event_ttl),
            session_retention=max(float(session_retention), float(token_ttl)),
        )
        self._jwt_key = OctKey.import_key(secrets.token_bytes(32))
        digest = hashlib.sha256(credentials.api_key.get_secret_value().encode()).hexdigest()
        self.key_id = "wc_key_test_" + digest[:16]
        self._last_poll: float | None = None
        self._app = Starlette(
            routes=self._routes(),
            exception_handlers={HTTPException: self._http_error},  # type: ignore[dict-item]
        )

    def __repr__(self) -> str:
        return f"SandboxApp(credentials={self.credentials!r}, token_ttl={self.token_ttl!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette writes into the scope it is given; never into the host's.
        await self._app(dict(scope), receive, send)

    # ── helpers for hosts and tests ─────────────────────────────────────────────

    @staticmethod
    def platform_url(sandbox_url: str) -> str:
        """The platform base URL an SDK needs: ``<sandbox url>/api/v1``."""
        return sandbox_url.rstrip("/") + "/api/v1"

    @staticmethod
    def portal_script_url(sandbox_url: str) -> str:
        """Where ``AssessmentPortal`` is served: ``<sandbox url>/portal/sdk.js``."""
        return sandbox_url.rstrip("/") + "/portal/sdk.js"

    def pending_events(self) -> list[dict[str, Any]]:
        """A copy of the queue (unacknowledged events, oldest first)."""
        return self._state.pending()

    # ── routing ─────────────────────────────────────────────────────────────────

    def _routes(self) -> list[Route]:
        routes = [
            Route("/", self._index, methods=["GET"]),
            Route("/api/v1/sessions", self._create_session, methods=["POST"]),
            Route("/api/v1/campaigns", self._create_campaign, methods=["POST"]),
            Route("/api/v1/assessments", self._list_assessments, methods=["GET"]),
        ]
        for prefix in ("/api/v1", "/api"):  # SDK 2.0.4 uses /api/v1; 1.0.2 and Node use /api
            routes += [
                Route(f"{prefix}/webhook/events", self._poll_events, methods=["GET"]),
                Route(f"{prefix}/webhook/events/ack", self._ack_events, methods=["POST"]),
            ]
        routes += [
            Route("/portal/sdk.js", self._sdk_js, methods=["GET"]),
            Route("/portal/portal.js", self._portal_js, methods=["GET"]),
            Route("/portal/view", self._portal_view, methods=["GET", "POST"]),
            Route("/portal/open", self._cors(self._portal_open), methods=["POST", "OPTIONS"]),
            Route(
                "/portal/complete", self._cors(self._portal_complete), methods=["POST", "OPTIONS"]
            ),
            Route("/portal/send", self._cors(self._portal_send), methods=["POST", "OPTIONS"]),
            Route("/assessment/{assessment_id}/{key_id}", self._take, methods=["GET"]),
            Route("/reports/{event_id}", self._report, methods=["GET"]),
            Route("/media/{event_id}/selfie.svg", self._selfie, methods=["GET"]),
        ]
        return routes

    @staticmethod
    def _cors(handler: Handler) -> Handler:
        # The portal endpoints may be called from the host app's page on another origin;
        # they carry no credentials (the token or assessment id is the capability).
        async def endpoint(request: Request) -> Response:
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=_CORS_PREFLIGHT)
            response = await handler(request)
            response.headers.update(_CORS)
            return response

        return endpoint

    async def _http_error(self, request: Request, exc: HTTPException) -> Response:
        return JSONResponse(
            {"success": False, "error": exc.detail, "message": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    # ── plumbing ────────────────────────────────────────────────────────────────

    @staticmethod
    def _base_url(request: Request) -> str:
        # request.base_url is the *host's* root; the sandbox may be mounted below it.
        root_path = request.scope.get("root_path", "")
        url = URL(scope={**request.scope, "path": root_path or "/", "query_string": b""})
        return str(url).rstrip("/")

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return json.loads(raw) if raw else {}
        except ValueError as exc:
            raise BodyError(["Invalid JSON body"]) from exc

    @staticmethod
    def _ok(data: Any, *, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"success": True, "data": data}, headers=headers)

    @staticmethod
    def _fail(
        status: int, message: str, *, details: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        body: dict[str, Any] = {"success": False, "error": message, "message": message}
        if details and len(details) > 1:
            body["errors"] = details
        return JSONResponse(body, status_code=status, headers=headers)

    @staticmethod
    def _queue_ok(data: Any) -> JSONResponse:
        # SDK 2.0.4 reads {status, code, data}; SDK 1.0.2 and Node read {success, data}.
        return JSONResponse({"success": True, "status": "success", "code": 200, "data": data})

    @staticmethod
    def _queue_fail(
        status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        body = {
            "success": False, "status": "error", "code": status, "message": message,
            "error": message,
        }
        return JSONResponse(body, status_code=status, headers=headers)

    def _platform_auth(self, request: Request, raw: bytes) -> JSONResponse | None:
        """``x-api-key`` + ``x-secret-key`` (what the SDKs send), or a valid signature."""
        if not _auth.api_key_ok(request, self.credentials):
            return self._fail(401, "Invalid API key")
        if _auth.secret_key_ok(request, self.credentials):
            return None
        if request.headers.get("x-signature") and self._signed(request, raw):
            return None
        return self._fail(401, "Invalid secret key or signature")

    def _signed(self, request: Request, raw: bytes) -> bool:
        return _auth.signature_ok(
            request,
            raw,
            self.credentials,
            now_ms=self._now_ms(),
            window_ms=int(self.signature_window * 1000),
        )

    # ── the platform's API ──────────────────────────────────────────────────────

    async def _create_session(self, request: Request) -> Response:
        try:
            raw = await self._read_body(request)
        except _TooLarge:
            return self._fail(413, "Request body too large")
        if (refused := self._platform_auth(request, raw)) is not None:
            return refused
        try:
            people = parse_session(self._json(raw))
        except BodyError as exc:
            return self._fail(400, exc.errors[0], details=exc.errors)
        now_ms = self._now_ms()
        expires_ms = now_ms + int(self.token_ttl * 1000)
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
        self._state.add(assessment)
        claims = {
            "iss": _JWT_ISSUER,
            "sub": assessment.id,
            "jti": token_id,
            "iat": now_ms // 1000,
            "exp": expires_ms // 1000,
        }
        token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._jwt_key, ["HS256"])
        logger.info(
            "session created: %d candidate(s), token valid %ds",
            len(assessment.candidates), int(self.token_ttl),
        )
        return self._ok({"token": token, "expiresAt": iso_ms(expires_ms)}, headers=_NO_STORE)

    async def _create_campaign(self, request: Request) -> Response:
        try:
            raw = await self._read_body(request)
        except _TooLarge:
            return self._fail(413, "Request body too large")
        if (refused := self._platform_auth(request, raw)) is not None:
            return refused
        try:
            campaign = parse_campaign(self._json(raw))
        except BodyError as exc:
            return self._fail(400, exc.errors[0], details=exc.errors)
        if self.campaign_delay:
            await anyio.sleep(self.campaign_delay)  # the platform generates for 20-30 s
        now = self._clock()
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
        self._state.add(assessment)
        link = _payloads.assessment_url(self._base_url(request), assessment, self.key_id)
        self._state.enqueue(
            _payloads.campaign_generated(assessment, link=link, key_id=self.key_id)
        )
        logger.info(
            "campaign created: method=%s, %d candidate(s); campaign.generated queued",
            campaign.method, len(assessment.candidates),
        )
        return self._ok(
            {
                "workflowId": assessment.workflow_id,
                "assessmentId": assessment.id,
                "campaignId": assessment.id,  # SDK 1.0.0 read this name
                "assessmentLink": link,
                "method": assessment.method,
                "totalQuestions": total_questions,
                "totalMarks": _payloads.TOTAL_MARKS,
                "totalCandidates": len(assessment.candidates),
            }
        )

    async def _list_assessments(self, request: Request) -> Response:
        try:
            raw = await self._read_body(request)
        except _TooLarge:
            return self._fail(413, "Request body too large")
        if not _auth.api_key_ok(request, self.credentials):
            return self._fail(401, "Invalid API key")
        if not self._signed(request, raw):
            return self._fail(401, "Invalid or expired signature")
        base_url = self._base_url(request)
        items = [
            {
                "assessmentId": item.id,
                "type": item.kind,
                "workflowId": item.workflow_id,
                "method": item.method,
                "jobTitle": item.job_title,
                "assessmentLink": _payloads.assessment_url(base_url, item, self.key_id),
                "totalCandidates": len(item.candidates),
                "completedCandidates": len(item.finished),
                "createdAt": iso_ms(int(item.created_at * 1000)),
            }
            for item in self._state.assessments()
            if item.open
        ]
        return self._ok(items)

    def _poll_retry_after(self) -> float:
        if not self.min_poll_interval:
            return 0.0
        now = self._clock()
        last = self._last_poll
        if last is not None and now - last < self.min_poll_interval:
            return self.min_poll_interval - (now - last)
        self._last_poll = now
        return 0.0

    async def _poll_events(self, request: Request) -> Response:
        if not _auth.api_key_ok(request, self.credentials):
            return self._queue_fail(401, "Invalid API key")
        try:
            limit = parse_int(request.query_params.get("limit"), "limit", default=50, minimum=1)
            since = parse_int(request.query_params.get("since"), "since", default=0, minimum=0)
        except BodyError as exc:
            return self._queue_fail(400, exc.errors[0])
        if (wait := self._poll_retry_after()) > 0:
            seconds = max(1, math.ceil(wait))
            return self._queue_fail(
                429,
                f"Polling too frequently: wait {seconds}s between polls",
                headers={"Retry-After": str(seconds)},
            )
        events, pending = self._state.poll(limit=min(limit, 100), since_ms=since)
        return self._queue_ok({"events": events, "pendingCount": pending})

    async def _ack_events(self, request: Request) -> Response:
        if not _auth.api_key_ok(request, self.credentials):
            return self._queue_fail(401, "Invalid API key")
        try:
            raw = await self._read_body(request)
        except _TooLarge:
            return self._queue_fail(413, "Request body too large")
        try:
            event_ids = parse_ack(self._json(raw))
        except BodyError as exc:
            return self._queue_fail(400, exc.errors[0])
        acknowledged = self._state.ack(event_ids)
        logger.info("acknowledged %d of %d event id(s)", acknowledged, len(event_ids))
        return self._queue_ok({"acknowledged": acknowledged})

    # ── the portal ──────────────────────────────────────────────────────────────

    def _open_token(self, token: object) -> Assessment | None:
        if not isinstance(token, str) or not token or len(token) > 4096:
            return None
        try:
            decoded = jwt.decode(token, self._jwt_key, algorithms=["HS256"])
            jwt.JWTClaimsRegistry(
                now=int(self._clock()),
                iss={"essential": True, "value": _JWT_ISSUER},
                sub={"essential": True},
                jti={"essential": True},
                exp={"essential": True},
            ).validate(decoded.claims)
            subject, token_id = str(decoded.claims["sub"]), str(decoded.claims["jti"])
        except Exception:  # any malformed or forged token is just "expired" to the portal
            return None
        return self._state.open_session(subject, token_id)

    async def _token_from(self, request: Request) -> object:
        raw = await self._read_body(request)
        if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            values = parse_qs(raw.decode("utf-8", errors="replace")).get("token")
            return values[0] if values else None
        body = self._json(raw)
        return body.get("token") if isinstance(body, dict) else None

    def _session_view(self, assessment: Assessment, base_url: str) -> dict[str, Any]:
        return {
            "assessmentId": assessment.id,
            "candidates": [c.as_dict() for c in assessment.candidates],
            "totalCandidates": len(assessment.candidates),
            "recruiter": {"id": assessment.recruiter_id, "email": assessment.recruiter_email},
            "assessmentUrl": _payloads.assessment_url(base_url, assessment, self.key_id),
            "expiresAt": iso_ms(int(assessment.expires_at * 1000)),
        }

    async def _portal_open(self, request: Request) -> Response:
        try:
            token = await self._token_from(request)
        except _TooLarge:
            return self._fail(413, "Request body too large")
        except BodyError as exc:
            return self._fail(400, exc.errors[0])
        assessment = self._open_token(token)
        if assessment is None:
            logger.info("portal refused a token (reused, expired or invalid)")
            return self._fail(401, TOKEN_EXPIRED, headers=_NO_STORE)
        logger.info("portal opened a session of %d candidate(s)", len(assessment.candidates))
        return self._ok(self._session_view(assessment, self._base_url(request)))

    async def _portal_view(self, request: Request) -> Response:
        base_url = self._base_url(request)
        headers = {**_NO_STORE, "Referrer-Policy": "no-referrer"}
        if request.method == "GET":
            return HTMLResponse(_pages.index_page(base_url), headers=headers)
        try:
            token = await self._token_from(request)
        except (_TooLarge, BodyError):
            token = None
        assessment = self._open_token(token)
        if assessment is None:
            logger.info("portal refused a token (reused, expired or invalid)")
            return HTMLResponse(
                _pages.error_page(TOKEN_EXPIRED, base_url), status_code=401, headers=headers
            )
        logger.info("portal opened a session of %d candidate(s)", len(assessment.candidates))
        page = _pages.portal_page(assessment, base_url, title="SmartAI assessment portal")
        return HTMLResponse(page, headers=headers)

    async def _portal_json(self, request: Request) -> tuple[dict[str, Any], Assessment]:
        try:
            body = self._json(await self._read_body(request))
        except _TooLarge as exc:
            raise BodyError(["Request body too large"]) from exc
        if not isinstance(body, dict) or not isinstance(body.get("assessmentId"), str):
            raise BodyError(["assessmentId is required"])
        assessment = self._state.get(body["assessmentId"])
        if assessment is None or not assessment.open:
            raise LookupError("Unknown assessment, or its portal was never opened")
        return body, assessment

    async def _portal_complete(self, request: Request) -> Response:
        try:
            body, assessment = await self._portal_json(request)
        except BodyError as exc:
            return self._fail(400, exc.errors[0])
        except LookupError as exc:
            return self._fail(404, str(exc))
        candidate = assessment.candidate(str(body.get("candidateId", "")))
        if candidate is None:
            return self._fail(404, "Unknown candidate for this assessment")
        outcome = body.get("outcome", "completed")
        if outcome not in ("completed", "disqualified"):
            return self._fail(400, 'outcome must be "completed" or "disqualified"')
        score = body.get("score")
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100
        ):
            return self._fail(400, "score must be an integer from 0 to 100")
        event_id = new_event_id()
        if not self._state.mark_finished(assessment.id, candidate.id, event_id):
            return self._fail(409, "This candidate has already finished")
        payload = _payloads.assessment_completed(
            assessment,
            candidate,
            now=self._clock(),
            base_url=self._base_url(request),
            key_id=self.key_id,
            report_id=event_id,
            outcome=str(outcome),
            score=score,
        )
        event = self._state.enqueue(payload, event_id=event_id, keep_report=True)
        logger.info("%s queued", event["event"])
        return self._ok(
            {
                "eventId": event_id,
                "event": event["event"],
                "candidateId": candidate.id,
                "score": event["score"],
                "passed": event["passed"],
                "reportUrl": event["reportUrl"],
            }
        )

    async def _portal_send(self, request: Request) -> Response:
        try:
            _, assessment = await self._portal_json(request)
        except BodyError as exc:
            return self._fail(400, exc.errors[0])
        except LookupError as exc:
            return self._fail(404, str(exc))
        if not self._state.mark_sent(assessment.id):
            return self._fail(409, "This assessment was already sent")
        url = _payloads.assessment_url(self._base_url(request), assessment, self.key_id)
        event = self._state.enqueue(
            _payloads.assessment_sent(assessment, url=url, key_id=self.key_id)
        )
        logger.info("assessment.sent queued")
        return self._ok({"eventId": event["eventId"], "event": event["event"]})

    async def _take(self, request: Request) -> Response:
        assessment = self._state.get(request.path_params["assessment_id"])
        if (
            assessment is None
            or not assessment.open
            or request.path_params["key_id"] != self.key_id
        ):
            raise HTTPException(404, "Unknown assessment")
        page = _pages.portal_page(
            assessment, self._base_url(request), title=f"{assessment.job_title} assessment"
        )
        return HTMLResponse(page, headers=_NO_STORE)

    async def _report(self, request: Request) -> Response:
        event = self._state.report(request.path_params["event_id"])
        if event is None:
            raise HTTPException(404, "Unknown report")
        return HTMLResponse(_pages.report_page(event), headers=_NO_STORE)

    async def _selfie(self, request: Request) -> Response:
        if self._state.report(request.path_params["event_id"]) is None:
            raise HTTPException(404, "Unknown image")
        return Response(_pages.SELFIE_SVG, media_type="image/svg+xml")

    async def _index(self, request: Request) -> Response:
        return HTMLResponse(_pages.index_page(self._base_url(request)))

    async def _sdk_js(self, request: Request) -> Response:
        script = _pages.static_text("sdk.js").replace(
            '"__SANDBOX_BASE_URL__"', json.dumps(self._base_url(request))
        )
        return Response(
            script,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", **_CORS},
        )

    async def _portal_js(self, request: Request) -> Response:
        return Response(
            _pages.static_text("portal.js"),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )
