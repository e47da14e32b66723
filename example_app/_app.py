"""The example recruiter app: a Starlette host with ``AssessmentApp`` mounted at ``/assessment``.

Two modes, chosen from the ``ASSESSMENT_*`` settings (environment or ``.env``):

- **sandbox** (none of ``ASSESSMENT_API_KEY``/``ASSESSMENT_SECRET_KEY``/``ASSESSMENT_BASE_URL``
  set): the embedded SmartAI sandbox is mounted at ``/sandbox`` with generated test keys, and
  the page loads its ``AssessmentPortal`` script. No keys, no network. Two companies share
  the deployment, each with its own sandbox organisation (see ``_companies.py``).
- **platform** (all three set): the endpoint talks to that platform; the page loads the
  portal script named by ``ASSESSMENT_PORTAL_SCRIPT_URL``. The development sign-in is off
  here unless ``EXAMPLE_DEV_SIGN_IN=1`` (``dev_sign_in=True``), and then it answers only on
  a loopback address: with real keys it would let anyone create sessions on the platform.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from html import escape
from importlib import resources
from typing import Literal
from urllib.parse import urlsplit

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from assessment_asgi import AssessmentApp, AssessmentSettings, Credentials, SmartAIClient
from assessment_asgi.sandbox import SandboxApp

from ._candidates import DEMO_CANDIDATES, Profile
from ._companies import (
    COMPANY_CLAIM,
    DEMO_COMPANIES,
    CompanyRecruiter,
    company_keys,
    company_organisations,
)
from ._dev_login import DevLogin

logger = logging.getLogger("example_app")

Mode = Literal["sandbox", "platform"]

SANDBOX_PREFIX = "/sandbox"
PORTAL_SCRIPT_VAR = "ASSESSMENT_PORTAL_SCRIPT_URL"
DEV_SIGN_IN_VAR = "EXAMPLE_DEV_SIGN_IN"
_PLATFORM_VARS = ("ASSESSMENT_API_KEY", "ASSESSMENT_SECRET_KEY", "ASSESSMENT_BASE_URL")
# The in-process sandbox is reached through an ASGI transport, never a socket: the host name
# is in the reserved .invalid domain, so nothing could resolve it even by mistake.
_IN_PROCESS_ORIGIN = "http://sandbox.invalid"
_PACKAGE = resources.files(__package__)


def _platform_mode(settings: AssessmentSettings) -> Mode:
    present = {
        "ASSESSMENT_API_KEY": settings.api_key is not None,
        "ASSESSMENT_SECRET_KEY": settings.secret_key is not None,
        "ASSESSMENT_BASE_URL": settings.base_url is not None,
    }
    if not any(present.values()):
        return "sandbox"
    missing = [name for name, ok in present.items() if not ok]
    if missing:
        raise ValueError(
            f"{', '.join(missing)} not set: platform mode needs {', '.join(_PLATFORM_VARS)} "
            "together (unset all three to run on the embedded sandbox)"
        )
    return "platform"


def _shown_url(url: str) -> str:
    # Scheme, host and path only: never anything that could carry a credential.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _template(name: str) -> str:
    return _PACKAGE.joinpath("templates", name).read_text("utf-8")


def _render(name: str, **values: str) -> str:
    """``{{key}}`` placeholders; values are escaped unless the key ends in ``_html``."""
    page = _template(name)
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", value if key.endswith("_html") else escape(value))
    return page


def _candidate_rows(candidates: tuple[Profile, ...]) -> str:
    return "".join(
        f'<tr data-testid="candidate-row">'
        f'<td><input type="checkbox" id="pick-{escape(c.id)}" name="candidate"'
        f' data-testid="candidate-checkbox" value="{escape(c.id)}"'
        f' data-name="{escape(c.name)}" data-email="{escape(c.email)}"></td>'
        f'<td><label for="pick-{escape(c.id)}" data-testid="candidate-name">{escape(c.name)}</label>'
        f'</td><td class="muted">{escape(c.email)}</td><td>{escape(c.role)}</td>'
        f'<td class="muted">{escape(c.location)}</td></tr>'
        for c in candidates
    )


def _company_field(companies: dict[str, str]) -> str:
    if not companies:
        return ""
    options = "".join(
        f'<option value="{escape(cid)}">{escape(name)}</option>' for cid, name in companies.items()
    )
    return (
        '<label for="company">Company</label>'
        f'<select id="company" name="company" data-testid="signin-company">{options}</select>'
    )


def _dev_sign_in_from_env() -> bool:
    value = os.environ.get(DEV_SIGN_IN_VAR, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{DEV_SIGN_IN_VAR} must be 1 or 0, got {value!r}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def create_app(
    *,
    settings: AssessmentSettings | None = None,
    jwt_secret: str | None = None,
    sandbox: SandboxApp | None = None,
    portal_script_url: str | None = None,
    dev_sign_in: bool | None = None,
) -> Starlette:
    """Build the example app.

    ``settings`` defaults to ``AssessmentSettings()`` (environment and ``.env``); the mode
    follows from it. ``jwt_secret`` signs the development-only recruiter tokens (default:
    ``ASSESSMENT_JWT_SECRET``, else random per process). ``sandbox`` replaces the embedded
    sandbox (sandbox mode only; the second demo company gets an organisation added to it).
    ``portal_script_url`` defaults to ``ASSESSMENT_PORTAL_SCRIPT_URL`` in platform mode.
    ``dev_sign_in`` turns the development sign-in on in platform mode (default:
    ``EXAMPLE_DEV_SIGN_IN``; loopback only); it is always on in sandbox mode.
    """
    settings = settings if settings is not None else AssessmentSettings()
    mode = _platform_mode(settings)
    if dev_sign_in is None:
        dev_sign_in = mode == "sandbox" or _dev_sign_in_from_env()
    if sandbox is not None and mode != "sandbox":
        raise ValueError("sandbox= is for sandbox mode: unset the ASSESSMENT_* platform settings")
    if jwt_secret is None:
        configured = settings.jwt_secret
        jwt_secret = (
            configured.get_secret_value() if configured is not None else secrets.token_urlsafe(48)
        )

    client: SmartAIClient | None = None
    routes: list[Route | Mount] = []
    companies: dict[str, str] = {}  # id -> name: the companies recruiters sign in for
    organisations: dict[str, Credentials] = {}
    if mode == "sandbox":
        sandbox = sandbox if sandbox is not None else SandboxApp()
        companies = {company.id: company.name for company in DEMO_COMPANIES}
        organisations = company_organisations(sandbox, DEMO_COMPANIES)
        # In process, not over loopback: the app is built before the server binds its port
        # (tests pick a free one; --host may be any interface), and no platform call can
        # leave the process. The browser reaches the same sandbox through the mount below.
        client = SmartAIClient(
            base_url=SandboxApp.platform_url(_IN_PROCESS_ORIGIN + SANDBOX_PREFIX),
            transport=httpx2.ASGITransport(app=sandbox, root_path=SANDBOX_PREFIX),
            timeout=10.0,
        )
        # The recruiter's company (the token's org_id claim) picks the organisation's keys.
        assessment = AssessmentApp(
            settings=settings, client=client,
            resolve_recruiter=CompanyRecruiter(COMPANY_CLAIM), keys=company_keys(organisations),
            jwt_secret=jwt_secret, jwks_url=None, oidc_issuer=None, jwt_algorithms=("HS256",),
        )
        script_url = SandboxApp.portal_script_url(SANDBOX_PREFIX)
        logger.info(
            "mode=sandbox: embedded SmartAI sandbox at %s with generated test keys "
            "(in memory, no network, no real emails); companies %s, one organisation each",
            SANDBOX_PREFIX, ", ".join(companies.values()),
        )
    else:
        assessment = AssessmentApp(
            settings=settings, jwt_secret=jwt_secret, jwks_url=None, oidc_issuer=None,
            jwt_algorithms=("HS256",),
        )
        script_url = (portal_script_url or os.environ.get(PORTAL_SCRIPT_VAR, "")).strip()
        logger.info(
            "mode=platform: sessions are created on %s; development sign-in %s",
            _shown_url(settings.base_url or ""),
            "ON (loopback connections only)" if dev_sign_in else
            f"off (set {DEV_SIGN_IN_VAR}=1 to turn it on, loopback only)",
        )
        if not script_url:
            logger.warning(
                "%s is not set: sessions are created but the page cannot open the portal",
                PORTAL_SCRIPT_VAR,
            )

    login = DevLogin(
        secret=jwt_secret, loopback_only=mode == "platform", companies=companies,
        company_claim=COMPANY_CLAIM,
    ) if dev_sign_in else None
    script_origin = _origin(script_url)
    csp = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {script_origin}".strip(),
            f"frame-src 'self' {script_origin}".strip(),
            f"form-action 'self' {script_origin}".strip(),
            "connect-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    page_headers = {"Cache-Control": "no-store", "Content-Security-Policy": csp}
    if mode == "sandbox":
        banner = (
            "Sandbox mode: sessions are created on the embedded SmartAI sandbox with generated "
            "test keys, on the organisation of the recruiter's company. Nothing leaves this "
            "machine; no real emails are sent."
        )
    else:
        banner = (
            f"Platform mode: sessions are created on {_shown_url(settings.base_url or '')}."
        )
    script_html = (
        f'<script src="{escape(script_url)}"></script>' if script_url else ""
    )

    async def sign_in(request: Request) -> Response:
        if login is None:
            page = _render("signin_off.html", banner=banner, variable=DEV_SIGN_IN_VAR)
            return HTMLResponse(page, headers=page_headers)
        page = _render("signin.html", banner=banner, company_field_html=_company_field(companies))
        return HTMLResponse(page, headers=page_headers)

    async def candidates(request: Request) -> Response:
        page = _render(
            "candidates.html",
            banner=banner,
            mode=mode,
            rows_html=_candidate_rows(DEMO_CANDIDATES),
            portal_script_html=script_html,
        )
        return HTMLResponse(page, headers=page_headers)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes += [
        Route("/", sign_in, methods=["GET"]),
        Route("/candidates", candidates, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(_PACKAGE.joinpath("static"))), name="static"),
        Mount("/assessment", assessment),
    ]
    if login is not None:
        routes.append(Route("/login", login.endpoint, methods=["POST"]))
    if mode == "sandbox":
        routes.append(Mount(SANDBOX_PREFIX, sandbox))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await assessment.aclose()
            if client is not None:
                await client.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.mode = mode
    app.state.assessment = assessment
    app.state.sandbox = sandbox
    app.state.organisations = organisations  # company id -> its organisation's keys (sandbox)
    app.state.portal_script_url = script_url
    app.state.dev_sign_in = dev_sign_in
    app.state.platform = (
        f"embedded SmartAI sandbox at {SANDBOX_PREFIX} (generated test keys, in memory; "
        f"companies {', '.join(companies.values())}, one organisation each)"
        if mode == "sandbox" else f"SmartAI platform at {_shown_url(settings.base_url or '')}"
    )
    return app
