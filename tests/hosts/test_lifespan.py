"""Lifespan: optional everywhere, closing the pool when used, and never in the way.

Each host's documented lifespan line is run under a real server through two full
start/stop cycles with the same AssessmentApp (as a test suite or a reloader does): both
cycles serve, each shutdown closes the pool once, and nothing warns (warnings are errors).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from assessment_asgi import AssessmentApp, AssessmentMiddleware
from tests._fake import STANDIN_TOKEN, USERS, FakePlatform, make_token
from tests._servers import serve

from ._hosts import bare_host


def starlette_line(assessment: AssessmentApp) -> Any:
    return Starlette(routes=[Mount("/assessment", app=assessment)], lifespan=assessment.lifespan)


def fastapi_line(assessment: AssessmentApp) -> Any:
    from fastapi import FastAPI

    from assessment_asgi.contrib.fastapi import mount_assessment

    app = FastAPI(lifespan=assessment.lifespan)
    mount_assessment(app, assessment, prefix="/assessment")
    return app


def litestar_plugin_line(assessment: AssessmentApp) -> Any:
    from litestar import Litestar

    from assessment_asgi.contrib.litestar import AssessmentPlugin

    return Litestar(plugins=[AssessmentPlugin(assessment, path="/assessment")])


def litestar_route_line(assessment: AssessmentApp) -> Any:
    from litestar import Litestar

    from assessment_asgi.contrib.litestar import assessment_route

    return Litestar([assessment_route(path="/assessment", app=assessment)],
                    lifespan=[assessment.lifespan])


def quart_line(assessment: AssessmentApp) -> Any:
    from quart import Quart

    from assessment_asgi.contrib.quart import mount_assessment

    app = Quart("lifespan_test")
    mount_assessment(app, assessment, prefix="/assessment")
    return app


def hypercorn_dispatcher_line(trio: bool) -> Callable[[AssessmentApp], Any]:
    def build(assessment: AssessmentApp) -> Any:
        from hypercorn.middleware.dispatcher import (
            AsyncioDispatcherMiddleware,
            TrioDispatcherMiddleware,
        )

        host = Starlette()  # any host app; the dispatcher forwards lifespan to every mount
        dispatcher = TrioDispatcherMiddleware if trio else AsyncioDispatcherMiddleware
        return dispatcher({"/assessment": assessment, "": host})

    return build


LINES = [
    ("starlette", starlette_line, "uvicorn"),
    ("fastapi", fastapi_line, "uvicorn"),
    ("litestar-plugin", litestar_plugin_line, "hypercorn-trio"),
    ("litestar-lifespan", litestar_route_line, "uvicorn"),
    ("quart", quart_line, "hypercorn"),
    ("hypercorn-dispatcher", hypercorn_dispatcher_line(trio=False), "hypercorn"),
    ("hypercorn-dispatcher-trio", hypercorn_dispatcher_line(trio=True), "hypercorn-trio"),
]


def counting_aclose(assessment: AssessmentApp) -> list[int]:
    calls: list[int] = []
    close = assessment.aclose

    async def aclose() -> None:
        calls.append(1)
        await close()

    assessment.aclose = aclose  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize(("build", "server"), [(b, s) for _, b, s in LINES], ids=[n for n, _, _ in LINES])
def test_each_hosts_lifespan_line_closes_the_pool_and_restarts_cleanly(
    build: Callable[[AssessmentApp], Any], server: str,
    make_assessment: Callable[..., AssessmentApp], platform: FakePlatform,
) -> None:
    assessment = make_assessment()
    closes = counting_aclose(assessment)
    for cycle in (1, 2):
        with serve(build(assessment), server, lifespan="on") as url:  # type: ignore[arg-type]
            response = httpx2.post(f"{url}/assessment/session", json={"users": USERS},
                                   headers={"Authorization": f"Bearer {make_token()}"}, timeout=30)
            assert response.status_code == 200, response.text
            assert response.json()["data"]["token"] == STANDIN_TOKEN
        assert len(closes) == cycle  # shutdown closed the pool, on the server's own loop
    gc.collect()  # an unclosed pool or transport would warn here, and warnings are errors
    assert len(platform.calls) == 2


def test_the_bare_middleware_forwards_lifespan_to_the_wrapped_app(
    make_assessment: Callable[..., AssessmentApp], platform: FakePlatform,
) -> None:
    events: list[str] = []

    async def host(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while (message := await receive())["type"] != "lifespan.shutdown":
            events.append(message["type"])
            await send({"type": "lifespan.startup.complete"})
        events.append(message["type"])
        await send({"type": "lifespan.shutdown.complete"})

    app = AssessmentMiddleware(host, prefix="/assessment", assessment=make_assessment())
    with serve(app, "uvicorn", lifespan="on") as url:
        response = httpx2.post(f"{url}/assessment/session", json={"users": USERS},
                               headers={"Authorization": f"Bearer {make_token()}"}, timeout=30)
    assert response.status_code == 200
    assert events == ["lifespan.startup", "lifespan.shutdown"]


@pytest.mark.parametrize("close_each_time", [False, True], ids=["no-lifespan", "with-lifespan"])
def test_one_app_serves_on_successive_event_loops(
    make_assessment: Callable[..., AssessmentApp], platform: FakePlatform, close_each_time: bool,
) -> None:
    """As in a test suite: a new loop per test, asyncio and trio in turn, lifespan or not."""
    assessment = make_assessment()
    app = bare_host("/assessment", assessment)

    async def one_request() -> int:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post("/assessment/session", json={"users": USERS},
                                         headers={"Authorization": f"Bearer {make_token()}"})
        return response.status_code

    async def run() -> int:
        if close_each_time:
            async with assessment.lifespan():
                return await one_request()
        return await one_request()

    statuses = [anyio.run(run, backend=backend) for backend in ("asyncio", "trio", "asyncio", "trio")]
    gc.collect()
    assert statuses == [200, 200, 200, 200]
    assert len(platform.calls) == 4
