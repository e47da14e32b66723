"""Tracebacks for the log that cannot carry a secret.

An internal error is logged with its stack so it can be fixed. Exception *messages* are
written by hooks and libraries that may quote what they were given — the recruiter's bearer
token, the platform keys (a secrets manager's error, say), the JWT secret, a Redis password —
and the app cannot know every such value, so messages are withheld: the log keeps each
exception's type and every frame (file, line, function, source line). Secret values the app
does know are also replaced by `[redacted]` in what remains.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

REDACTED = "[redacted]"
WITHHELD = "(message withheld: it may quote secrets)"
_MIN_SECRET = 6  # shorter values would redact ordinary words; secrets are never this short


def known_secrets(
    settings: Iterable[tuple[str, object]], scope: Mapping[str, Any] | None = None
) -> list[str]:
    """Secret values of the settings (its `(name, value)` pairs: a leaf imports no settings
    class), and the request's credentials headers."""
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


def redact(text: str, secrets: Iterable[str], *, shortest: int = _MIN_SECRET) -> str:
    """`text` with every known value of at least `shortest` characters replaced by
    `[redacted]`: the one redaction, for logs and for the platform's error messages."""
    # Longest first, so a token is not half-replaced by one of its own parts.
    for secret in sorted({s for s in secrets if len(s) >= shortest}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redacted_traceback(exc: BaseException, secrets: Iterable[str]) -> str:
    """The frames and types of `exc` and its causes, messages withheld, secrets replaced."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts: list[str] = []
    for error in reversed(chain):
        if parts:
            parts.append("\nwhich led to:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(error.__traceback__))
        kind = type(error)
        parts.append(f"{kind.__module__}.{kind.__qualname__}: {WITHHELD}\n")
    return redact("".join(parts), secrets)
