"""`AssessmentMiddleware`: serve the endpoint under a prefix of any ASGI app.

For hosts with no mount of their own (Quart, Django's ASGI handler, a bare callable):

```python
app = AssessmentMiddleware(app, prefix="/assessment")   # → POST /assessment/session
```

Requests under the prefix reach the `AssessmentApp` with a copied scope, exactly as
Starlette's `Mount` hands it over (the full `path`, the prefix added to `root_path`).
Everything else — other paths, websockets, lifespan — goes to the wrapped app untouched.
"""

from __future__ import annotations

from ._app import AssessmentApp
from ._scope import route_path
from ._types import ASGIApp, Receive, Scope, Send


def validate_prefix(prefix: object, setting: str = "prefix") -> str:
    """Return `prefix` without a trailing slash, or raise naming `setting`."""
    if not isinstance(prefix, str):
        raise TypeError(f"{setting} must be a string such as '/assessment', got {type(prefix).__name__}")
    if not prefix.startswith("/"):
        raise ValueError(f"{setting} must start with '/', got {prefix!r}")
    stripped = prefix.rstrip("/")
    if not stripped:
        raise ValueError(f"{setting} must not be '/': the endpoint needs a prefix of its own")
    if any(part in {".", ".."} for part in stripped.split("/")) or "//" in stripped:
        raise ValueError(f"{setting} must be a plain path such as '/assessment', got {prefix!r}")
    if any(c in stripped for c in "?#{}") or any(ord(c) < 0x21 for c in stripped):
        raise ValueError(f"{setting} must be a plain path such as '/assessment', got {prefix!r}")
    return stripped


class AssessmentMiddleware:
    """Pure ASGI middleware: `prefix` goes to the assessment endpoint, the rest to `app`.

    ```python
    quart_app.asgi_app = AssessmentMiddleware(quart_app.asgi_app, prefix="/assessment")
    ```

    `assessment` defaults to `AssessmentApp()` (configured from `ASSESSMENT_*`).
    The host's scope is never changed: the endpoint gets a copy.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = "/assessment",
        assessment: AssessmentApp | None = None,
    ) -> None:
        if not callable(app):
            raise TypeError(f"app must be an ASGI application, got {type(app).__name__}")
        if assessment is not None and not isinstance(assessment, AssessmentApp):
            raise TypeError(f"assessment must be an AssessmentApp, got {type(assessment).__name__}")
        self.app = app
        self.prefix = validate_prefix(prefix)
        self.assessment = assessment if assessment is not None else AssessmentApp()

    def __repr__(self) -> str:
        return f"AssessmentMiddleware(app={self.app!r}, prefix={self.prefix!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = route_path(scope)
            # A boundary check, as Starlette's Mount does: "/assessmentx" is not ours.
            if route == self.prefix or route.startswith(self.prefix + "/"):
                child = dict(scope)
                child["root_path"] = scope.get("root_path", "") + self.prefix
                await self.assessment(child, receive, send)
                return
        await self.app(scope, receive, send)
