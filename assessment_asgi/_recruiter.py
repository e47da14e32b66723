"""The default `resolve_recruiter` hook: the recruiter is whoever signed in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._exceptions import HTTPException
from ._models import Recruiter, SessionRequest
from ._tenants import valid_tenant


class ClaimsRecruiterResolver:
    """Takes the recruiter from the principal's claims; the body may repeat, never contradict.

    `recruiterId` comes from the `id_claim` (`sub` by default) and `recruiterEmail`
    from the `email_claim`. A body field that differs from the token answers 403
    `recruiter_mismatch`; a body field the token does not carry is refused too, since
    nothing in the body is trusted to name a recruiter. With neither: 400, as the docs say.

    With `tenant_claim` (`ASSESSMENT_TENANT_CLAIM`) the recruiter's `tenant` is that claim;
    a token without it, or with one that is not a string of 1-128 printable characters,
    answers 403 `tenant_required`:

    ```python
    AssessmentApp(resolve_recruiter=ClaimsRecruiterResolver(id_claim="recruiter_id"))
    ```
    """

    def __init__(
        self, *, id_claim: str = "sub", email_claim: str = "email", tenant_claim: str | None = None
    ) -> None:
        if not id_claim or not email_claim:
            raise ValueError("id_claim and email_claim must be non-empty claim names")
        if tenant_claim == "":
            raise ValueError("tenant_claim must be a non-empty claim name, or None")
        # Async although it only reads memory: awaited inline, never sent to the thread pool.
        self.id_claim = id_claim
        self.email_claim = email_claim
        self.tenant_claim = tenant_claim

    def __repr__(self) -> str:
        tenant = f", tenant_claim={self.tenant_claim!r}" if self.tenant_claim else ""
        return (f"ClaimsRecruiterResolver(id_claim={self.id_claim!r}, "
                f"email_claim={self.email_claim!r}{tenant})")

    async def __call__(self, principal: Any, body: SessionRequest) -> Recruiter:
        claims: Mapping[str, Any] = principal if isinstance(principal, Mapping) else {}
        tenant = None if self.tenant_claim is None else tenant_of(claims.get(self.tenant_claim))
        token_id = _claim(claims, self.id_claim)
        token_email = _claim(claims, self.email_claim)
        if body.recruiter_id is not None and body.recruiter_id != token_id:
            raise HTTPException("recruiter_mismatch")
        if body.recruiter_email is not None and (
            token_email is None or body.recruiter_email.lower() != token_email.lower()
        ):
            raise HTTPException("recruiter_mismatch")
        if token_id is None and token_email is None:
            raise HTTPException("recruiter_required")
        return Recruiter(id=token_id, email=token_email, tenant=tenant)


def tenant_of(value: object) -> str:
    """A tenant claim as it is, if it is one: a string of 1-128 printable characters."""
    if not valid_tenant(value):
        raise HTTPException("tenant_required")
    return str(value)


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
