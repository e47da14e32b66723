"""The exact ``path`` and ``root_path`` each host hands the endpoint.

The endpoint relies on them (it routes on ``path`` minus ``root_path`` and publishes
``root_path`` as its OpenAPI server URL), so a host upgrade that changes them must fail here,
loudly, rather than in production as a redirect or a 404.
"""

from __future__ import annotations

import pytest
from litestar.types import Receive, Scope, Send

from tests._fake import JWT_SECRET

from ._hosts import HOSTS, Host, RecordingApp
from .conftest import in_process

pytestmark = pytest.mark.anyio

CASES = [(prefix, root) for prefix in ("/assessment", "/hiring/v2") for root in ("", "/api")]


@pytest.mark.parametrize(("prefix", "root_path"), CASES, ids=[f"{p}@{r or 'none'}" for p, r in CASES])
@pytest.mark.parametrize("suffix", ["/openapi.json", "/openapi.json/"])
async def test_every_host_hands_over_the_full_path_and_the_prefix_as_root_path(
    host: Host, prefix: str, root_path: str, suffix: str
) -> None:
    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    async with in_process(host.build(prefix, recorder), root_path=root_path) as client:
        response = await client.get(f"{root_path}{prefix}{suffix}")
    assert response.status_code == 200
    assert recorder.seen == [(f"{root_path}{prefix}{suffix}", f"{root_path}{prefix}")]
    assert response.json()["servers"] == [{"url": f"{root_path}{prefix}"}]


@pytest.mark.parametrize("root_path", ["", "/api"])
async def test_litestar_itself_hands_a_mount_the_leftover_path_with_a_slash(root_path: str) -> None:
    """The Litestar fact ``contrib.litestar`` repairs: if this changes, revisit the repair."""
    from litestar import Litestar, asgi

    seen: list[tuple[str, str]] = []

    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["path"], scope.get("root_path", "")))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = Litestar([asgi("/assessment", is_mount=True, copy_scope=True)(mounted)])
    async with in_process(app, root_path=root_path) as client:
        for path in ("/assessment/session", "/assessment/session/", "/assessmentx/session"):
            assert (await client.post(f"{root_path}{path}")).status_code == 204
    assert seen == [("/session/", root_path), ("/session/", root_path), ("x/session/", root_path)]


async def test_litestar_route_inside_a_router_uses_the_full_mount_path() -> None:
    from litestar import Litestar, Router

    from assessment_asgi.contrib.litestar import assessment_route

    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    app = Litestar([Router("/v1", route_handlers=[assessment_route(path="/assessment", app=recorder)])])
    async with in_process(app, root_path="/api") as client:
        response = await client.get("/api/v1/assessment/openapi.json")
        assert (await client.get("/api/v1/assessmentx/openapi.json")).status_code == 404
    assert response.json()["servers"] == [{"url": "/api/v1/assessment"}]
    assert recorder.seen[0] == ("/api/v1/assessment/openapi.json", "/api/v1/assessment")


async def test_hypercorn_dispatcher_keeps_the_path_and_extends_root_path() -> None:
    from hypercorn.middleware import DispatcherMiddleware

    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    app = DispatcherMiddleware({"/assessment": recorder})
    async with in_process(app) as client:
        response = await client.get("/assessment/openapi.json")
    assert response.status_code == 200
    assert recorder.seen == [("/assessment/openapi.json", "/assessment")]
    assert response.json()["servers"] == [{"url": "/assessment"}]


async def test_hypercorn_dispatcher_under_a_root_path_doubles_it() -> None:
    """A hypercorn quirk the docs warn about: it matches the full path, then appends the
    whole match to ``root_path``; the endpoint then cannot find its route (404, no redirect)."""
    from hypercorn.middleware import DispatcherMiddleware

    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    app = DispatcherMiddleware({"/api/assessment": recorder})
    async with in_process(app, root_path="/api") as client:
        response = await client.get("/api/assessment/openapi.json")
    assert recorder.seen == [("/api/assessment/openapi.json", "/api/api/assessment")]
    assert response.status_code == 404


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_quarts_own_test_client_reaches_the_endpoint() -> None:
    quart_host = next(h for h in HOSTS if h.name == "quart")
    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    app = quart_host.build("/assessment", recorder)
    client = app.test_client()
    response = await client.get("/assessment/openapi.json")
    assert response.status_code == 200
    assert recorder.seen == [("/assessment/openapi.json", "/assessment")]
    assert (await response.get_json())["servers"] == [{"url": "/assessment"}]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # its AsyncTestClient hangs inside trio
async def test_litestars_own_test_client_reaches_the_endpoint() -> None:
    from litestar.testing import AsyncTestClient

    litestar_host = next(h for h in HOSTS if h.name == "litestar")
    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    async with AsyncTestClient(app=litestar_host.build("/assessment", recorder)) as client:
        response = await client.get("/assessment/openapi.json")
    assert response.status_code == 200
    assert recorder.seen == [("/assessment/openapi.json", "/assessment")]


async def test_one_litestar_route_registered_in_two_apps_knows_each_mount_path() -> None:
    from litestar import Litestar, Router

    from assessment_asgi.contrib.litestar import assessment_route

    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    handler = assessment_route(path="/assessment", app=recorder)
    first = Litestar([Router("/v1", route_handlers=[handler])])
    second = Litestar([Router("/v2", route_handlers=[handler])])
    for app, version in ((first, "v1"), (second, "v2"), (first, "v1")):
        async with in_process(app) as client:
            response = await client.get(f"/{version}/assessment/openapi.json")
        assert response.json()["servers"] == [{"url": f"/{version}/assessment"}]
    assert [root for _, root in recorder.seen] == ["/v1/assessment", "/v2/assessment", "/v1/assessment"]


async def _answer(path: str, root_path: str) -> tuple[int, dict[str, object]]:
    """POST straight to the app with this ``path`` and ``root_path`` (what no host in the suite
    hands over, so the app is called as ASGI itself): its status and JSON answer."""
    import json

    from assessment_asgi import AssessmentApp

    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": root_path,
        "query_string": b"", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }
    await AssessmentApp(jwt_secret=JWT_SECRET, base_url="http://127.0.0.1:9/api/v1")(scope, receive, send)
    status = sent[0]["status"]
    assert isinstance(status, int)
    return status, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))  # type: ignore[arg-type,misc]


@pytest.mark.parametrize(
    ("path", "root_path"),
    [
        ("/xyz/session", "/api"),     # a path outside the root path: the route is the whole path
        ("/session", "/session"),     # the mount point itself: nothing below it
        ("/apix/session", "/api"),    # the root path is a prefix of a segment, not of the path
    ],
)
async def test_only_the_path_below_the_root_path_is_routed(path: str, root_path: str) -> None:
    """The route is what follows ``root_path`` at a segment boundary; anything else answers the
    package's 404 (the request never reaches the session endpoint, whose answer here would be
    a 401 for the missing token)."""
    status, answer = await _answer(path, root_path)
    assert (status, answer["code"]) == (404, "not_found")


async def test_the_session_endpoint_below_a_root_path_is_reached() -> None:
    status, answer = await _answer("/api/session", "/api")
    assert (status, answer["code"]) == (401, "unauthorized")
