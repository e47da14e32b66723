"""Every exception this package raises at its users, in one tree:

```text
AssessmentError                     base of everything below
├── ConfigurationError              bad configuration, at construction; names the setting
│                                   (also a ValueError)
├── HTTPException                   raised by any hook to answer with a code of ERROR_CODES
│   ├── AuthError                   401 unauthorized: refuse the caller
│   └── PermissionDenied            403 forbidden: known  , but not allowed
└── SmartAIError                    talking to the platform (its subtree is drawn in
    ├── SmartAIConnectionError      platform/_errors.py)
    ├── SmartAITimeoutError
    ├── SmartAIResponseError
    └── SmartAIStatusError
        ├── SmartAIAuthError
        ├── SmartAIValidationError
        ├── SmartAIRateLimitError
        └── SmartAIServerError
```

`TypeError` is raised as Python does, for a wrong type passed to a constructor. No
exception carries a secret or personal data: messages name settings, codes and operations,
never values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# code → (status, default message). Codes are part of the public contract: never renamed.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "The request body is not valid JSON"),
    "invalid_body": (400, "The request body is invalid"),
    "users_required": (400, "users must be a non-empty list of {name, email}"),
    "too_many_users": (400, "Too many users in one session"),
    "recruiter_required": (400, "Provide recruiterId or recruiterEmail"),
    "invalid_idempotency_key": (400, "Idempotency-Key must be 1-255 printable ASCII characters"),
    "duplicate_content_type": (400, "Send exactly one Content-Type header"),
    "unauthorized": (401, "Authentication required"),
    "forbidden": (403, "Not allowed"),
    "recruiter_mismatch": (403, "The recruiter in the body does not match the signed-in recruiter"),
    "tenant_required": (403, "The sign-in token does not name a valid organisation"),
    "tenant_unknown": (403, "This organisation has no assessment platform account here"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "request_timeout": (408, "The request body was not received in time"),
    "idempotency_key_in_flight": (409, "A request with this Idempotency-Key is still in progress"),
    "payload_too_large": (413, "The request body is too large"),
    "unsupported_media_type": (415, "Content-Type must be application/json"),
    "idempotency_key_reused": (422, "This Idempotency-Key was already used with another request body"),
    "rate_limited": (429, "Too many requests"),
    "platform_rate_limited": (429, "The assessment platform is rate limiting this server"),
    "internal_error": (500, "Internal server error"),
    "not_configured": (500, "The assessment endpoint is not configured on the server"),
    "platform_error": (502, "The assessment platform failed to answer properly"),
    "platform_auth_failed": (502, "The assessment platform refused this server's credentials"),
    "platform_rejected": (502, "The assessment platform refused the request"),
    "service_unavailable": (503, "Service temporarily unavailable"),
    "keys_unavailable": (503, "The platform keys could not be loaded; try again shortly"),
    "idempotency_store_full": (
        503, "Too many requests with an Idempotency-Key are in progress; try again shortly"
    ),
    "platform_timeout": (504, "The assessment platform did not answer in time"),
}
"""Every error code the endpoint answers with: code → (HTTP status, default message).

The codes are part of the public contract, never renamed; `HTTPException(code)` takes any of
them. The table with when each is answered is on the docs' home page ("Errors").
"""


class AssessmentError(Exception):
    """Base class of every exception raised by assessment_asgi."""


class ConfigurationError(AssessmentError, ValueError):
    """The configuration is missing or invalid.

    `setting` names the environment variable (or, for a component used on its own, the
    parameter) to fix; `problems` lists every `(setting, message)` found at once.
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
    """An answer instead of going on: any hook may raise it with a code of `ERROR_CODES`.

    The status comes from the code; `message` (sent to the browser: keep it generic)
    replaces the code's default text. An unknown code is a `ValueError` at once:

    ```python
    def authenticate(request):
        if maintenance_mode():
            raise HTTPException("service_unavailable", headers={"Retry-After": "60"})
    ```
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
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

    def body(self) -> dict[str, Any]:
        """The JSON envelope sent to the caller."""
        payload: dict[str, Any] = {"success": False, "error": self.message, "code": self.code}
        if self.details is not None:
            payload["details"] = list(self.details)
        return payload


class AuthError(HTTPException):
    """Raised by a hook to refuse the caller with 401 (`WWW-Authenticate: Bearer`).

    The message is sent to the browser: keep it generic:

    ```python
    raise AuthError("Wrong key")
    ```
    """

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__("unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class PermissionDenied(HTTPException):
    """Raised by a hook when the caller is known but not allowed (403 `forbidden`).

    A sibling of `AuthError`, not a kind of it: catch `HTTPException` for both:

    ```python
    raise PermissionDenied("Recruiters only")
    ```
    """

    def __init__(self, message: str = "Not allowed") -> None:
        super().__init__("forbidden", message)
