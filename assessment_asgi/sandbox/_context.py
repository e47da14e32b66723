"""What every sandbox route shares: settings, the organisations, the token key, the clock."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.requests import Request

from ..platform._credentials import Credentials
from ._http import server_url
from ._state import Assessment, SandboxState

_ISSUER = "smartai-sandbox"


@dataclass(slots=True)
class Organisation:
    """One platform account: its key pair and everything created with it."""

    credentials: Credentials
    state: SandboxState
    key_id: str  # what its events carry as keyId
    org_id: str  # what its events carry as orgId
    last_poll: float | None = None


@dataclass(slots=True)
class SandboxContext:
    organisations: list[Organisation]
    clock: Callable[[], float]
    token_ttl: float
    min_poll_interval: float
    signature_window: float
    campaign_delay: float
    max_body_bytes: int
    public_url: str | None = None
    # Per sandbox: tokens of one sandbox never open another's portal.
    _token_key: OctKey = field(
        default_factory=lambda: OctKey.import_key(secrets.token_bytes(32)), repr=False
    )

    def by_api_key(self, api_key: str | None) -> Organisation | None:
        """The organisation holding this API key; every key compared, in constant time."""
        if not api_key:
            return None
        found = None
        for org in list(self.organisations):
            expected = org.credentials.api_key.get_secret_value()
            if hmac.compare_digest(api_key.encode(), expected.encode()):
                found = org
        return found

    def find(self, assessment_id: str) -> tuple[Organisation, Assessment] | None:
        """The organisation an assessment belongs to, and the assessment."""
        for org in list(self.organisations):
            if (assessment := org.state.get(assessment_id)) is not None:
                return org, assessment
        return None

    def open_session(
        self, assessment_id: str, token_id: str
    ) -> tuple[Organisation, Assessment] | None:
        """Open a session once, in whichever organisation holds it."""
        for org in list(self.organisations):
            if (assessment := org.state.open_session(assessment_id, token_id)) is not None:
                return org, assessment
        return None

    def states(self) -> Iterator[SandboxState]:
        """Every organisation's memory."""
        return (org.state for org in list(self.organisations))

    def base_url(self, request: Request) -> str:
        """Where links in events and pages point: the configured public URL, else the address
        the connection reached — never the client's `Host` header."""
        return self.public_url or server_url(request)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def issue_token(self, assessment_id: str, token_id: str, *, iat: int, exp: int) -> str:
        """A session token: an HS256 JWT naming its session, with an expiry."""
        claims = {"iss": _ISSUER, "sub": assessment_id, "jti": token_id, "iat": iat, "exp": exp}
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._token_key, ["HS256"])

    def read_token(self, token: object) -> tuple[str, str] | None:
        """`(session id, token id)` of a genuine, unexpired token, else None."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            return None
        try:
            decoded = jwt.decode(token, self._token_key, algorithms=["HS256"])
            jwt.JWTClaimsRegistry(
                now=int(self.clock()),
                iss={"essential": True, "value": _ISSUER},
                sub={"essential": True},
                jti={"essential": True},
                exp={"essential": True},
            ).validate(decoded.claims)
            return str(decoded.claims["sub"]), str(decoded.claims["jti"])
        except Exception:  # malformed, forged or expired: all "Token expired" to the portal
            return None
