"""Litestar: the endpoint answers on whole path segments only, as Starlette's Mount does.

A Litestar mount matches its path as a string prefix (litestar#3535), so ``/assessmentx/...``
and a host route such as ``/assessment-reports/{id}`` used to land on the endpoint.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._fake import JWT_SECRET

from ._hosts import RecordingApp
from .conftest import in_process

pytestmark = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


def _host(recorder: RecordingApp, *, router: str = "") -> Any:
    from litestar import Litestar, MediaType, Router, get
    from litestar.params import FromPath

    from assessment_asgi.contrib.litestar import AssessmentPlugin, assessment_route

    @get("/assessment-reports/{report_id:str}", media_type=MediaType.TEXT, sync_to_thread=False)
    def report(report_id: FromPath[str]) -> str:
        return f"report {report_id}"

    @get("/assessmentx/session", media_type=MediaType.TEXT, sync_to_thread=False)
    def lookalike() -> str:
        return "the host's own /assessmentx/session"

    if router:
        inner = Router(router, route_handlers=[assessment_route(path="/assessment", app=recorder),
                                               report])
        return Litestar([inner])
    return Litestar([report, lookalike], plugins=[AssessmentPlugin(recorder, path="/assessment")])


@pytest.mark.anyio
async def test_a_lookalike_prefix_never_reaches_the_endpoint() -> None:
    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    from litestar import Litestar

    from assessment_asgi.contrib.litestar import AssessmentPlugin

    app = Litestar(plugins=[AssessmentPlugin(recorder, path="/assessment")])
    async with in_process(app) as client:
        for path in ("/assessmentx/session", "/assessment-x/openapi.json", "/assessments"):
            response = await client.post(path, json={})
            assert response.status_code == 404, path
            assert "code" not in response.json()  # Litestar's 404, not the endpoint's
    assert recorder.seen == []


@pytest.mark.anyio
async def test_host_routes_sharing_the_prefix_as_a_string_still_answer() -> None:
    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    async with in_process(_host(recorder)) as client:
        report = await client.get("/assessment-reports/42")
        lookalike = await client.get("/assessmentx/session")
        document = await client.get("/assessment/openapi.json")
    assert (report.status_code, report.text) == (200, "report 42")
    assert (lookalike.status_code, lookalike.text) == (200, "the host's own /assessmentx/session")
    assert document.status_code == 200
    assert recorder.seen == [("/assessment/openapi.json", "/assessment")]


@pytest.mark.anyio
@pytest.mark.parametrize("root_path", ["", "/api"])
async def test_inside_a_router_too(root_path: str) -> None:
    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    async with in_process(_host(recorder, router="/v1"), root_path=root_path) as client:
        report = await client.get(f"{root_path}/v1/assessment-reports/7")
        lookalike = await client.get(f"{root_path}/v1/assessmentx/openapi.json")
        document = await client.get(f"{root_path}/v1/assessment/openapi.json")
    assert (report.status_code, report.text) == (200, "report 7")
    assert lookalike.status_code == 404
    assert document.json()["servers"] == [{"url": f"{root_path}/v1/assessment"}]
    assert recorder.seen == [(f"{root_path}/v1/assessment/openapi.json",
                              f"{root_path}/v1/assessment")]


@pytest.mark.anyio
async def test_the_hosts_own_404_handler_keeps_every_other_path() -> None:
    from litestar import Litestar, Request, Response
    from litestar.exceptions import NotFoundException

    from assessment_asgi.contrib.litestar import AssessmentPlugin

    def mine(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
        return Response({"host": "not here"}, status_code=404)

    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    app = Litestar(plugins=[AssessmentPlugin(recorder, path="/assessment")],
                   exception_handlers={NotFoundException: mine})
    async with in_process(app) as client:
        elsewhere = await client.get("/nowhere")
        lookalike = await client.get("/assessmentx/session")
        under = await client.get("/assessment/nope")
    assert elsewhere.json() == lookalike.json() == {"host": "not here"}
    assert under.json() == {"success": False, "error": "Not found", "code": "not_found"}


ENVELOPE = {"success": False, "error": "Not found", "code": "not_found"}


@pytest.mark.anyio
@pytest.mark.parametrize("root_path", ["", "/api"])
@pytest.mark.parametrize("router", ["", "/v1"])
async def test_an_unknown_path_under_the_route_gets_the_endpoints_404(root_path: str, router: str) -> None:
    # The bare route too, at the top or inside a Router: the envelope every other host gives.
    from litestar import Litestar, Router

    from assessment_asgi.contrib.litestar import assessment_route

    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    handler = assessment_route(path="/assessment", app=recorder)
    app = Litestar([Router(router, route_handlers=[handler])] if router else [handler])
    base = f"{root_path}{router}"
    async with in_process(app, root_path=root_path) as client:
        under = await client.post(f"{base}/assessment/nope", json={})
        deeper = await client.get(f"{base}/assessment/session/extra/")
        lookalike = await client.post(f"{base}/assessmentx/session", json={})
    assert (under.status_code, under.json()) == (404, ENVELOPE)
    assert (deeper.status_code, deeper.json()) == (404, ENVELOPE)
    assert lookalike.status_code == 404
    assert "code" not in lookalike.json()  # Litestar's 404: never the endpoint
    # The endpoint saw each as a mounted sub-app would: the mount in root_path, nothing else.
    mount = f"{base}/assessment"
    assert recorder.seen == [(f"{mount}/nope", mount), (f"{mount}/session/extra/", mount)]


@pytest.mark.anyio
async def test_a_hosts_status_code_404_handler_does_not_take_paths_under_the_prefix() -> None:
    # Litestar looks a handler up by status code before the exception class: a host's
    # {404: ...} handler used to answer /assessment/nope with its own body.
    from litestar import Litestar, Request, Response
    from litestar.exceptions import HTTPException as LitestarHTTPException

    from assessment_asgi.contrib.litestar import AssessmentPlugin

    def mine(request: Request[Any, Any, Any], exc: LitestarHTTPException) -> Response[Any]:
        return Response({"host": "not here"}, status_code=404)

    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    app = Litestar(plugins=[AssessmentPlugin(recorder, path="/assessment")],
                   exception_handlers={404: mine})
    async with in_process(app) as client:
        under = await client.get("/assessment/nope")
        elsewhere = await client.get("/nowhere")
        lookalike = await client.get("/assessmentx/session")
    assert (under.status_code, under.json()) == (404, ENVELOPE)
    assert elsewhere.json() == lookalike.json() == {"host": "not here"}
    assert recorder.seen == [("/assessment/nope", "/assessment")]
