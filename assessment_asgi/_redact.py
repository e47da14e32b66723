"""Tracebacks for the log with every secret the app knows about taken out.

An internal error is logged with its stack so it can be fixed, but exception messages are
written by hooks and libraries that may quote what they were given: the recruiter's bearer
token, the platform keys, the JWT secret or a Redis password. Those values are replaced by
``[redacted]`` before anything reaches a log handler.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from pydantic import SecretStr

from ._settings import AssessmentSettings
from ._types import Scope

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values would redact ordinary words; secrets are never this short


def known_secrets(settings: AssessmentSettings, scope: Scope | None = None) -> list[str]:
    """Secret values of the settings, and the request's credentials headers."""
    values: list[str] = []
    for _name, value in settings:
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
    if scope is not None:
        for key, raw in scope.get("headers", ()):
            if key in {b"authorization", b"cookie", b"x-api-key", b"x-secret-key"}:
                text = bytes(raw).decode("latin-1")
                values.append(text)
                values.extend(text.split())
    return values


def redact(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a token is not half-replaced by one of its own parts.
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redacted_traceback(exc: BaseException, secrets: Iterable[str]) -> str:
    """The formatted traceback of ``exc`` (causes included), secrets replaced."""
    return redact("".join(traceback.format_exception(exc)), secrets)
