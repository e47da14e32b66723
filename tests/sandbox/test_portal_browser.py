"""``AssessmentPortal.open({ token })`` in real headless Chromium, on a host page of another
origin than the sandbox, as a recruiter app would use it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

from .conftest import Running

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


def _host_page(script_url: str) -> Starlette:
    page = f"""<!doctype html><html><body>
<h1>Recruiter app</h1><p id="log"></p>
<script src="{script_url}"></script>
<script>
window.portalEvents = [];
window.openPortal = function (token) {{
  return AssessmentPortal.open({{
    token: token,
    onOpen: function (d) {{ window.portalEvents.push("open"); }},
    onError: function (e) {{ window.portalEvents.push("error:" + e.message); }},
    onComplete: function (d) {{ window.portalEvents.push("complete:" + d.score); }},
    onClose: function () {{ window.portalEvents.push("close"); }}
  }});
}};
</script></body></html>"""

    async def home(request: object) -> HTMLResponse:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", home)])


@pytest.fixture
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_portal_opens_once_in_the_browser_and_finishing_queues_a_result(
    sandbox: Running, browser_page: object
) -> None:
    from playwright.sync_api import Page, expect

    page = browser_page
    assert isinstance(page, Page)
    token = httpx2.post(
        f"{sandbox.url}/api/v1/sessions", headers=sandbox.keys,
        json={"users": [{"name": "Priya Sharma", "email": "priya@example.com"},
                        {"name": "Jon Park", "email": "jon@example.com"}],
              "recruiterEmail": "rec@example.com"},
    ).json()["data"]["token"]

    with serve(_host_page(SandboxApp.portal_script_url(sandbox.url)), "uvicorn") as host:
        page.goto(host)
        page.evaluate("token => window.openPortal(token)", token)
        frame = page.frame_locator("#assessment-portal-frame")
        rows = frame.get_by_test_id("portal-candidate")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).get_by_test_id("candidate-name")).to_have_text("Priya Sharma")
        expect(rows.nth(0).get_by_test_id("candidate-email")).to_have_text("priya@example.com")
        expect(frame.get_by_test_id("recruiter-email")).to_have_text("rec@example.com")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "sandbox-portal.png"))

        rows.nth(1).get_by_test_id("finish-button").click()
        expect(rows.nth(1).get_by_test_id("candidate-status")).to_contain_text("Finished")
        events = httpx2.get(
            f"{sandbox.url}/api/v1/webhook/events", headers={"x-api-key": sandbox.api_key}
        ).json()["data"]["events"]
        assert [e["candidateEmail"] for e in events] == ["jon@example.com"]

        page.get_by_test_id("assessment-portal-close").click()
        expect(page.locator("#assessment-portal-overlay")).to_have_count(0)

        page.evaluate("token => window.openPortal(token)", token)
        expect(
            page.frame_locator("#assessment-portal-frame").get_by_test_id("portal-error")
        ).to_have_text("Token expired")
        page.screenshot(path=str(ARTIFACTS / "sandbox-portal-token-expired.png"))
        page.wait_for_function("window.portalEvents.length >= 4")
        logged = page.evaluate("window.portalEvents")
        assert logged[0] == "open"
        assert logged[1].startswith("complete:")
        assert logged[2:] == ["close", "error:Token expired"]
