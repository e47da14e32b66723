"""OpenTelemetry through the API, proven with the SDK's in-memory exporters on real servers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests._fake import CANARIES, USERS, auth
from tests._features import Sandbox, assessment_app, served

from .conftest import Exported

PERSONAL = [*CANARIES, *(u["name"] for u in USERS), *(u["email"] for u in USERS),
            "rec_42", "rita@hire.example"]


def everything_exported(exported: Exported, points: dict[str, list[Any]]) -> str:
    """Every span name, attribute, event and status, and every metric attribute, as text."""
    spans = [
        {"name": s.name, "attributes": dict(s.attributes or {}), "status": s.status.description,
         "events": [(e.name, dict(e.attributes or {})) for e in s.events]}
        for s in exported.spans.get_finished_spans()
    ]
    metric_attributes = [dict(p.attributes or {}) for found in points.values() for p in found]
    return json.dumps([spans, metric_attributes], default=str)


def test_a_request_span_with_a_child_span_per_platform_call(sandbox: Sandbox, exported: Exported) -> None:
    with served(assessment_app(sandbox)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.status_code == 200
    token = response.json()["data"]["token"]

    spans = {s.name: s for s in exported.spans.get_finished_spans()}
    request, call = spans["POST /assessment/session"], spans["SmartAI create_session"]
    assert request.kind is SpanKind.SERVER
    assert request.attributes == {
        "http.request.method": "POST", "http.route": "/assessment/session",
        "assessment.code": "ok", "http.response.status_code": 200,
        "assessment.candidates": 3, "assessment.idempotent_replayed": False,
    }
    assert call.kind is SpanKind.CLIENT
    assert call.parent is not None
    assert call.parent.span_id == request.context.span_id
    assert call.context.trace_id == request.context.trace_id
    assert call.attributes is not None
    assert call.attributes["assessment.engine"] in {"aiohttp", "httpx2", "pyreqwest"}
    assert call.attributes["assessment.attempts"] == 1
    assert call.attributes["http.response.status_code"] == 200
    assert call.attributes["assessment.platform.request_id"].startswith("req_")
    # The platform call happened inside the request, with its own measured times.
    assert request.start_time is not None
    assert call.start_time is not None
    assert call.end_time is not None
    assert request.end_time is not None
    assert request.start_time <= call.start_time <= call.end_time <= request.end_time

    points = exported.points()
    (duration,) = points["assessment.session.duration"]
    assert duration.count == 1
    assert duration.attributes == {"assessment.code": "ok", "http.response.status_code": 200}
    (platform,) = points["assessment.platform.duration"]
    assert platform.count == 1
    assert platform.attributes["assessment.operation"] == "create_session"
    text = everything_exported(exported, points)
    for value in [*PERSONAL, token]:
        assert value not in text


@pytest.mark.parametrize("idempotency_key", [None, "click-1"])
def test_a_refusal_carries_its_code_and_status(
    sandbox: Sandbox, exported: Exported, idempotency_key: str | None
) -> None:
    headers = auth()
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    with served(assessment_app(sandbox)) as (client, url):
        response = client.post(url, json={"users": [{"name": "Ada", "email": "not-an-email"}]},
                               headers=headers)
    assert response.status_code == 400
    (span,) = exported.spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["assessment.code"] == "invalid_body"
    assert span.attributes["error.type"] == "invalid_body"
    assert span.attributes["http.response.status_code"] == 400
    assert span.status.status_code is StatusCode.UNSET  # a client's mistake is not a server error
    assert "not-an-email" not in everything_exported(exported, exported.points())


def test_a_platform_failure_marks_both_spans_as_errors(sandbox: Sandbox, exported: Exported) -> None:
    sandbox.door.fail_next = 1
    with served(assessment_app(sandbox)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert response.json()["code"] == "platform_error"
    spans = {s.name: s for s in exported.spans.get_finished_spans()}
    request, call = spans["POST /assessment/session"], spans["SmartAI create_session"]
    assert request.status.status_code is StatusCode.ERROR
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 502
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes is not None
    assert call.attributes["http.response.status_code"] == 503
    assert call.attributes["error.type"].startswith("SmartAI")
    assert call.attributes["assessment.platform.request_id"] == "req_1"
    (platform,) = exported.points()["assessment.platform.duration"]
    assert platform.attributes["error.type"] == call.attributes["error.type"]


def test_rate_limit_rejections_are_counted(sandbox: Sandbox, exported: Exported) -> None:
    with served(assessment_app(sandbox, rate_limit="1/minute")) as (client, url):
        statuses = [client.post(url, json={"users": USERS}, headers=auth()).status_code for _ in range(2)]
    assert statuses == [200, 429]
    points = exported.points()
    (rejected,) = points["assessment.rate_limit.rejections"]
    assert rejected.value == 1
    assert rejected.attributes == {"assessment.code": "rate_limited"}
    codes = sorted(p.attributes["assessment.code"] for p in points["assessment.session.duration"])
    assert codes == ["ok", "rate_limited"]


def test_a_replay_is_marked_on_its_span(sandbox: Sandbox, exported: Exported) -> None:
    headers = {**auth(), "Idempotency-Key": "replay-me"}
    with served(assessment_app(sandbox)) as (client, url):
        for _ in range(2):
            client.post(url, json={"users": USERS}, headers=headers)
    requests = [s for s in exported.spans.get_finished_spans() if s.name.startswith("POST")]
    assert [s.attributes["assessment.idempotent_replayed"] for s in requests if s.attributes] == [False, True]
    calls = [s for s in exported.spans.get_finished_spans() if s.name.startswith("SmartAI")]
    assert len(calls) == 1  # the replay did not call the platform


def test_the_request_span_continues_the_callers_trace(sandbox: Sandbox, exported: Exported) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {**auth(), "traceparent": f"00-{trace_id}-{parent_id}-01"}
    with served(assessment_app(sandbox)) as (client, url):
        assert client.post(url, json={"users": USERS}, headers=headers).status_code == 200
    spans = {s.name: s for s in exported.spans.get_finished_spans()}
    request, call = spans["POST /assessment/session"], spans["SmartAI create_session"]
    assert request.context.trace_id == int(trace_id, 16)
    assert request.parent is not None
    assert request.parent.span_id == int(parent_id, 16)
    assert call.context.trace_id == int(trace_id, 16)


def test_under_an_instrumented_host_the_span_nests_in_the_hosts(sandbox: Sandbox, exported: Exported) -> None:
    from opentelemetry import trace
    from starlette.types import Receive, Scope, Send

    from assessment_asgi import AssessmentApp

    tracer = trace.get_tracer("host")

    class InstrumentedHost:  # what an ASGI instrumentation middleware does, in four lines
        def __init__(self, app: AssessmentApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            with tracer.start_as_current_span("host request", kind=SpanKind.SERVER):
                await self.app(scope, receive, send)

    with served(assessment_app(sandbox), wrap=InstrumentedHost) as (client, url):
        assert client.post(url, json={"users": USERS}, headers=auth()).status_code == 200
    spans = {s.name: s for s in exported.spans.get_finished_spans()}
    host, request = spans["host request"], spans["POST /assessment/session"]
    assert request.kind is SpanKind.INTERNAL
    assert request.parent is not None
    assert request.parent.span_id == host.context.span_id


def _tenant_hosts(assessment: Any) -> dict[str, Any]:
    from starlette.applications import Starlette
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.routing import Mount

    return {
        "one mount": Starlette(routes=[Mount("/t/{tenant}/assessment", app=assessment)],
                               lifespan=assessment.lifespan),
        "nested mounts": Starlette(
            routes=[Mount("/t/{tenant}", routes=[Mount("/assessment", app=assessment)])],
            lifespan=assessment.lifespan,
        ),
        "a mounted sub-app": Starlette(
            routes=[Mount("/t/{tenant}", app=Starlette(routes=[Mount("/assessment/", app=assessment)]))],
            lifespan=assessment.lifespan,
        ),
        "behind a middleware": Starlette(
            routes=[Mount("/t/{tenant}", app=GZipMiddleware(Starlette(routes=[
                Mount("/assessment", app=assessment)
            ])))],
            lifespan=assessment.lifespan,
        ),
    }


@pytest.mark.parametrize("host", ["one mount", "nested mounts", "a mounted sub-app", "behind a middleware"])
def test_under_a_parametrised_mount_spans_carry_the_route_template(
    sandbox: Sandbox, exported: Exported, host: str
) -> None:
    """Issue 19: span names and ``http.route`` carried the concrete path (one series per tenant)."""
    import httpx2

    from tests._servers import serve

    with serve(_tenant_hosts(assessment_app(sandbox))[host]) as url, httpx2.Client(timeout=30) as client:
        for tenant in ("acme", "globex"):
            response = client.post(f"{url}/t/{tenant}/assessment/session", json={"users": USERS},
                                   headers=auth())
            assert response.status_code == 200
    requests = [s for s in exported.spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [s.name for s in requests] == ["POST /t/{tenant}/assessment/session"] * 2
    assert [(s.attributes or {})["http.route"] for s in requests] == ["/t/{tenant}/assessment/session"] * 2
    text = everything_exported(exported, exported.points())
    assert "acme" not in text
    assert "globex" not in text
