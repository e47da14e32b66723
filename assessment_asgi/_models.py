"""The request body of ``POST /session`` and the values the hooks exchange."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints

# Hard ceilings of the model itself; the app's configurable limits (``max_users``,
# ``max_body_bytes``) are lower and checked before anything is forwarded.
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_ID_LENGTH = 128
HARD_MAX_USERS = 10_000

# No control characters (CR/LF above all): the platform puts names into emails.
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH,
        pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$",
    ),
]
# A bare address only: no "Name <addr>" form, no lists, no whitespace or header breaks.
_NOT_BARE = re.compile(r"[\s<>,;\x00-\x1f\x7f]")


def _bare_address(value: object) -> object:
    if isinstance(value, str) and _NOT_BARE.search(value):
        raise ValueError("must be a bare email address (no spaces, <>, commas or line breaks)")
    return value


Email = Annotated[
    EmailStr, BeforeValidator(_bare_address), StringConstraints(max_length=MAX_EMAIL_LENGTH)
]
Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class Candidate(BaseModel):
    """One candidate to invite: a non-empty name and a valid email."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Name
    email: Email


class SessionRequest(BaseModel):
    """The body of ``POST /session``, as the platform docs define it.

    Unknown fields are refused (400), so nothing unexpected is ever forwarded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    users: Annotated[list[Candidate], Field(max_length=HARD_MAX_USERS)]
    recruiter_id: Identifier | None = Field(default=None, alias="recruiterId")
    recruiter_email: Email | None = Field(default=None, alias="recruiterEmail")


@dataclass(frozen=True, slots=True)
class Recruiter:
    """On whose behalf a session is created: an id, an email, or both."""

    id: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        if not self.id and not self.email:
            raise ValueError("a Recruiter needs an id or an email")

    def __repr__(self) -> str:
        # Emails are personal data: kept out of reprs (and so out of logs and tracebacks).
        return f"Recruiter(id={self.id!r}, email={'***' if self.email else None})"
