"""What an operator reads in the log when a hook fails: the whole stack, every exception of the
chain by type, no exception message, and no secret the app knows of — even one written into the
source line of a frame (a hard-coded key, the caller's token pasted into a debug line)."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest

from assessment_asgi import AssessmentApp
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, USERS

pytestmark = pytest.mark.anyio

WITHHELD = "(message withheld: it may quote secrets)"
# Literal values the failing hooks below repeat in their own source lines.
CALLER_TOKEN = "caller-opaque-token-5f1e"  # sent as "Bearer <token>"
COOKIE = "sid=cookie-value-7c2d"
HEADER_KEY = "hk6abc"  # six characters: the shortest value still redacted
HEADER_SECRET = "header-secret-key-0d4e"


def shallow(request: Any) -> Any:
    raise KeyError(API_KEY + SECRET_KEY + JWT_SECRET + CALLER_TOKEN + COOKIE + HEADER_KEY + HEADER_SECRET)


def deep(request: Any) -> Any:
    try:
        {}["x"]
    except KeyError as first:
        raise ValueError("the second failure") from first


def context_only(request: Any) -> Any:
    try:
        int("not a number")
    except ValueError:
        raise LookupError("while handling the first") from None


def implicit(request: Any) -> Any:
    try:
        int("not a number")
    except ValueError:
        raise OSError("during handling")  # noqa: B904  an implicit chain, on purpose


async def logged_error(hook: Any, caplog: pytest.LogCaptureFixture, **headers: str) -> str:
    app = AssessmentApp(
        authenticate=hook, jwt_secret=JWT_SECRET, api_key=API_KEY, secret_key=SECRET_KEY,
        base_url="http://127.0.0.1:9/api/v1",
    )
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/session", json={"users": USERS}, headers=headers)
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.name == "assessment_asgi"
    return record.getMessage()


async def test_known_secrets_in_a_frame_are_replaced(caplog: pytest.LogCaptureFixture) -> None:
    text = await logged_error(
        shallow, caplog, authorization=f"Bearer {CALLER_TOKEN}", cookie=COOKIE,
        **{"x-api-key": HEADER_KEY, "x-secret-key": HEADER_SECRET},
    )
    assert "Traceback (most recent call last):\n" in text
    assert 'in shallow\n    raise KeyError(API_KEY + SECRET_KEY' in text  # the frame and its line
    assert f"builtins.KeyError: {WITHHELD}\n" in text
    assert "which led to" not in text
    for secret in (CALLER_TOKEN, COOKIE, HEADER_KEY, HEADER_SECRET, API_KEY, SECRET_KEY, JWT_SECRET):
        assert secret not in text


async def test_a_line_quoting_header_values_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    def quoting(request: Any) -> Any:
        raise RuntimeError("caller-opaque-token-5f1e sid=cookie-value-7c2d hk6abc header-secret-key-0d4e")

    text = await logged_error(
        quoting, caplog, authorization=f"Bearer {CALLER_TOKEN}", cookie=COOKIE,
        **{"x-api-key": HEADER_KEY, "x-secret-key": HEADER_SECRET},
    )
    assert 'raise RuntimeError("[redacted] [redacted] [redacted] [redacted]")' in text


async def test_settings_secrets_are_redacted_longest_first(caplog: pytest.LogCaptureFixture) -> None:
    def quoting(request: Any) -> Any:
        raise RuntimeError("CANARY-JWT-SECRET-0123456789abcdef0123456789 and abc12 stay")

    text = await logged_error(quoting, caplog, authorization="Bearer JWT-SECRET-0123456789")
    # The token is part of the JWT secret: the secret goes whole, not half-replaced; "abc12"
    # is shorter than any secret, and redacting it would garble ordinary words.
    assert 'raise RuntimeError("[redacted] and abc12 stay")' in text


async def test_every_exception_of_a_chain_is_listed(caplog: pytest.LogCaptureFixture) -> None:
    text = await logged_error(deep, caplog)
    first, _, second = text.partition("\nwhich led to:\n\n")
    assert f"builtins.KeyError: {WITHHELD}\n" in first
    assert f"builtins.ValueError: {WITHHELD}\n" in second
    assert second.startswith("Traceback (most recent call last):\n")


async def test_an_implicit_chain_is_listed_and_from_none_is_not(caplog: pytest.LogCaptureFixture) -> None:
    text = await logged_error(implicit, caplog)
    assert text.count("which led to") == 1
    assert "builtins.ValueError" in text
    assert "builtins.OSError" in text
    caplog.clear()
    text = await logged_error(context_only, caplog)
    assert "which led to" not in text
    assert "builtins.ValueError" not in text
    assert f"builtins.LookupError: {WITHHELD}" in text
