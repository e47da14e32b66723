"""The example app in real headless Chromium: sign in, pick candidates, open the portal."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Example

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
PICKED = ["Ada Lovelace", "Grace Hopper", "Radia Perlman"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        # Fail, never skip: a missing browser must not turn this test green.
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test does this)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def _sign_in(page: object, url: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(url + "/")
    expect(page.get_by_test_id("dev-only-warning")).to_contain_text("Development only")
    page.get_by_test_id("signin-name").fill("Rita Recruiter")
    page.get_by_test_id("signin-email").fill("rita@hire.example")
    page.get_by_test_id("signin-button").click()
    page.wait_for_url(url + "/candidates")
    expect(page.get_by_test_id("recruiter")).to_contain_text("Rita Recruiter <rita@hire.example>")


def test_recruiter_signs_in_picks_three_candidates_and_the_portal_opens_once(
    example: Example, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _sign_in(page, example.url)
    expect(page.get_by_test_id("candidate-row")).to_have_count(8)
    for name in PICKED:
        page.get_by_label(name).check()
    expect(page.get_by_test_id("selected-count")).to_have_text("3 selected")

    page.get_by_test_id("create-session").click()
    expect(page.get_by_test_id("assessment-portal-overlay")).to_be_visible()
    portal = page.frame_locator("[data-testid=assessment-portal-frame]")
    expect(portal.get_by_test_id("portal-candidate")).to_have_count(3)
    expect(portal.get_by_test_id("candidate-name")).to_have_text(PICKED)
    expect(portal.get_by_test_id("recruiter-email")).to_have_text("rita@hire.example")
    expect(page.get_by_test_id("status")).to_contain_text("The portal is open")
    expect(page.get_by_test_id("error")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "portal.png"))

    # The docs' rule: a token opens the portal once; reusing it shows "Token expired".
    page.get_by_test_id("assessment-portal-close").click()
    expect(page.get_by_test_id("assessment-portal-overlay")).to_have_count(0)
    page.get_by_test_id("reopen-same-token").click()
    expect(portal.get_by_test_id("portal-error")).to_have_text("Token expired")
    expect(page.get_by_test_id("error")).to_contain_text("Token expired")
    page.screenshot(path=str(ARTIFACTS / "portal-token-expired.png"))

    # A fresh session works again, for the candidates still ticked.
    page.get_by_test_id("assessment-portal-close").click()
    page.get_by_test_id("create-session").click()
    expect(portal.get_by_test_id("portal-candidate")).to_have_count(3)
    expect(page.get_by_test_id("error")).to_be_hidden()


def test_the_status_line_follows_the_portal_when_the_same_token_is_opened_again(
    example: Example, page: object
) -> None:
    # Issue 21: after "Open the same token again" the status line still said "The portal was
    # closed." while the portal showed "Token expired".
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _sign_in(page, example.url)
    page.get_by_label("Ada Lovelace").check()
    page.get_by_test_id("create-session").click()
    status = page.get_by_test_id("status")
    expect(status).to_have_text("The portal is open.")
    page.get_by_test_id("assessment-portal-close").click()
    expect(status).to_have_text("The portal was closed.")

    page.get_by_test_id("reopen-same-token").click()
    portal = page.frame_locator("[data-testid=assessment-portal-frame]")
    expect(portal.get_by_test_id("portal-error")).to_have_text("Token expired")
    expect(status).to_have_text("The portal did not open: Token expired.")
    page.get_by_test_id("assessment-portal-close").click()
    expect(status).to_have_text("The portal was closed.")


def test_a_recruiter_of_the_second_company_creates_the_session_on_its_organisation(
    example: Example, page: object
) -> None:
    # Issue 20: the company picked at sign-in decides whose platform account the session is on.
    from playwright.sync_api import Page, expect
    from record_assessment_backend import AssessmentClient

    assert isinstance(page, Page)
    page.goto(example.url + "/")
    page.get_by_test_id("signin-company").select_option(label="Globex Talent")
    page.get_by_test_id("signin-button").click()
    page.wait_for_url(example.url + "/candidates")
    expect(page.get_by_test_id("recruiter")).to_contain_text("Globex Talent")
    page.get_by_label("Grace Hopper").check()
    page.get_by_test_id("create-session").click()
    portal = page.frame_locator("[data-testid=assessment-portal-frame]")
    expect(portal.get_by_test_id("candidate-name")).to_have_text(["Grace Hopper"])
    expect(page.get_by_test_id("status")).to_have_text("The portal is open.")

    def listed(company: str) -> list[int]:
        keys = example.app.state.organisations[company]
        platform = example.url + "/sandbox/api/v1"
        client = AssessmentClient(
            api_key=keys.api_key.get_secret_value(), secret_key=keys.secret_key.get_secret_value(),
            base_url=platform, webhook_base_url=platform, timeout=10.0,
        )
        return [item["totalCandidates"] for item in client.list_assessments()]

    assert listed("globex") == [1]  # the opened session, on Globex's organisation
    assert listed("acme") == []


def test_without_signing_in_the_page_shows_the_401_from_the_endpoint(
    example: Example, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _sign_in(page, example.url)
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(example.url + "/")
    page.goto(example.url + "/candidates")
    expect(page.get_by_test_id("recruiter")).to_have_text("Not signed in")
    page.get_by_label("Alan Turing").check()
    page.get_by_test_id("create-session").click()

    error = page.get_by_test_id("error")
    expect(error).to_be_visible()
    # The endpoint's own message, its code and status, and what to do about it.
    expect(error).to_have_text(
        re.compile(r"^\S.* \(code: unauthorized, HTTP 401\) Sign in to get a recruiter token\.$")
    )
    expect(page.get_by_test_id("assessment-portal-overlay")).to_have_count(0)
    assert example.sandbox.pending_events() == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "example-error.png"), full_page=True)


def test_a_forged_token_and_an_empty_selection_show_their_errors_in_the_page(
    example: Example, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _sign_in(page, example.url)
    page.get_by_test_id("create-session").click()  # nothing ticked: the docs' `users: []` row
    error = page.get_by_test_id("error")
    expect(error).to_contain_text("users must be a non-empty list")
    expect(error).to_contain_text("code: users_required, HTTP 400")

    page.evaluate(
        "sessionStorage.setItem('example_app.recruiter_token', 'eyJhbGciOiJIUzI1NiJ9.e30.forged')"
    )
    page.get_by_label("Grace Hopper").check()
    page.get_by_test_id("create-session").click()
    expect(error).to_contain_text("(code: unauthorized, HTTP 401)")
    expect(page.get_by_test_id("assessment-portal-overlay")).to_have_count(0)
