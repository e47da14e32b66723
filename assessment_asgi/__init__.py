"""The SmartAI Assessment session endpoint as a mountable ASGI sub-application.

```python
from starlette.applications import Starlette
from assessment_asgi import AssessmentApp

app = Starlette()
app.mount("/assessment", AssessmentApp())   # → POST /assessment/session
```
"""

from __future__ import annotations

from ._app import AssessmentApp
from ._audit import SessionCreated, SessionRefused
from ._auth import JWTAuthenticator
from ._cors import CORSPolicy
from ._exceptions import (
    ERROR_CODES,
    AssessmentError,
    AuthError,
    ConfigurationError,
    HTTPException,
    PermissionDenied,
)
from ._idempotency import Idempotency
from ._keys import EnvironmentKeys, StaticKeys
from ._middleware import AssessmentMiddleware
from ._models import Candidate, Recruiter, SessionRequest
from ._openapi import openapi_document
from ._ratelimit import PlatformCallLimiter, RecruiterRateLimiter
from ._recruiter import ClaimsRecruiterResolver
from ._settings import AssessmentSettings
from ._telemetry import Telemetry
from ._tenants import TenantKeys
from ._types import Authenticate, KeyProvider, ResolveRecruiter
from ._version import __version__
from .platform import Credentials, SmartAIClient, SmartAIError

__all__ = [
    "ERROR_CODES",
    "AssessmentApp",
    "AssessmentError",
    "AssessmentMiddleware",
    "AssessmentSettings",
    "AuthError",
    "Authenticate",
    "CORSPolicy",
    "Candidate",
    "ClaimsRecruiterResolver",
    "ConfigurationError",
    "Credentials",
    "EnvironmentKeys",
    "HTTPException",
    "Idempotency",
    "JWTAuthenticator",
    "KeyProvider",
    "PermissionDenied",
    "PlatformCallLimiter",
    "Recruiter",
    "RecruiterRateLimiter",
    "ResolveRecruiter",
    "SessionCreated",
    "SessionRefused",
    "SessionRequest",
    "SmartAIClient",
    "SmartAIError",
    "StaticKeys",
    "Telemetry",
    "TenantKeys",
    "__version__",
    "openapi_document",
]
