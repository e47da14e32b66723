"""Body checks, as the platform makes them: a list of readable messages, or the values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .._numbers import ascii_int

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_USERS = 1000
# Field caps as the platform's models would have them (and as this package's own request
# model has them): a 1 MB "name" is refused, not stored.
MAX_LENGTHS = {
    "name": 200, "email": 254, "candidateId": 128, "id": 128, "recruiterId": 128,
    "recruiterEmail": 254, "workflowId": 128, "jobTitle": 200, "jobDescription": 5000,
    "experience": 100, "level": 50,
}
METHODS = ("programming", "knowledge")


class BodyError(Exception):
    """The body is not what the platform accepts; `errors` are readable messages."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0])
        self.errors = errors


@dataclass(slots=True)
class People:
    users: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, email, id
    recruiter_id: str | None = None
    recruiter_email: str | None = None
    workflow_id: str | None = None


def _text(body: dict[str, Any], key: str, errors: list[str], *, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            errors.append(f"{key} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors.append(f"{key} must be a string")
        return None
    text = str(value).strip()
    limit = MAX_LENGTHS.get(key, 200)
    if len(text) > limit:
        errors.append(f"{key} must be at most {limit} characters")
        return None
    if not text and required:
        errors.append(f"{key} is required")
        return None
    return text or None


def _person(item: Any, where: str, errors: list[str]) -> tuple[str, str, str | None] | None:
    if not isinstance(item, dict):
        errors.append(f"{where} must be an object with name and email")
        return None
    local: list[str] = []
    name = _text(item, "name", local, required=True)
    email = _text(item, "email", local, required=True)
    candidate_id = _text(item, "candidateId", local, required=False) or _text(
        item, "id", local, required=False
    )
    if email is not None and not _EMAIL.match(email):
        local.append("email must be a valid email address")
    errors.extend(f"{where}: {message}" if where else message for message in local)
    if local or name is None or email is None:
        return None
    return name, email, candidate_id


def _people(body: dict[str, Any], errors: list[str]) -> list[tuple[str, str, str | None]]:
    """Bulk `users` wins over single `name`/`email`/`candidateId`, as in the SDKs."""
    if "users" in body and body["users"] is not None:
        users = body["users"]
        if not isinstance(users, list) or not users:
            errors.append("users must be a non-empty array")
            return []
        if len(users) > MAX_USERS:
            errors.append(f"users must have at most {MAX_USERS} entries")
            return []
        found = [_person(item, f"users[{i}]", errors) for i, item in enumerate(users)]
        return [person for person in found if person is not None]
    person = _person(body, "", errors)
    return [] if person is None else [person]


def _recruiter(body: dict[str, Any], errors: list[str]) -> tuple[str | None, str | None]:
    recruiter_id = _text(body, "recruiterId", errors, required=False)
    recruiter_email = _text(body, "recruiterEmail", errors, required=False)
    if recruiter_id is None and recruiter_email is None:
        errors.append("Provide at least one of recruiterId or recruiterEmail")
    return recruiter_id, recruiter_email


def parse_session(body: Any) -> People:
    if not isinstance(body, dict):
        raise BodyError(["Request body must be a JSON object"])
    errors: list[str] = []
    people = People(users=_people(body, errors))
    people.recruiter_id, people.recruiter_email = _recruiter(body, errors)
    people.workflow_id = _text(body, "workflowId", errors, required=False)
    if errors:
        raise BodyError(errors)
    return people


@dataclass(slots=True)
class Campaign:
    people: People
    method: str
    job_title: str | None
    job_description: str | None
    experience: str | None
    level: str | None


def parse_campaign(body: Any) -> Campaign:
    if not isinstance(body, dict):
        raise BodyError(["Request body must be a JSON object"])
    errors: list[str] = []
    workflow_id = _text(body, "workflowId", errors, required=True)
    method = body.get("method")
    if method not in METHODS:
        errors.append('method must be "programming" or "knowledge"')
    people = People(users=_people(body, errors), workflow_id=workflow_id)
    campaign = Campaign(
        people=people,
        method=str(method),
        job_title=_text(body, "jobTitle", errors, required=False),
        job_description=_text(body, "jobDescription", errors, required=False),
        experience=_text(body, "experience", errors, required=False),
        level=_text(body, "level", errors, required=False),
    )
    if errors:
        raise BodyError(errors)
    return campaign


def parse_ack(body: Any) -> list[str]:
    ids = body.get("eventIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids:
        raise BodyError(["eventIds must be a non-empty array"])
    if len(ids) > 100:
        raise BodyError(["eventIds must have at most 100 entries"])
    if not all(isinstance(item, str) and item for item in ids):
        raise BodyError(["eventIds must be strings"])
    return list(ids)


def parse_int(value: str | None, name: str, *, default: int, minimum: int) -> int:
    if value is None or value == "":
        return default
    number = ascii_int(value, max_digits=16)
    if number is None:
        raise BodyError([f"{name} must be a non-negative integer"])
    if number < minimum:
        raise BodyError([f"{name} must be at least {minimum}"])
    return number
