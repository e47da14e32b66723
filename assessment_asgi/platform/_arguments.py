"""Checks of the client's arguments: plain values in, clear `ValueError`/`TypeError` out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast


def text(value: object, setting: str) -> str:
    if type(value) is str and value and not value.isspace():  # the common case, first
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{setting} must be a non-empty string")
    return value


def optional_text(value: object, setting: str) -> str | None:
    if value is None:
        return None
    return text(value, setting)


def _user(entry: object, index: int) -> dict[str, str]:
    if type(entry) is dict or isinstance(entry, Mapping):
        name, email = entry.get("name"), entry.get("email")
    else:
        name, email = getattr(entry, "name", None), getattr(entry, "email", None)
    return {
        "name": text(name, f"users[{index}].name"),
        "email": text(email, f"users[{index}].email"),
    }


def _users(users: object) -> list[dict[str, str]]:
    plain = type(users) is list  # the common case, without the abstract-class checks
    if not plain and (isinstance(users, str | bytes | Mapping) or not isinstance(users, Iterable)):
        raise TypeError("users must be a sequence of {name, email} entries")
    result = [_user(entry, index) for index, entry in enumerate(cast("Iterable[Any]", users))]
    if not result:
        raise ValueError("users must not be empty")
    return result


def candidates(users: Sequence[Any] | None, name: str | None, email: str | None) -> dict[str, Any]:
    if users is not None:
        if name is not None or email is not None:
            raise ValueError("pass users (bulk mode) or name and email, not both")
        return {"users": _users(users)}
    return {"name": text(name, "name"), "email": text(email, "email")}
