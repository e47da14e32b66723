"""Optional one-line integrations for hosts without a mount of their own.

Each module imports only its own host and raises `ImportError` naming the extra to install:

- `assessment_asgi.contrib.fastapi` — mount and show the route in FastAPI's `/docs`
- `assessment_asgi.contrib.litestar` — an ASGI route handler (or plugin) with the path repair
  Litestar needs
- `assessment_asgi.contrib.quart` — wrap `quart_app.asgi_app` and close the pool on
  `after_serving`

Starlette needs none of these: `app.mount("/assessment", AssessmentApp())`. Any other ASGI
app: `assessment_asgi.AssessmentMiddleware`.
"""

from __future__ import annotations
