"""Typed results of the SmartAI operations.

Every model keeps fields it does not know (`extra="allow"`), so a platform that adds a
field never breaks a caller; `model_extra` holds them under their wire names.
`repr()` shows identifiers only: never tokens, names, emails or answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

_CONFIG = ConfigDict(
    extra="allow",
    populate_by_name=True,
    alias_generator=to_camel,
    frozen=True,
)


class _Result(BaseModel):
    model_config = _CONFIG

    def __repr_args__(self) -> Any:
        # Extra fields may hold anything the platform sends (names, emails): not in repr.
        for name, value in super().__repr_args__():
            if name is not None and name in type(self).model_fields:
                yield name, value


class SessionToken(_Result):
    """The platform's answer to create-session: a single-use portal token.

    `repr()` hides the token:

    ```python
    tok = await client.create_session(users=[...], recruiter_id="r1")
    portal_payload = {"token": tok.token, "expiresAt": tok.expires_at}
    ```
    """

    token: str = Field(repr=False)
    expires_at: str


class Campaign(_Result):
    """A generated campaign (SDK 1.0.0 platforms send `campaign_id` instead of totals)."""

    workflow_id: str | None = None
    assessment_id: str | None = None
    assessment_link: str | None = None
    method: str | None = None
    total_questions: int | None = None
    total_marks: float | None = None
    total_candidates: int | None = None
    campaign_id: str | None = None


class Assessment(_Result):
    """One assessment of `list_assessments` (shape undocumented: identifiers typed only)."""

    id: str | None = Field(default=None, validation_alias=AliasChoices("id", "_id"))
    assessment_id: str | None = None


class Event(_Result):
    """One queued event (`assessment.completed`, `assessment.sent`, ...).

    Typed fields cover the documented ones; everything else is in `model_extra`.
    Candidate data is left out of `repr()`.
    """

    event_id: str
    event: str = ""
    stored_at: str | int | float | None = None
    assessment_id: str | None = None
    key_id: str | None = Field(default=None, repr=False)
    org_id: str | None = Field(default=None, repr=False)
    candidate_id: str | None = Field(default=None, repr=False)
    candidate_name: str | None = Field(default=None, repr=False)
    candidate_email: str | None = Field(default=None, repr=False)
    score: float | None = Field(default=None, repr=False)
    total_marks: float | None = Field(default=None, repr=False)
    pass_marks: float | None = Field(default=None, repr=False)
    passed: bool | None = Field(default=None, repr=False)
    status: str | None = None
    submitted_at: str | None = Field(default=None, repr=False)
    report_url: str | None = Field(default=None, repr=False)

    @property
    def type(self) -> str:
        """The event's type, e.g. `"assessment.completed"`."""
        return self.event

    def payload(self) -> dict[str, Any]:
        """The event as the platform sent it (camelCase keys, unknown fields included)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class InvalidEvent(_Result):
    """A queued event that does not fit `Event`: its id, type and the failing fields.

    Field names are wire names (`"score"`); no value is kept outside `payload`, which
    holds the event as sent and is left out of `repr()`. `event_id` is None when the
    event has no usable `eventId` (blank, missing, null or not a string): such an event
    can never be acknowledged:

    ```python
    def on_invalid(bad: InvalidEvent) -> None:
        dead_letters.append(bad.payload)     # e.g. {"eventId": ..., "score": "n/a"}
    ```
    """

    event_id: str | None = None
    event: str = ""
    fields: tuple[str, ...] = ()
    payload: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def type(self) -> str:
        """The event's type as sent (empty when the type itself is not a string)."""
        return self.event

    @classmethod
    def without_id(cls, raw: object) -> InvalidEvent:
        """An event with no usable `eventId` (blank, missing, null, not a string, not an object)."""
        payload = {str(k): v for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        kind = payload.get("event")
        kind = kind if isinstance(kind, str) else ""
        return cls(event_id=None, event=kind, fields=("eventId",), payload=payload)


class EventBatch(_Result):
    """One poll of the queue: up to `limit` events and how many are still pending.

    `invalid` lists events that did not fit `Event`, or had no usable `eventId`:
    one bad event never hides the rest of the batch.
    """

    events: list[Event] = Field(default_factory=list)
    invalid: list[InvalidEvent] = Field(default_factory=list)
    pending_count: int = 0


class AckResult(_Result):
    """How many events the platform removed (already-acknowledged ids count as 0)."""

    acknowledged: int = 0

