"""The example recruiter app: sign in, pick candidates, open the SmartAI portal.

``python -m example_app`` serves it on http://127.0.0.1:8000, on the embedded sandbox unless
``ASSESSMENT_API_KEY``, ``ASSESSMENT_SECRET_KEY`` and ``ASSESSMENT_BASE_URL`` are set::

    from example_app import create_app
    app = create_app()          # a Starlette app; AssessmentApp is mounted at /assessment
"""

from __future__ import annotations

from ._app import create_app
from ._candidates import DEMO_CANDIDATES, Profile

__all__ = ["DEMO_CANDIDATES", "Profile", "create_app"]
