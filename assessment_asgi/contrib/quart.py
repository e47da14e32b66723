"""Serve the assessment endpoint from a Quart app.

```python
from quart import Quart
from assessment_asgi import AssessmentApp
from assessment_asgi.contrib.quart import mount_assessment

app = Quart(__name__)
mount_assessment(app, AssessmentApp(), prefix="/assessment")   # → POST /assessment/session
```

Quart has no mount, so `app.asgi_app` is wrapped with `AssessmentMiddleware` (as
Quart's docs recommend for ASGI middleware): it covers `quart run`, any ASGI server and
Quart's test client. The platform pool is closed in `after_serving`.
"""

from __future__ import annotations

from typing import Any, cast

try:
    from quart import Quart
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        'assessment_asgi.contrib.quart needs Quart: pip install "assessment-asgi[quart]"'
    ) from exc

from .._app import AssessmentApp
from .._middleware import AssessmentMiddleware

__all__ = ["mount_assessment"]


def mount_assessment(
    app: Quart,
    assessment: AssessmentApp | None = None,
    *,
    prefix: str = "/assessment",
) -> AssessmentApp:
    """Serve `assessment` at `<prefix>/session` of the Quart `app`; returns it."""
    if not isinstance(app, Quart):
        raise TypeError(f"app must be a Quart application, got {type(app).__name__}")
    # Quart types its ASGI callables with its own TypedDicts: the middleware is plain ASGI.
    middleware = AssessmentMiddleware(cast(Any, app.asgi_app), prefix=prefix, assessment=assessment)
    app.asgi_app = cast(Any, middleware)  # type: ignore[method-assign]

    async def close_assessment_pool() -> Any:
        await middleware.assessment.aclose()

    app.after_serving(close_assessment_pool)
    return middleware.assessment
