"""OpenTelemetry spans and metrics, through `opentelemetry-api` only (the `otel` extra).

Without the API installed nothing here imports it and each request costs one small object.
With the API and no SDK configured, the API's own no-op tracer and meter answer. Configure
an SDK (`TracerProvider`, `MeterProvider`) in your process and the spans appear:

- `POST <mount>/session` (server span; under Starlette the mount's route template, such as
  `/t/{tenant}/assessment`, never the concrete path): `assessment.code`,
  `http.response.status_code`, `assessment.candidates` (a count),
  `assessment.idempotent_replayed`, and `assessment.tenant` when the recruiter has one;
- one child span per platform call (`SmartAI <operation>`), built from the client's
  `on_call` report with its real start and end: engine, attempts, status, the platform's
  request id, `error.type`.

Metrics: `assessment.session.duration` (by code and status), `assessment.platform.duration`
(by operation, engine, error), `assessment.platform.retries`, `assessment.rate_limit.rejections`.

No attribute carries a name, an email, a token, a key or the recruiter: counts, codes and ids
the platform made up only. The tenant is a span attribute, and a metric label only with
`tenant_metric_label=True` (`ASSESSMENT_TENANT_METRIC_LABEL`): tenants can be many.
"""

from __future__ import annotations

import functools
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.routing import Match, Mount, compile_path

from ._version import __version__
from .platform._observe import PlatformCall

if TYPE_CHECKING:
    from ._models import Candidate, Recruiter

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import propagate as otel_propagate
    from opentelemetry import trace as otel_trace
except ImportError:  # the otel extra is not installed: everything below is a no-op
    otel_context = None  # type: ignore[assignment]
    otel_metrics = None  # type: ignore[assignment]
    otel_propagate = None  # type: ignore[assignment]
    otel_trace = None  # type: ignore[assignment]

_SCOPE = "assessment_asgi"
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate"})
RATE_LIMIT_CODES = frozenset({"rate_limited", "platform_rate_limited"})


def mount_template(scope: Any) -> str:
    """Where the app is mounted, as a route template (`/t/{tenant}/assessment`).

    Starlette's router puts the route it matched in `scope["route"]` (for a sub-app, the
    innermost `Mount`) and the outermost router in `scope["router"]`; the templates of the
    mounts from one to the other make the path. A path parameter's value never becomes a span
    name (that would be one series per tenant). Elsewhere (no Starlette mount): `root_path`.
    """
    root_path: str = scope.get("root_path", "")
    target = scope.get("route")
    if not isinstance(target, Mount):
        return root_path
    template, matched = _walk(scope, target)
    if matched is None:
        return template
    # A layer without routes (a middleware) hid the mounts below ``matched``: the innermost
    # mount's template is matched against the end of what is left of root_path.
    rest = root_path[len(matched):] if root_path.startswith(matched) else root_path
    regex = _compiled(target.path)
    for start in [i for i, char in enumerate(rest) if char == "/"] + [len(rest)]:
        if regex.match(rest[start:]):
            return template + rest[:start] + target.path
    return template + rest


def _walk(scope: Any, target: Mount) -> tuple[str, str | None]:
    """The mounts' templates from the outermost router down to `target`, as Starlette
    matched them: `(template, None)`; or, where the walk could not go on, the templates so
    far and the concrete root path they matched."""
    app_root: str = scope.get("app_root_path", "")
    probe: dict[str, Any] = {
        "type": "http", "path": scope.get("path", ""), "root_path": app_root, "path_params": {},
    }
    router, template = scope.get("router"), app_root
    for _ in range(16):  # mounts nested deeper than this: stop walking
        for route in getattr(router, "routes", ()):
            if isinstance(route, Mount):
                match, child = route.matches(probe)
                if match is Match.FULL:
                    break
        else:
            break
        template += route.path
        if route is target:
            return template, None
        probe.update(child)
        router = route
    return template, probe["root_path"]


@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


class Telemetry:
    """The app's OpenTelemetry tracer and instruments; a no-op without `opentelemetry-api`.

    Each app has one (`AssessmentApp.telemetry`); spans and metrics go to whatever SDK
    the host configures, even one configured after the app was built:

    ```python
    app = AssessmentApp()
    app.telemetry.enabled   # True when opentelemetry-api is installed
    ```
    """

    def __init__(self, *, tenant_metric_label: bool = False) -> None:
        self.enabled = otel_trace is not None and otel_metrics is not None
        self.tenant_metric_label = tenant_metric_label
        if otel_trace is None or otel_metrics is None:
            return
        # Proxies: an SDK configured later (after the app is built) still gets everything.
        self.tracer = otel_trace.get_tracer(_SCOPE, __version__)
        meter = otel_metrics.get_meter(_SCOPE, __version__)
        self.session_duration = meter.create_histogram(
            "assessment.session.duration", unit="s",
            description="POST /session, from the first byte read to the answer sent, by code",
        )
        self.platform_duration = meter.create_histogram(
            "assessment.platform.duration", unit="s",
            description="One platform operation, retries and back-off included",
        )
        self.retries = meter.create_counter(
            "assessment.platform.retries", unit="{retry}",
            description="Platform requests sent again after a failed attempt",
        )
        self.rate_limited = meter.create_counter(
            "assessment.rate_limit.rejections", unit="{request}",
            description="Requests answered 429: this server's limit or the platform's",
        )

    def tracing(self) -> bool:
        """Whether an SDK's tracer provider is set (checked per request: it may be set after
        the app is built). Without one the API's spans are no-ops, and none is started."""
        return not isinstance(otel_trace.get_tracer_provider(), otel_trace.ProxyTracerProvider)

    def __repr__(self) -> str:
        label = ", tenant_metric_label=True" if self.tenant_metric_label else ""
        return f"Telemetry(enabled={self.enabled}{label})"

    def request(self, route: str | None = None, headers: Any = (), *, scope: Any = None) -> RequestRecord:
        """The record of one request; `headers` (ASGI pairs) may carry a `traceparent`. Or,
        given the ASGI `scope` of a `POST /session`, both are read from it, and only when a
        span is started (the route is the mount's template plus `/session`)."""
        return RequestRecord(self, route, headers, scope)


@dataclass(slots=True)
class RequestRecord:
    """What one `POST /session` came to: read by telemetry and by the audit hooks."""

    telemetry: Telemetry
    route: str | None = None
    headers: Any = ()
    scope: Any = None
    code: str = "ok"
    status: int = 200
    recruiter: Recruiter | None = None
    candidates: tuple[Candidate, ...] = ()
    platform_request_id: str | None = None
    expires_at: str | None = None
    replayed: bool = False
    created: bool = False
    started: float = field(default_factory=time.perf_counter)
    span: Any = None
    _token: Any = None
    _attached: Any = None

    def __enter__(self) -> RequestRecord:
        self._token = _CURRENT.set(self)
        if self.telemetry.enabled and self.telemetry.tracing():
            route, headers = self.route, self.headers
            if route is None:  # the template: never a tenant's value
                route, headers = f"{mount_template(self.scope)}/session", self.scope.get("headers", ())
            parent, kind = None, otel_trace.SpanKind.INTERNAL
            if not otel_trace.get_current_span().get_span_context().is_valid:
                # No host instrumentation: this is the server span, continuing the caller's
                # trace when it sent a W3C traceparent.
                kind = otel_trace.SpanKind.SERVER
                carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers
                           if k in _PROPAGATION_HEADERS}
                parent = otel_propagate.extract(carrier) if carrier else None
            self.span = self.telemetry.tracer.start_span(
                f"POST {route}", context=parent, kind=kind,
                attributes={"http.request.method": "POST", "http.route": route},
            )
            # Current, so spans of other instrumentations (database, HTTP) nest under it.
            self._attached = otel_context.attach(otel_trace.set_span_in_context(self.span))
        return self

    def __exit__(self, *exc_info: object) -> None:
        _CURRENT.reset(self._token)
        if not self.telemetry.enabled:
            return
        attributes: dict[str, str | int] = {
            "assessment.code": self.code, "http.response.status_code": self.status,
        }
        tenant = {"assessment.tenant": self.recruiter.tenant} if (
            self.recruiter is not None and self.recruiter.tenant is not None) else {}
        labels = {**attributes, **tenant} if self.telemetry.tenant_metric_label else attributes
        self.telemetry.session_duration.record(time.perf_counter() - self.started, labels)
        if self.code in RATE_LIMIT_CODES:
            self.telemetry.rate_limited.add(1, {
                "assessment.code": self.code,
                **(tenant if self.telemetry.tenant_metric_label else {}),
            })
        span = self.span
        if span is None:  # no SDK's tracer provider when the request began
            return
        otel_context.detach(self._attached)
        if span.is_recording():
            span.set_attributes({
                **attributes,
                **tenant,
                "assessment.candidates": len(self.candidates),
                "assessment.idempotent_replayed": self.replayed,
            })
            if self.code != "ok":
                span.set_attribute("error.type", self.code)
            if self.status >= 500:
                span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR))
        span.end()

    def refused(self, code: str, status: int) -> None:
        self.code, self.status = code, status

    def platform_call(self, call: PlatformCall) -> None:
        self.platform_request_id = call.request_id or self.platform_request_id
        if not self.telemetry.enabled:
            return
        t = self.telemetry
        labels: dict[str, str] = {"assessment.operation": call.operation, "assessment.engine": call.engine}
        if call.error:
            labels["error.type"] = call.error
        t.platform_duration.record(call.duration, labels)
        if call.attempts > 1:
            t.retries.add(call.attempts - 1, {"assessment.operation": call.operation})
        if self.span is None or not self.span.is_recording():
            return
        attributes: dict[str, str | int] = {**labels, "assessment.attempts": call.attempts}
        if call.status_code is not None:
            attributes["http.response.status_code"] = call.status_code
        if call.request_id:
            attributes["assessment.platform.request_id"] = call.request_id
        child = t.tracer.start_span(
            f"SmartAI {call.operation}",
            context=otel_trace.set_span_in_context(self.span),
            kind=otel_trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=call.start_time_ns,
        )
        if call.error:
            child.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR))
        child.end(end_time=call.start_time_ns + int(call.duration * 1e9))


_CURRENT: ContextVar[RequestRecord | None] = ContextVar("assessment_asgi_request", default=None)


def observe_platform_call(call: PlatformCall) -> None:
    """A `SmartAIClient(on_call=...)` observer: adds the call to the current request's record.

    The app's own client uses it; pass it to a client you inject to get the platform spans
    and the request id in audit events:

    ```python
    AssessmentApp(client=SmartAIClient(base_url=..., on_call=AssessmentApp.observe_platform_call))
    ```
    """
    record = _CURRENT.get()
    if record is not None:
        record.platform_call(call)
