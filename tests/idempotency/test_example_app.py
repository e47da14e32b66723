"""The example app sends one Idempotency-Key per click: a retry of the click reuses it."""

from __future__ import annotations

import pytest

from tests.example.conftest import Example, clean_env, example
from tests.example.test_browser import _sign_in, browser, page

pytestmark = pytest.mark.browser
__all__ = ["browser", "clean_env", "example", "page"]  # fixtures shared with tests/example


def test_each_click_has_its_own_key_and_a_retried_click_keeps_it(example: Example, page: object) -> None:
    from playwright.sync_api import Page, Route, expect

    assert isinstance(page, Page)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.headers.get("idempotency-key", ""))
            if r.method == "POST" and r.url.endswith("/assessment/session") else None)
    dropped: list[int] = []

    def drop_first_try(route: Route) -> None:
        # The network fails on the first attempt of the first click: nothing reaches the server.
        if not dropped:
            dropped.append(1)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/assessment/session", drop_first_try)
    _sign_in(page, example.url)
    page.get_by_label("Ada Lovelace").check()
    page.get_by_test_id("create-session").click()
    expect(page.get_by_test_id("assessment-portal-overlay")).to_be_visible()
    page.get_by_test_id("assessment-portal-close").click()
    page.get_by_test_id("create-session").click()
    expect(page.get_by_test_id("assessment-portal-overlay")).to_be_visible()

    first_click, retry, second_click = sent
    assert first_click == retry  # the retry of one click reuses its key
    assert second_click != first_click  # a new click is a new intent
    assert all(0 < len(key) <= 255 for key in sent)
    expect(page.get_by_test_id("error")).to_be_hidden()
