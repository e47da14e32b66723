"""Mount the assessment endpoint in Litestar.

::

    from litestar import Litestar
    from assessment_asgi import AssessmentApp
    from assessment_asgi.contrib.litestar import AssessmentPlugin

    app = Litestar(plugins=[AssessmentPlugin(AssessmentApp(), path="/assessment")])

or, as a plain route handler (add ``lifespan=[assessment.lifespan]`` to close the pool)::

    app = Litestar([assessment_route(path="/assessment", app=assessment)])

Why an adapter: a Litestar mount hands the sub-app only the leftover path, with a trailing
slash added (``/session/``), and leaves ``root_path`` alone, so a Starlette-based sub-app
would compute its URLs without the prefix. The handler here rebuilds the scope as Starlette's
``Mount`` would: ``path = <root_path><mount path><rest>``, ``root_path = <root_path><mount path>``.
"""

from __future__ import annotations

from typing import Any

try:
    from litestar.config.app import AppConfig
    from litestar.handlers import asgi
    from litestar.handlers.asgi_handlers import ASGIRouteHandler
    from litestar.plugins import InitPlugin
    from litestar.types import Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        'assessment_asgi.contrib.litestar needs Litestar: pip install "assessment-asgi[litestar]"'
    ) from exc

from .._app import AssessmentApp
from .._middleware import validate_prefix

__all__ = ["AssessmentPlugin", "assessment_route"]


def _mount_path(scope: Scope, own_path: str, cache: dict[int, tuple[object, str]]) -> str:
    """The full mount path of the handler serving ``scope`` (Routers may add prefixes).

    ``cache`` maps a registered handler's id to (handler, path); the handler is kept in the
    entry so that a recycled id can never match.
    """
    handler = scope.get("route_handler")
    app = scope.get("litestar_app")
    if handler is None or app is None:
        return own_path
    cached = cache.get(id(handler))
    if cached is not None and cached[0] is handler:
        return cached[1]
    for route in app.routes:
        if getattr(route, "route_handler", None) is handler:
            path = str(route.path).rstrip("/")
            cache[id(handler)] = (handler, path)
            return path
    return own_path


def assessment_route(
    *,
    path: str = "/assessment",
    app: AssessmentApp | None = None,
    **handler_options: Any,
) -> ASGIRouteHandler:
    """A Litestar ASGI route handler serving ``app`` under ``path`` (``POST <path>/session``).

    ``handler_options`` go to Litestar's ``asgi()`` (``guards``, ``name``, ``opt``…).
    """
    prefix = validate_prefix(path, "path")
    if app is not None and not isinstance(app, AssessmentApp):
        raise TypeError(f"app must be an AssessmentApp, got {type(app).__name__}")
    assessment = app if app is not None else AssessmentApp()
    for reserved in ("is_mount", "copy_scope"):
        if reserved in handler_options:
            raise TypeError(f"assessment_route() sets {reserved} itself")

    mount_paths: dict[int, tuple[object, str]] = {}  # one entry per app it is registered in

    async def assessment_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        # copy_scope=True: this is already Litestar's copy, so it may be rewritten here.
        mount = _mount_path(scope, prefix, mount_paths)
        root = scope.get("root_path", "")
        rest: str = scope["path"]
        raw_path = scope.get("raw_path")
        # Litestar always appends "/"; keep it only when the client really sent one.
        sent_slash = isinstance(raw_path, bytes) and raw_path.split(b"?", 1)[0].endswith(b"/")
        if rest.endswith("/") and not sent_slash:
            rest = rest[:-1]
        # Litestar also matches "/assessmentx" against the mount "/assessment": the rebuilt
        # path is then "/assessmentx", outside root_path, and the sub-app answers 404.
        scope["root_path"] = root + mount
        scope["path"] = root + mount + rest
        await assessment(scope, receive, send)  # type: ignore[arg-type]

    handler: ASGIRouteHandler = asgi(prefix, is_mount=True, copy_scope=True, **handler_options)(
        assessment_endpoint
    )
    return handler


class AssessmentPlugin(InitPlugin):
    """Registers the endpoint at ``path`` and closes its pool when Litestar shuts down."""

    __slots__ = ("assessment", "path")

    def __init__(self, assessment: AssessmentApp | None = None, *, path: str = "/assessment") -> None:
        if assessment is not None and not isinstance(assessment, AssessmentApp):
            raise TypeError(f"assessment must be an AssessmentApp, got {type(assessment).__name__}")
        self.path = validate_prefix(path, "path")
        self.assessment = assessment if assessment is not None else AssessmentApp()

    def __repr__(self) -> str:
        return f"AssessmentPlugin(path={self.path!r})"

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(assessment_route(path=self.path, app=self.assessment))
        app_config.lifespan.append(self.assessment.lifespan)
        return app_config
