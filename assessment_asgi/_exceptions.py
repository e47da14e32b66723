"""Every exception this package raises at its users, in one tree::

    AssessmentError                     base of everything below
    ├── ConfigurationError              bad configuration, at construction; names the setting
    │                                   (also a ValueError)
    ├── HTTPException                   raised by any hook to answer with a code of ERROR_CODES
    │   └── AuthError                   401 ``unauthorized``: refuse the caller
    │       └── PermissionDenied        403 ``forbidden``: known, but not allowed
    └── SmartAIError                    talking to the platform (its subtree is drawn in
        ├── SmartAIConnectionError      ``platform/_errors.py``)
        ├── SmartAITimeoutError
        ├── SmartAIResponseError
        └── SmartAIStatusError
            ├── SmartAIAuthError
            ├── SmartAIValidationError
            ├── SmartAIRateLimitError
            └── SmartAIServerError

``TypeError`` is raised as Python does, for a wrong type passed to a constructor. No
exception carries a secret or personal data: messages name settings, codes and operations,
never values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class AssessmentError(Exception):
    """Base class of every exception raised by assessment_asgi."""


class ConfigurationError(AssessmentError, ValueError):
    """The configuration is missing or invalid.

    ``setting`` names the environment variable (or, for a component used on its own, the
    parameter) to fix; ``problems`` lists every ``(setting, message)`` found at once.
    """

    def __init__(
        self,
        message: str,
        *,
        setting: str | None = None,
        problems: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.setting = setting
        self.problems: list[tuple[str, str]] = (
            list(problems) if problems else [(setting or "", message)]
        )


class HTTPException(AssessmentError):
    """An answer instead of going on: any hook may raise it with a code of ``ERROR_CODES``.

    The status comes from the code; ``message`` (sent to the browser: keep it generic)
    replaces the code's default text. An unknown code is a ``ValueError`` at once::

        def authenticate(request):
            if maintenance_mode():
                raise HTTPException("service_unavailable", headers={"Retry-After": "60"})
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        # Imported here: _responses (the table and the envelope) imports this module.
        from ._responses import ERROR_CODES

        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}: use one of ERROR_CODES")
        status, default = ERROR_CODES[code]
        if message is not None and not isinstance(message, str):
            raise TypeError("message must be a str")
        self.code = code
        self.status_code = status
        self.message = message or default
        self.headers = dict(headers or {})
        self.details = details
        super().__init__(f"{status} {code}")

    @property
    def status(self) -> int:
        """The HTTP status (the same as ``status_code``)."""
        return self.status_code

    def body(self) -> dict[str, Any]:
        """The JSON envelope sent to the caller."""
        payload: dict[str, Any] = {"success": False, "error": self.message, "code": self.code}
        if self.details is not None:
            payload["details"] = list(self.details)
        return payload


class AuthError(HTTPException):
    """Raised by a hook to refuse the caller with 401 (``WWW-Authenticate: Bearer``).

    The message is sent to the browser: keep it generic::

        raise AuthError("Wrong key")
    """

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__("unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class PermissionDenied(AuthError):
    """Raised by a hook when the caller is known but not allowed (403)."""

    def __init__(self, message: str = "Not allowed") -> None:
        HTTPException.__init__(self, "forbidden", message)
