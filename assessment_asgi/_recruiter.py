"""The default ``resolve_recruiter`` hook: the recruiter is whoever signed in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._exceptions import HTTPException
from ._models import Recruiter, SessionRequest


class ClaimsRecruiterResolver:
    """Takes the recruiter from the principal's claims; the body may repeat, never contradict.

    ``recruiterId`` comes from the ``id_claim`` (``sub`` by default) and ``recruiterEmail``
    from the ``email_claim``. A body field that differs from the token answers 403
    ``recruiter_mismatch``; a body field the token does not carry is refused too, since
    nothing in the body is trusted to name a recruiter. With neither: 400, as the docs say::

        AssessmentApp(resolve_recruiter=ClaimsRecruiterResolver(id_claim="recruiter_id"))
    """

    def __init__(self, *, id_claim: str = "sub", email_claim: str = "email") -> None:
        if not id_claim or not email_claim:
            raise ValueError("id_claim and email_claim must be non-empty claim names")
        # Async although it only reads memory: awaited inline, never sent to the thread pool.
        self.id_claim = id_claim
        self.email_claim = email_claim

    def __repr__(self) -> str:
        return f"ClaimsRecruiterResolver(id_claim={self.id_claim!r}, email_claim={self.email_claim!r})"

    async def __call__(self, principal: Any, body: SessionRequest) -> Recruiter:
        claims: Mapping[str, Any] = principal if isinstance(principal, Mapping) else {}
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
        return Recruiter(id=token_id, email=token_email)


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
