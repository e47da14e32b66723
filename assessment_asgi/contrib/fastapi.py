"""Mount the assessment endpoint in FastAPI and show it in the host's own `/docs`.

```python
from fastapi import FastAPI
from assessment_asgi import AssessmentApp
from assessment_asgi.contrib.fastapi import mount_assessment

assessment = AssessmentApp()
app = FastAPI(lifespan=assessment.lifespan)
mount_assessment(app, assessment, prefix="/assessment")   # → POST /assessment/session
```

FastAPI leaves mounted apps out of its OpenAPI schema; this adds `POST <prefix>/session`
(request body, every error code, bearer security) to it. The sub-app also serves its own
document at `<prefix>/openapi.json`.
"""

from __future__ import annotations

from typing import Any

try:
    from fastapi import FastAPI
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        'assessment_asgi.contrib.fastapi needs FastAPI: pip install "assessment-asgi[fastapi]"'
    ) from exc

from .._app import AssessmentApp
from .._middleware import validate_prefix
from .._openapi import merge_into

__all__ = ["include_in_openapi", "mount_assessment"]


def include_in_openapi(app: FastAPI, *, prefix: str = "/assessment", max_users: int = 100) -> None:
    """Add `POST <prefix>/session` to `app.openapi()` (and so to `/docs`)."""
    if not isinstance(app, FastAPI):
        raise TypeError(f"app must be a FastAPI application, got {type(app).__name__}")
    prefix = validate_prefix(prefix)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:  # FastAPI caches the schema; merge only once
            return app.openapi_schema
        schema = generate()
        merge_into(schema, prefix=prefix, max_users=max_users)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def mount_assessment(
    app: FastAPI,
    assessment: AssessmentApp | None = None,
    *,
    prefix: str = "/assessment",
    include_in_schema: bool = True,
) -> AssessmentApp:
    """Mount `assessment` at `prefix` and, unless told not to, list it in `/docs`."""
    if not isinstance(app, FastAPI):
        raise TypeError(f"app must be a FastAPI application, got {type(app).__name__}")
    if assessment is not None and not isinstance(assessment, AssessmentApp):
        raise TypeError(f"assessment must be an AssessmentApp, got {type(assessment).__name__}")
    prefix = validate_prefix(prefix)
    assessment = assessment if assessment is not None else AssessmentApp()
    app.mount(prefix, assessment)
    if include_in_schema:
        include_in_openapi(app, prefix=prefix, max_users=assessment.settings.max_users)
    return assessment
