"""Numbers from the wire are ASCII digits only: ``²`` or ``٣`` is "no number", never a crash."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from assessment_asgi._numbers import ascii_int, ascii_seconds
from assessment_asgi.platform._config import parse_retry_after
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

# Each passes str.isdigit() (or float()), and none is a number an HTTP peer meant.
NOT_ASCII = ["²", "³¹", "٣", "\uff11\uff12", "1²", "߁", "1_000", " 1", "1 ", "+1", "-1", "1e3", ""]


@pytest.mark.parametrize("value", NOT_ASCII)
def test_only_ascii_digits_are_numbers(value: str) -> None:
    assert ascii_int(value) is None
    assert ascii_int(value.encode("utf-8")) is None
    assert ascii_seconds(value) is None


def test_ascii_numbers_are_read_and_bounded() -> None:
    assert (ascii_int("120"), ascii_int(b"007"), ascii_seconds("1.5")) == (120, 7, 1.5)
    assert ascii_int("9" * 19) is None  # over max_digits: refused, not computed
    assert ascii_int("9" * 16, max_digits=16) == int("9" * 16)


@pytest.mark.parametrize("value", ["²", "٣", "1²", "߁"])
def test_retry_after_in_other_digits_is_ignored(value: str) -> None:
    # Before: "²".isdigit() let int() raise, so a 429 became a 500 and the poller's task died.
    assert parse_retry_after(value) is None


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = SandboxApp()
    with serve(app) as url:
        yield app, url


def test_the_sandbox_refuses_odd_digits_in_x_timestamp_and_limit(
    sandbox: tuple[SandboxApp, str],
) -> None:
    app, url = sandbox
    api_key = app.credentials.api_key.get_secret_value()
    body = {"users": [{"name": "Ada", "email": "ada@example.com"}], "recruiterEmail": "r@example.com"}
    with httpx2.Client(base_url=url, timeout=10) as client:
        signed = client.post(
            "/api/v1/sessions", json=body,
            headers={"x-api-key": api_key, "x-signature": "0" * 64,
                     "x-timestamp": "²".encode("latin-1")},
        )
        limits = [
            client.get("/api/v1/webhook/events", params={"limit": value},
                       headers={"x-api-key": api_key})
            for value in ("²", "٣", "1²")
        ]
    assert signed.status_code == 401
    assert [r.status_code for r in limits] == [400, 400, 400]
