"""The SmartAI Assessment session endpoint as a mountable ASGI sub-application.

::

    from starlette.applications import Starlette
    from assessment_asgi import AssessmentApp

    app = Starlette()
    app.mount("/assessment", AssessmentApp())   # → POST /assessment/session
"""

from __future__ import annotations

from ._app import AssessmentApp
from ._audit import SessionCreated, SessionRefused
from ._auth import JWTAuthenticator
from ._exceptions import (
    ERROR_CODES,
    AssessmentError,
    AuthError,
    ConfigurationError,
    HTTPException,
    PermissionDenied,
)
from ._keys import EnvironmentKeys, StaticKeys
from ._middleware import AssessmentMiddleware
from ._models import Candidate, Recruiter, SessionRequest
from ._openapi import openapi_document
from ._recruiter import ClaimsRecruiterResolver
from ._settings import AssessmentSettings
from .platform import Credentials, SmartAIClient, SmartAIError

__version__ = "0.2.0"

__all__ = [
    "ERROR_CODES",
    "AssessmentApp",
    "AssessmentError",
    "AssessmentMiddleware",
    "AssessmentSettings",
    "AuthError",
    "Candidate",
    "ClaimsRecruiterResolver",
    "ConfigurationError",
    "Credentials",
    "EnvironmentKeys",
    "HTTPException",
    "JWTAuthenticator",
    "PermissionDenied",
    "Recruiter",
    "SessionCreated",
    "SessionRefused",
    "SessionRequest",
    "SmartAIClient",
    "SmartAIError",
    "StaticKeys",
    "__version__",
    "openapi_document",
]
