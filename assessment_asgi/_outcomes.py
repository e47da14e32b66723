"""What the caller gets when the platform call fails: one `SmartAIError` → one error code.

The platform's own message is never passed on (it may quote the request); the log line
names the status and the platform's request id so an operator can follow it up.
"""

from __future__ import annotations

import logging
import math

from ._exceptions import HTTPException
from .platform import (
    SmartAIAuthError,
    SmartAIError,
    SmartAIRateLimitError,
    SmartAITimeoutError,
    SmartAIValidationError,
)

logger = logging.getLogger("assessment_asgi")


def platform_problem(exc: SmartAIError) -> HTTPException:
    """The caller's answer to a failed platform call; the log line says why, never a secret."""
    context = f"status={exc.status_code} request_id={exc.request_id}"
    if isinstance(exc, SmartAITimeoutError):
        logger.warning("platform timed out creating a session (%s)", context)
        return HTTPException("platform_timeout")
    if isinstance(exc, SmartAIRateLimitError):
        delay = exc.retry_after if exc.retry_after is not None else 5.0
        seconds = min(max(math.ceil(delay), 1), 60)
        logger.warning("platform rate limited this server (%s)", context)
        return HTTPException("platform_rate_limited", headers={"Retry-After": str(seconds)})
    if isinstance(exc, SmartAIAuthError):
        logger.error(
            "the platform refused this server's API key or secret (%s): "
            "check ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY", context,
        )
        return HTTPException("platform_auth_failed")
    if isinstance(exc, SmartAIValidationError):
        logger.error("the platform refused the session request (%s)", context)
        return HTTPException("platform_rejected")
    logger.error("platform error creating a session: %s (%s)", type(exc).__name__, context)
    return HTTPException("platform_error")
