"""The five hosts the endpoint is proven under, each built the way its docs say.

Every host also serves a route of its own (``GET /hello`` → ``hello from <host>``), so the
tests can check that mounting the endpoint leaves the host's own routes alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from assessment_asgi import AssessmentApp, AssessmentMiddleware

Build = Callable[[str, AssessmentApp], Any]


@dataclass(frozen=True)
class Host:
    name: str
    build: Build
    #: Event loops the host runs on. Quart is asyncio-only (it calls asyncio directly).
    backends: tuple[str, ...] = ("asyncio", "trio")

    @property
    def servers(self) -> tuple[str, ...]:
        servers = ("uvicorn", "hypercorn")
        return (*servers, "hypercorn-trio") if "trio" in self.backends else servers

    def __str__(self) -> str:
        return self.name


def _hello(name: str) -> Any:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"hello from {name}")

    return hello


def starlette_host(prefix: str, assessment: AssessmentApp) -> Starlette:
    return Starlette(routes=[Route("/hello", _hello("starlette")), Mount(prefix, app=assessment)])


def fastapi_host(prefix: str, assessment: AssessmentApp) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse as FastAPIText

    from assessment_asgi.contrib.fastapi import mount_assessment

    app = FastAPI()

    @app.get("/hello", response_class=FastAPIText)
    async def hello() -> str:
        return "hello from fastapi"

    mount_assessment(app, assessment, prefix=prefix)
    return app


def litestar_host(prefix: str, assessment: AssessmentApp) -> Any:
    from litestar import Litestar, MediaType, get

    from assessment_asgi.contrib.litestar import AssessmentPlugin

    @get("/hello", media_type=MediaType.TEXT, sync_to_thread=False)
    def hello() -> str:
        return "hello from litestar"

    return Litestar([hello], plugins=[AssessmentPlugin(assessment, path=prefix)])


def quart_host(prefix: str, assessment: AssessmentApp) -> Any:
    from quart import Quart

    from assessment_asgi.contrib.quart import mount_assessment

    app = Quart("quart_host")

    @app.get("/hello")
    async def hello() -> str:
        return "hello from quart"

    mount_assessment(app, assessment, prefix=prefix)
    return app


def bare_host(prefix: str, assessment: AssessmentApp) -> AssessmentMiddleware:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b"hello from bare" if scope["path"].endswith("/hello") else b"bare 404"
        await send({"type": "http.response.start", "status": 200 if body.startswith(b"hello") else 404,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        await send({"type": "http.response.body", "body": body})

    return AssessmentMiddleware(app, prefix=prefix, assessment=assessment)


HOSTS = (
    Host("starlette", starlette_host),
    Host("fastapi", fastapi_host),
    Host("litestar", litestar_host),
    Host("quart", quart_host, backends=("asyncio",)),
    Host("bare", bare_host),
)


class RecordingApp(AssessmentApp):
    """An AssessmentApp that records the ``(path, root_path)`` each request reached it with."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["path"], scope.get("root_path", "")))
        await super().__call__(scope, receive, send)
