"""Mount the assessment endpoint in Litestar.

```python
from litestar import Litestar
from assessment_asgi import AssessmentApp
from assessment_asgi.contrib.litestar import AssessmentPlugin

app = Litestar(plugins=[AssessmentPlugin(AssessmentApp(), path="/assessment")])
```

or, as plain routes (add `lifespan=[assessment.lifespan]` to close the pool):

```python
app = Litestar([assessment_route(path="/assessment", app=assessment)])
```

Why an adapter: a Litestar mount matches its path as a string prefix (`/assessment` also
takes `/assessmentx/session` and a host's `/assessment-reports/{id}`; litestar#3535), hands
the sub-app only the leftover path with a slash added, and leaves `root_path` alone. So the
endpoint is registered as plain (non-mount) ASGI routes, one per path it serves: Litestar
matches those whole, segment by segment, plus one catch-all route *below* the prefix
(`<prefix>/{path}`), so an unknown path under it (`/assessment/nope`) reaches the endpoint
and gets its own 404 envelope, as on every other host, whatever 404 handler the host has.
The handler then rebuilds the scope as Starlette's `Mount` would:
`path = <root_path><mount path><rest>`, `root_path = <root_path><mount path>`.
"""

from __future__ import annotations

from typing import Any

try:
    from litestar import HttpMethod, Request, Router, route
    from litestar.config.app import AppConfig
    from litestar.handlers import asgi
    from litestar.plugins import InitPlugin
    from litestar.types import ASGIApp, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        'assessment_asgi.contrib.litestar needs Litestar: pip install "assessment-asgi[litestar]"'
    ) from exc

from .._app import AssessmentApp
from .._middleware import validate_prefix

__all__ = ["AssessmentPlugin", "assessment_route"]

#: The paths AssessmentApp serves below its prefix (tests/hosts checks they all answer).
SUBPATHS = ("/session", "/openapi.json")
#: Methods of the catch-all below the prefix (Litestar answers HEAD from GET itself).
_CATCH_ALL_METHODS = (
    HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE,
    HttpMethod.OPTIONS,
)
_REST = "assessment_rest"


def _mount_path(scope: Scope, own_path: str, cache: dict[int, tuple[object, str]]) -> str:
    """The full mount path of the handler serving `scope` (Routers may add prefixes): the
    shortest of the paths it is registered at, which is the bare prefix.

    `cache` maps an app's id to (app, path); the app is kept in the entry so that a recycled
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


def _rebuilt(scope: Scope, mount: str, rest: str) -> Scope:
    """The scope as Starlette's `Mount` hands it over: `root_path` ends at the mount."""
    root = scope.get("root_path", "")
    raw_path = scope.get("raw_path")
    # Litestar drops a trailing "/": keep it when the client really sent one.
    if isinstance(raw_path, bytes) and raw_path.split(b"?", 1)[0].endswith(b"/") and not rest.endswith("/"):
        rest += "/"
    scope["root_path"] = root + mount
    scope["path"] = root + mount + rest
    return scope


def assessment_route(
    *,
    path: str = "/assessment",
    app: AssessmentApp | None = None,
    **handler_options: Any,
) -> Router:
    """Litestar routes serving `app` under `path` (`POST <path>/session`).

    They answer `<path>`, `<path>/session`, `<path>/openapi.json` and anything below
    `<path>/` (the endpoint's 404 envelope) — never a path that merely starts with the same
    characters. Register the result as any route handler (it is a `Router`), also inside a
    `Router`. `handler_options` go to Litestar's `asgi()` (`guards`, `name`,
    `opt`…); `guards` guard the catch-all too.
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
        routed: str = scope["path"]  # Litestar's normalised path: root_path and slash gone
        rest = routed[len(mount):] if routed.startswith(mount) else ""
        await assessment(_rebuilt(scope, mount, rest), receive, send)  # type: ignore[arg-type]

    def below_prefix(request: Request[Any, Any, Any]) -> ASGIApp:
        # Any other path under the prefix: the endpoint answers it (its 404 envelope), as a
        # mounted sub-app does on every host. Litestar's ASGI routes cannot take a path
        # parameter, so this is an HTTP route handing over to the endpoint.
        rest = "/" + str(request.path_params[_REST]).lstrip("/")
        routed: str = request.scope["path"]
        mount = routed[: len(routed) - len(rest)] if routed.endswith(rest) else prefix
        scope = _rebuilt(dict(request.scope), mount, rest)  # type: ignore[arg-type]

        async def forward(_scope: Scope, receive: Receive, send: Send) -> None:
            await assessment(scope, receive, send)  # type: ignore[arg-type]

        return forward

    paths = [prefix, *(prefix + sub for sub in SUBPATHS)]
    endpoint = asgi(paths, copy_scope=True, **handler_options)(assessment_endpoint)
    catch_all = route(
        f"{prefix}/{{{_REST}:path}}",
        http_method=list(_CATCH_ALL_METHODS),
        guards=handler_options.get("guards"),
        include_in_schema=False,
        sync_to_thread=False,
    )(below_prefix)
    return Router("/", route_handlers=[endpoint, catch_all])


class AssessmentPlugin(InitPlugin):
    """Registers the endpoint at `path` and closes its pool when Litestar shuts down.

    Unknown paths under `path` get the endpoint's 404 envelope; every other 404 is left
    to the app's own handler (or Litestar's default):

    ```python
    app = Litestar(plugins=[AssessmentPlugin(AssessmentApp(), path="/assessment")])
    ```
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
        return app_config
