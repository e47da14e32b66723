"""AssessmentMiddleware and the adapters: configuration errors, pass-through, scope hygiene."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from assessment_asgi import AssessmentApp, AssessmentMiddleware
from tests._fake import JWT_SECRET

from ._hosts import RecordingApp
from .conftest import in_process

pytestmark = pytest.mark.anyio


class Downstream:
    """The wrapped app: records every scope it receives (and the scope object itself)."""

    def __init__(self) -> None:
        self.scopes: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"downstream"})


@pytest.mark.parametrize(
    ("prefix", "error"),
    [("assessment", ValueError), ("/", ValueError), ("", ValueError), ("/a/../b", ValueError),
     ("/a//b", ValueError), ("/a b", ValueError), ("/a?x", ValueError), (b"/a", TypeError),
     (None, TypeError)],
)
def test_a_bad_prefix_is_refused_naming_the_setting(prefix: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="prefix"):
        AssessmentMiddleware(Downstream(), prefix=prefix, assessment=AssessmentApp(jwt_secret=JWT_SECRET))


def test_wrong_types_are_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="app must be an ASGI application"):
        AssessmentMiddleware("not an app", assessment=AssessmentApp(jwt_secret=JWT_SECRET))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="assessment must be an AssessmentApp"):
        AssessmentMiddleware(Downstream(), assessment=Downstream())  # type: ignore[arg-type]


def test_litestar_and_fastapi_adapters_validate_too() -> None:
    from fastapi import FastAPI

    from assessment_asgi.contrib.fastapi import mount_assessment
    from assessment_asgi.contrib.litestar import AssessmentPlugin, assessment_route
    from assessment_asgi.contrib.quart import mount_assessment as mount_in_quart

    app = AssessmentApp(jwt_secret=JWT_SECRET)
    with pytest.raises(ValueError, match="path must start with '/'"):
        assessment_route(path="assessment", app=app)
    with pytest.raises(TypeError, match="sets is_mount itself"):
        assessment_route(app=app, is_mount=False)
    with pytest.raises(ValueError, match="path must not be '/'"):
        AssessmentPlugin(app, path="/")
    with pytest.raises(TypeError, match="must be a FastAPI application"):
        mount_assessment(object(), app)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix must start with '/'"):
        mount_assessment(FastAPI(), app, prefix="x")
    with pytest.raises(TypeError, match="must be a Quart application"):
        mount_in_quart(FastAPI(), app)  # type: ignore[arg-type]


def test_the_prefix_defaults_to_assessment_and_a_trailing_slash_is_dropped() -> None:
    assessment = AssessmentApp(jwt_secret=JWT_SECRET)
    middleware = AssessmentMiddleware(Downstream(), prefix="/hiring/", assessment=assessment)
    assert middleware.prefix == "/hiring"
    assert repr(middleware).endswith("prefix='/hiring')")
    assert AssessmentMiddleware(Downstream(), assessment=middleware.assessment).prefix == "/assessment"


@pytest.mark.parametrize(
    "path", ["/", "/hello", "/assessmentx/session", "/assess", "/api/assessment/session"]
)
async def test_other_paths_reach_the_wrapped_app_with_the_very_same_scope(path: str) -> None:
    downstream, recorder = Downstream(), RecordingApp(jwt_secret=JWT_SECRET)
    async with in_process(AssessmentMiddleware(downstream, assessment=recorder)) as client:
        response = await client.get(path)
    assert response.text == "downstream"
    assert recorder.seen == []
    assert [s["path"] for s in downstream.scopes] == [path]


async def test_the_endpoint_gets_a_copy_and_the_hosts_scope_is_untouched() -> None:
    scopes: list[tuple[Any, Any]] = []
    recorder = RecordingApp(jwt_secret=JWT_SECRET)
    middleware = AssessmentMiddleware(Downstream(), assessment=recorder)

    async def host(scope: Any, receive: Any, send: Any) -> None:
        before = copy.deepcopy(scope)
        await middleware(scope, receive, send)
        scopes.append((before, scope))

    async with in_process(host, root_path="/api") as client:
        assert (await client.get("/api/assessment/openapi.json")).status_code == 200
    ((before, after),) = scopes
    assert before == after
    assert recorder.seen == [("/api/assessment/openapi.json", "/api/assessment")]


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_websocket_and_lifespan_go_to_the_wrapped_app_even_under_the_prefix(scope_type: str) -> None:
    downstream, recorder = Downstream(), RecordingApp(jwt_secret=JWT_SECRET)
    scope = {"type": scope_type, "path": "/assessment/session", "root_path": ""}
    if scope_type == "lifespan":
        del scope["path"]

    async def receive() -> dict[str, Any]:
        raise AssertionError("not expected")

    async def send(message: Any) -> None:
        raise AssertionError("not expected")

    await AssessmentMiddleware(downstream, assessment=recorder)(scope, receive, send)
    assert downstream.scopes == [scope]
    assert downstream.scopes[0] is scope
    assert recorder.seen == []


def test_without_an_assessment_one_is_built_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, make_assessment: Callable[..., AssessmentApp]
) -> None:
    monkeypatch.setenv("ASSESSMENT_MAX_USERS", "9")
    middleware = AssessmentMiddleware(Downstream())
    assert middleware.assessment.settings.max_users == 9
