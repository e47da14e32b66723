"""Mount the assessment endpoint in Litestar.

::

    from litestar import Litestar
    from assessment_asgi import AssessmentApp
    from assessment_asgi.contrib.litestar import AssessmentPlugin

    app = Litestar(plugins=[AssessmentPlugin(AssessmentApp(), path="/assessment")])

or, as a plain route handler (add ``lifespan=[assessment.lifespan]`` to close the pool)::

    app = Litestar([assessment_route(path="/assessment", app=assessment)])

Why an adapter: a Litestar mount matches its path as a string prefix (``/assessment`` also
takes ``/assessmentx/session`` and a host's ``/assessment-reports/{id}``; litestar#3535), hands
the sub-app only the leftover path with a slash added, and leaves ``root_path`` alone. So the
endpoint is registered as plain (non-mount) ASGI routes, one per path it serves: Litestar
matches those whole, segment by segment. The handler then rebuilds the scope as Starlette's
``Mount`` would: ``path = <root_path><mount path><rest>``, ``root_path = <root_path><mount
path>``. The plugin also answers unknown paths *under* the prefix (``/assessment/nope``) with
the endpoint's own 404 envelope; the bare ``assessment_route`` leaves them to Litestar.
"""

from __future__ import annotations

from typing import Any

try:
    from litestar import Request, Response
    from litestar.config.app import AppConfig
    from litestar.exceptions import NotFoundException
    from litestar.exceptions.responses import create_exception_response
    from litestar.handlers import asgi
    from litestar.handlers.asgi_handlers import ASGIRouteHandler
    from litestar.plugins import InitPlugin
    from litestar.types import Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        'assessment_asgi.contrib.litestar needs Litestar: pip install "assessment-asgi[litestar]"'
    ) from exc

from .._app import AssessmentApp
from .._exceptions import HTTPException
from .._middleware import validate_prefix
from .._responses import dumps

__all__ = ["AssessmentPlugin", "assessment_route"]

#: The paths AssessmentApp serves below its prefix (tests/hosts checks they all answer).
SUBPATHS = ("/session", "/openapi.json")


def _mount_path(scope: Scope, own_path: str, cache: dict[int, tuple[object, str]]) -> str:
    """The full mount path of the handler serving ``scope`` (Routers may add prefixes): the
    shortest of the paths it is registered at, which is the bare prefix.

    ``cache`` maps an app's id to (app, path); the app is kept in the entry so that a recycled
    id can never match.
    """
    handler = scope.get("route_handler")
    app = scope.get("litestar_app")
    if handler is None or app is None:
        return own_path
    cached = cache.get(id(app))
    if cached is not None and cached[0] is app:
        return cached[1]
    paths = [
        str(route.path).rstrip("/")
        for route in app.routes
        if getattr(route, "route_handler", None) is handler
    ]
    if not paths:
        return own_path
    path = min(paths, key=len)
    cache[id(app)] = (app, path)
    return path


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def assessment_route(
    *,
    path: str = "/assessment",
    app: AssessmentApp | None = None,
    **handler_options: Any,
) -> ASGIRouteHandler:
    """A Litestar ASGI route handler serving ``app`` under ``path`` (``POST <path>/session``).

    It answers ``<path>``, ``<path>/session`` and ``<path>/openapi.json`` only — never a
    path that merely starts with the same characters. ``handler_options`` go to Litestar's
    ``asgi()`` (``guards``, ``name``, ``opt``…).
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
        routed: str = scope["path"]  # Litestar's normalised path: root_path and slash gone
        rest = routed[len(mount):] if routed.startswith(mount) else ""
        raw_path = scope.get("raw_path")
        # Litestar drops a trailing "/": keep it when the client really sent one.
        if isinstance(raw_path, bytes) and raw_path.split(b"?", 1)[0].endswith(b"/"):
            rest += "/"
        scope["root_path"] = root + mount
        scope["path"] = root + mount + rest
        await assessment(scope, receive, send)  # type: ignore[arg-type]

    paths = [prefix, *(prefix + sub for sub in SUBPATHS)]
    handler: ASGIRouteHandler = asgi(paths, copy_scope=True, **handler_options)(
        assessment_endpoint
    )
    return handler


class AssessmentPlugin(InitPlugin):
    """Registers the endpoint at ``path`` and closes its pool when Litestar shuts down.

    Unknown paths under ``path`` get the endpoint's 404 envelope; every other 404 is left
    to the app's own handler (or Litestar's default).
    """

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
        previous = app_config.exception_handlers.get(NotFoundException)
        prefix = self.path

        def not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
            root = request.scope.get("root_path", "")
            path = request.scope["path"]
            if root and path.startswith(root):
                path = path[len(root):]
            if _under(path.rstrip("/") or "/", prefix):
                problem = HTTPException("not_found")
                return Response(
                    dumps(problem.body()), status_code=problem.status,
                    media_type="application/json", headers={"Cache-Control": "no-store"},
                )
            if previous is not None:
                return previous(request, exc)
            return create_exception_response(request, exc)

        app_config.exception_handlers[NotFoundException] = not_found
        return app_config
