"""The request body of `POST /session` and the values the hooks exchange."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)

from ._email import MAX_EMAIL_LENGTH, validate_email

# Built once: ``json.dumps`` with options builds a new encoder on every call.
_SCOPE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Hard ceilings of the model itself; the app's configurable limits (``max_users``,
# ``max_body_bytes``) are lower and checked before anything is forwarded.
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 128
MAX_WORKFLOW_ID_LENGTH = 128
HARD_MAX_USERS = 10_000

# Bidirectional overrides and isolates reorder what follows them: "Ada\u202egpj.exe" reads
# as "Adaexe.jpg" in the emails and pages the platform builds from names.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Categories that draw nothing on their own: format characters (zero-width space, word
# joiner, BOM...), separators, combining marks, private use and unassigned code points.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols that render as blank space.
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# A letter or digit that is not blank: found by the regex engine, it settles nearly every name.
_LETTER = re.compile("[^\\W_\u115f\u1160\u3164\uffa0]")


def _readable_name(value: str) -> str:
    if value.isascii():  # stripped, no control characters: something visible is left
        return value
    if not _BIDI_CONTROLS.isdisjoint(value):
        raise ValueError("must not contain bidirectional override or isolate characters")
    if _LETTER.search(value) is None and not any(
        char not in _BLANK_CHARACTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in value
    ):
        raise ValueError("must contain a visible character")
    return value


# No control characters (CR/LF above all): the platform puts names into emails. At least
# one visible character, and nothing that reorders the text around it.
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH,
        pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$",
    ),
    AfterValidator(_readable_name),
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

# A platform workflow id: short and printable ASCII, so it cannot smuggle anything.
WorkflowId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_WORKFLOW_ID_LENGTH, pattern=r"^[\x21-\x7e]+$"),
]


class Candidate(BaseModel):
    """One candidate to invite: a non-empty name and a valid email."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Name
    email: Email


class SessionRequest(BaseModel):
    """The body of `POST /session`, as the platform docs define it.

    Unknown fields are refused (400), so nothing unexpected is ever forwarded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    users: Annotated[list[Candidate], Field(max_length=HARD_MAX_USERS)]
    recruiter_id: Identifier | None = Field(default=None, alias="recruiterId")
    recruiter_email: Email | None = Field(default=None, alias="recruiterEmail")
    workflow_id: WorkflowId | None = Field(default=None, alias="workflowId")


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Field errors fit for a 400: where (`["users", 0, "email"]`) and which rule, never what
    was sent. An unknown field is named by its position only (`"unknown field"`): its key is
    input too."""
    details: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = list(error["loc"])
        if error["type"] == "extra_forbidden":
            details.append({"loc": loc[:-1], "msg": "unknown field", "type": error["type"]})
            continue
        msg = error["msg"]
        if error["type"] == "value_error":
            # Our validators' reasons (see _email.py) never quote the value; pydantic's
            # prefix adds nothing for a caller.
            msg = msg.removeprefix("Value error, ")
        details.append({"loc": loc, "msg": msg, "type": error["type"]})
    return details


@dataclass(frozen=True, slots=True)
class Recruiter:
    """On whose behalf a session is created: an id, an email, or both; and, in a deployment
    that serves many customer organisations, the `tenant` (organisation) it belongs to.

    `rec_1` of tenant `acme` and `rec_1` of tenant `globex` are two recruiters:
    everything scoped per recruiter (rate limits, idempotency keys) is scoped by `scope`:

    ```python
    Recruiter(id="rec_1", email="ada@acme.test", tenant="acme")
    ```
    """

    id: str | None = None
    email: str | None = None
    tenant: str | None = None

    def __post_init__(self) -> None:
        if not self.id and not self.email:
            raise ValueError("a Recruiter needs an id or an email")

    @property
    def scope(self) -> str:
        """Who this recruiter is, as one stable string: the tenant and the id (the email,
        lower-cased, only when there is no id). The email as written never splits one
        recruiter in two, and two recruiters sharing an email never share a scope."""
        ident = ["id", self.id] if self.id else ["email", (self.email or "").lower()]
        return _SCOPE_JSON.encode([self.tenant, *ident])

    def __repr__(self) -> str:
        # Emails are personal data: kept out of reprs (and so out of logs and tracebacks).
        return (
            f"Recruiter(id={self.id!r}, email={'***' if self.email else None}, "
            f"tenant={self.tenant!r})"
        )
