"""Two customer companies on one deployment, each with its own SmartAI organisation (sandbox mode).

A recruiting product that serves many companies gives each its own platform account. The
example shows the three pieces a host needs:

- the recruiter token names the company: the development sign-in puts its id in the
  ``org_id`` claim (an identity provider does the same: Auth0's ``org_id``, Entra ID's ``tid``);
- a ``resolve_recruiter`` hook copies that claim into ``Recruiter.tenant``;
- a ``keys`` hook that takes the recruiter picks that company's key pair (``TenantKeys``).

So a recruiter of one company creates sessions on that company's organisation only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assessment_asgi import (
    ClaimsRecruiterResolver,
    Credentials,
    HTTPException,
    Recruiter,
    SessionRequest,
    TenantKeys,
)
from assessment_asgi.sandbox import SandboxApp

COMPANY_CLAIM = "org_id"


@dataclass(frozen=True, slots=True)
class Company:
    id: str
    name: str


#: The first is the sandbox's own organisation; each other gets one of its own.
DEMO_COMPANIES: tuple[Company, ...] = (
    Company("acme", "Acme Recruiting"),
    Company("globex", "Globex Talent"),
)


def company_organisations(
    sandbox: SandboxApp, companies: tuple[Company, ...] = DEMO_COMPANIES
) -> dict[str, Credentials]:
    """Each company's key pair on ``sandbox``: the first company uses the sandbox's own
    organisation, the others an organisation added for each."""
    first, *others = companies
    return {first.id: sandbox.credentials, **{c.id: sandbox.add_organisation() for c in others}}


class CompanyRecruiter:
    """``resolve_recruiter``: the signed-in recruiter (as the package's default resolves it),
    of the company named by the token's ``org_id`` claim. A token without one: 403
    ``tenant_required``; a company without keys here: 403 ``tenant_unknown`` (from the keys)."""

    def __init__(self, claim: str = COMPANY_CLAIM) -> None:
        self.claim = claim
        self._signed_in = ClaimsRecruiterResolver()

    def __repr__(self) -> str:
        return f"CompanyRecruiter(claim={self.claim!r})"

    async def __call__(self, principal: Any, body: SessionRequest) -> Recruiter:
        claims: Mapping[str, Any] = principal if isinstance(principal, Mapping) else {}
        company = claims.get(self.claim)
        if not isinstance(company, str) or not company:
            raise HTTPException("tenant_required")
        recruiter = await self._signed_in(principal, body)
        return Recruiter(id=recruiter.id, email=recruiter.email, tenant=company)


def company_keys(organisations: Mapping[str, Credentials]) -> TenantKeys:
    """``keys``: the key pair of the recruiter's company (``None`` for any other: 403)."""
    return TenantKeys(dict(organisations))
