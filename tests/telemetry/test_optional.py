"""Retries reach the metrics; without opentelemetry-api installed the endpoint works as before."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import anyio

from assessment_asgi import AssessmentApp, Credentials, SmartAIClient
from tests._features import Sandbox
from tests._platform import API_KEY, SECRET_KEY

from .conftest import Exported


def test_a_retried_platform_call_counts_its_retries(sandbox: Sandbox, exported: Exported) -> None:
    # Listing is safe to repeat: the client retries the balancer's 503 once, then succeeds.
    sandbox.door.fail_next = 1
    app = AssessmentApp(jwt_secret="x" * 32)

    async def call() -> None:
        client = SmartAIClient(base_url=sandbox.platform_url, credentials=Credentials(API_KEY, SECRET_KEY),
                               on_call=AssessmentApp.observe_platform_call)
        try:
            with app.telemetry.request("/assessment/session"):
                await client.list_assessments()
        finally:
            await client.aclose()

    anyio.run(call)
    (span,) = [s for s in exported.spans.get_finished_spans() if s.name == "SmartAI list_assessments"]
    assert span.attributes is not None
    assert span.attributes["assessment.attempts"] == 2
    assert span.attributes["assessment.platform.request_id"] == "req_2"
    (retries,) = exported.points()["assessment.platform.retries"]
    assert retries.value == 1
    assert retries.attributes == {"assessment.operation": "list_assessments"}


SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
    import httpx2
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from assessment_asgi import AssessmentApp, Credentials
    from assessment_asgi.sandbox import SandboxApp
    from tests._platform import API_KEY, JWT_SECRET, SECRET_KEY, USERS, auth
    from tests._servers import serve

    sandbox = SandboxApp(credentials=Credentials(API_KEY, SECRET_KEY))
    with serve(sandbox) as platform:
        app = AssessmentApp(base_url=SandboxApp.platform_url(platform), jwt_secret=JWT_SECRET,
                            api_key=API_KEY, secret_key=SECRET_KEY)
        assert not app.telemetry.enabled
        with serve(Starlette(routes=[Mount("/a", app)])) as url:
            response = httpx2.post(url + "/a/session", json={"users": USERS}, headers=auth())
    assert "opentelemetry" not in {name.partition(".")[0] for name in sys.modules if sys.modules[name]}
    print(response.status_code, sorted(response.json()["data"]))
""")


def test_without_the_opentelemetry_api_the_endpoint_works() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                            cwd=str(Path(__file__).parents[2]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "200 ['expiresAt', 'token']"
