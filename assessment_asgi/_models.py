"""The request body of ``POST /session`` and the values the hooks exchange."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from ._email import MAX_EMAIL_LENGTH, validate_email

# Hard ceilings of the model itself; the app's configurable limits (``max_users``,
# ``max_body_bytes``) are lower and checked before anything is forwarded.
MAX_NAME_LENGTH = 200
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
Email = Annotated[
    str,
    StringConstraints(max_length=MAX_EMAIL_LENGTH),
    AfterValidator(validate_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": MAX_EMAIL_LENGTH}),
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
