"""DEVELOPMENT-ONLY sign-in: anyone who can reach the app gets a recruiter token.

There is no password and no user database: ``POST /login`` with a name and an email answers
an HS256 recruiter JWT signed with the app's secret. It exists so the example runs with no
identity provider. A real app issues these tokens from its own login (or lets an identity
provider do it, and configures ``ASSESSMENT_JWKS_URL`` / ``ASSESSMENT_OIDC_ISSUER``).

So it is on by default only on the sandbox. Against a real platform it is off unless
``EXAMPLE_DEV_SIGN_IN=1``, and even then it answers only connections that reached the app
on a loopback address and carry no proxy headers (``loopback_only``): a reverse proxy on the
same host reaches the app over loopback too, on behalf of anyone.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.requests import Request
from starlette.responses import JSONResponse

from assessment_asgi._capped import BadLength, OverCap, read_capped
from assessment_asgi.sandbox._bind import is_loopback

TOKEN_LIFETIME = 3600  # seconds; long enough to play with the demo
MAX_BODY = 4096  # {name, email} fits many times over
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})\.[A-Za-z]{2,63}$")
_NO_STORE = {"Cache-Control": "no-store"}
# Headers a reverse proxy adds: a request carrying any came through one, from anywhere.
_PROXY_HEADERS = ("forwarded", "x-real-ip")
_PROXY_PREFIX = "x-forwarded-"


def _proxied(request: Request) -> bool:
    return any(
        name in _PROXY_HEADERS or name.startswith(_PROXY_PREFIX)
        for name in request.headers.keys()  # noqa: SIM118 - every raw name, repeats included
    )


def recruiter_id(email: str) -> str:
    """A stable id per email, so the same demo recruiter keeps the same ``sub``."""
    return "rec_" + hashlib.sha256(email.lower().encode()).hexdigest()[:12]


def _refuse(message: str, code: str, status: int = 400) -> JSONResponse:
    # The same envelope as AssessmentApp, so the page shows both kinds of error alike.
    return JSONResponse(
        {"success": False, "error": message, "code": code}, status_code=status, headers=_NO_STORE
    )


class DevLogin:
    """``POST /login`` ``{name, email, company?}`` → ``{success, data: {token, expiresAt,
    recruiter}}``.

    With ``companies`` (id → name) the token names the recruiter's company in the
    ``company_claim`` claim; ``company`` defaults to the first one.
    """

    def __init__(
        self,
        *,
        secret: str,
        loopback_only: bool = False,
        companies: Mapping[str, str] | None = None,
        company_claim: str = "org_id",
    ) -> None:
        self._key = OctKey.import_key(secret.encode())
        self._loopback_only = loopback_only
        self._companies = dict(companies or {})
        self._company_claim = company_claim

    def __repr__(self) -> str:
        return (f"DevLogin(secret='**********', loopback_only={self._loopback_only}, "
                f"companies={sorted(self._companies)!r})")

    def issue(
        self, *, name: str, email: str, company: str | None = None, now: float | None = None
    ) -> tuple[str, int]:
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "sub": recruiter_id(email),
            "email": email,
            "name": name,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
            "dev_only": True,  # marks a token from this demo login, should one ever leak
        }
        if company is not None:
            claims[self._company_claim] = company
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._key, ["HS256"]), issued

    async def endpoint(self, request: Request) -> JSONResponse:
        server = request.scope.get("server")
        if self._loopback_only and not (server and is_loopback(str(server[0]))):
            # The address the connection reached, not a header: a remote caller cannot fake it.
            return _refuse(
                "The development sign-in answers on a loopback address only", "forbidden", 403
            )
        if self._loopback_only and _proxied(request):
            # Loopback, but through a proxy on this host: the caller may be anyone.
            return _refuse(
                "The development sign-in does not answer through a proxy "
                "(the request carries Forwarded or X-Forwarded-* headers)",
                "forbidden",
                403,
            )
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _refuse("Send JSON (Content-Type: application/json)",
                           "unsupported_media_type", 415)
        try:
            raw = await read_capped(request.stream(), MAX_BODY, request.headers.get("content-length"))
        except OverCap:
            return _refuse(f"The request body is over {MAX_BODY} bytes", "body_too_large", 413)
        except BadLength:
            return _refuse("Invalid Content-Length", "invalid_body")
        try:
            body = json.loads(raw)
        except ValueError:
            return _refuse("The request body is not valid JSON", "invalid_json")
        if not isinstance(body, dict):
            return _refuse("Send {name, email}", "invalid_body")
        name, email = body.get("name"), body.get("email")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            return _refuse("Enter your name (up to 100 characters)", "invalid_name")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            return _refuse("Enter a valid email address", "invalid_email")
        name, email = name.strip(), email.strip()
        recruiter: dict[str, Any] = {"id": recruiter_id(email), "name": name, "email": email}
        company = None
        if self._companies:
            company = body.get("company", next(iter(self._companies)))
            if not isinstance(company, str) or company not in self._companies:
                return _refuse("Choose one of the companies", "invalid_company")
            recruiter["company"] = {"id": company, "name": self._companies[company]}
        token, issued = self.issue(name=name, email=email, company=company)
        expires = datetime.fromtimestamp(issued + TOKEN_LIFETIME, UTC)
        return JSONResponse(
            {
                "success": True,
                "data": {
                    "token": token,
                    "expiresAt": expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "recruiter": recruiter,
                },
            },
            headers=_NO_STORE,
        )
