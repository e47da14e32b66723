"""Errors raised by the SmartAI client.

```text
AssessmentError
└── SmartAIError                    base: operation, status, platform message, request id
    ├── SmartAIConnectionError      could not connect / connection dropped before an answer
    ├── SmartAITimeoutError         the call's deadline or a phase timeout ran out
    ├── SmartAIResponseError        the answer is not what the contract says (not JSON,
    │                               wrong envelope, too large, a redirect)
    └── SmartAIStatusError          the platform answered with a non-2xx status
        ├── SmartAIAuthError        401/403: the platform refused *our* keys
        ├── SmartAIValidationError  400/404/409/422: the platform refused the request
        ├── SmartAIRateLimitError   429; retry_after in seconds when the platform said
        └── SmartAIServerError      5xx
```

Messages never contain keys, signatures, tokens, request bodies, names or emails.
"""

from __future__ import annotations

from .._exceptions import AssessmentError


class SmartAIError(AssessmentError):
    """Base class for every failure talking to the SmartAI platform."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status_code: int | None = None,
        platform_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status_code = status_code
        self.platform_message = platform_message
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, operation={self.operation!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )


class SmartAIConnectionError(SmartAIError):
    """The platform could not be reached, or the connection dropped."""


class SmartAITimeoutError(SmartAIError):
    """The call's deadline (or one phase's timeout) ran out."""


class SmartAIResponseError(SmartAIError):
    """The platform's answer does not follow the wire contract."""


class SmartAIStatusError(SmartAIError):
    """The platform answered with a non-2xx status."""


class SmartAIAuthError(SmartAIStatusError):
    """401/403: the platform refused this server's API key or secret."""


class SmartAIValidationError(SmartAIStatusError):
    """The platform refused the request's content (400, 404, 409, 422)."""


class SmartAIRateLimitError(SmartAIStatusError):
    """429 from the platform. `retry_after` is seconds to wait, when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class SmartAIServerError(SmartAIStatusError):
    """5xx from the platform."""
