"""The tenant on the request span; as a metric label only when asked (tenants can be many)."""

from __future__ import annotations

from typing import Any

from assessment_asgi import Credentials, Recruiter
from tests._fake import API_KEY, SECRET_KEY, USERS, make_token
from tests._features import Sandbox, assessment_app, served

from .conftest import Exported
from .test_spans import everything_exported


def keys(recruiter: Recruiter) -> Credentials | None:
    return Credentials(API_KEY, SECRET_KEY) if recruiter.tenant == "acme" else None


def post_as(client: Any, url: str, tenant: str) -> int:
    token = make_token(org_id=tenant)
    response = client.post(url, json={"users": USERS}, headers={"Authorization": f"Bearer {token}"})
    return int(response.status_code)


def test_the_request_span_carries_the_tenant_and_metrics_do_not(
    sandbox: Sandbox, exported: Exported
) -> None:
    app = assessment_app(sandbox, tenant_claim="org_id", keys=keys)
    with served(app) as (client, url):
        assert [post_as(client, url, t) for t in ("acme", "initech")] == [200, 403]
    requests = [s for s in exported.spans.get_finished_spans() if s.name == "POST /assessment/session"]
    assert [(s.attributes or {}).get("assessment.tenant") for s in requests] == ["acme", "initech"]
    assert (requests[1].attributes or {})["error.type"] == "tenant_unknown"
    points = exported.points()
    labels = [dict(p.attributes) for p in points["assessment.session.duration"]]
    assert all("assessment.tenant" not in label for label in labels)
    assert sorted(label["assessment.code"] for label in labels) == ["ok", "tenant_unknown"]
    text = everything_exported(exported, points)
    assert API_KEY not in text
    assert SECRET_KEY not in text


def test_a_single_tenant_deployment_has_no_tenant_attribute(sandbox: Sandbox, exported: Exported) -> None:
    with served(assessment_app(sandbox)) as (client, url):
        assert post_as(client, url, "acme") == 200
    (request,) = [s for s in exported.spans.get_finished_spans()
                  if s.name == "POST /assessment/session"]
    assert "assessment.tenant" not in (request.attributes or {})


def test_the_tenant_is_a_metric_label_when_the_deployment_opts_in(
    sandbox: Sandbox, exported: Exported
) -> None:
    app = assessment_app(sandbox, tenant_claim="org_id", keys=keys, tenant_metric_label=True,
                         rate_limit="1/minute")
    assert "tenant_metric_label=True" in repr(app.telemetry)
    with served(app) as (client, url):
        assert [post_as(client, url, t) for t in ("acme", "acme", "initech")] == [200, 429, 403]
    points = exported.points()
    durations = sorted((dict(p.attributes)["assessment.tenant"], dict(p.attributes)["assessment.code"])
                       for p in points["assessment.session.duration"])
    assert durations == [("acme", "ok"), ("acme", "rate_limited"), ("initech", "tenant_unknown")]
    (rejected,) = points["assessment.rate_limit.rejections"]
    assert dict(rejected.attributes) == {"assessment.code": "rate_limited", "assessment.tenant": "acme"}
