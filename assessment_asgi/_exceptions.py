"""The base of every exception this package raises.

The whole tree (platform errors are drawn in ``platform/_errors.py``)::

    AssessmentError
    ├── ConfigurationError          bad or missing configuration; names the setting
    ├── AuthError                   raised by ``authenticate`` hooks to refuse a caller
    │   └── PermissionDenied        authenticated, but not allowed (403 instead of 401)
    └── SmartAIError                anything from talking to the platform (see platform)

No exception carries a secret: messages name settings and operations, never values.
"""

from __future__ import annotations


class AssessmentError(Exception):
    """Base class of every exception raised by assessment_asgi."""


class ConfigurationError(AssessmentError, ValueError):
    """The configuration is missing or invalid.

    ``setting`` names the environment variable (or keyword) to fix.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class AuthError(AssessmentError):
    """Raised by an ``authenticate`` hook to refuse the caller with 401.

    The message is sent to the browser: keep it generic.
    """

    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(AuthError):
    """Raised by a hook when the caller is known but not allowed (403)."""

    status_code = 403
    code = "forbidden"

    def __init__(self, message: str = "Not allowed") -> None:
        super().__init__(message)
