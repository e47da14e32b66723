"""What doctor's signed read-only call says about the setup, when it fails.

FAIL for a setup that makes every request fail (the setting and its fix named), warn only
for what a request could survive: the platform answered 404 for the base URL, or refused
the keys, and every `POST /session` would answer 502 with those settings.
"""

from __future__ import annotations

from typing import Literal

from .platform import SmartAIAuthError, SmartAIError

Status = Literal["ok", "warn", "FAIL", "info"]
API_KEY = "ASSESSMENT_API_KEY"
SECRET_KEY = "ASSESSMENT_SECRET_KEY"  # noqa: S105 - a variable name

# Answers no retry or wait could change, for a signed GET without input: every call fails alike.
_WRONG_PATH = frozenset({404, 405, 410})
_TRANSIENT = frozenset({408, 425, 429})
# What a 2xx that is not the platform's envelope says (see platform/_exchange.py).
_NOT_THE_API = ("is not JSON", "is not a JSON object", "has no data", "does not match")


def call_outcome(exc: SmartAIError, url: str, source: str) -> tuple[Status, str, str]:
    """(status, message, fix) for a failed call to `url` (already shown safely); `source`
    names the setting of the base URL (`ASSESSMENT_BASE_URL` or `--base-url`)."""
    status = exc.status_code
    fix_url = (f"set {source} to the platform's base URL, including /api/v1 "
               "(https://<platform host>/api/v1)")
    if isinstance(exc, SmartAIAuthError):
        return (
            "FAIL", f"the platform refused the keys (HTTP {status}): every call will fail",
            f"copy {API_KEY} and {SECRET_KEY} again from the SmartAI dashboard, for this "
            "platform's environment (test keys for the test environment)",
        )
    if status in _WRONG_PATH:
        return (
            "FAIL", f"{source}: the platform answers HTTP {status} for {url}/assessments, "
            "so every call will fail", fix_url,
        )
    if status is not None and 300 <= status < 400:
        return (
            "FAIL", f"{source}: {url} answers a redirect (HTTP {status}), and platform "
            "calls never follow redirects (the keys must not travel on)",
            f"set {source} to the URL the redirect points at (https, exact host and path)",
        )
    if status is not None and 200 <= status < 300 and any(t in exc.message for t in _NOT_THE_API):
        return (
            "FAIL", f"{source}: {url} is not the platform's API (HTTP {status} with an "
            "answer that is not the platform's JSON)", fix_url,
        )
    if status is not None and 400 <= status < 500 and status not in _TRANSIENT:
        return (
            "FAIL", f"the platform refused a signed read-only call (HTTP {status}): every call "
            "will fail", f"check {source} and the keys ({API_KEY}, {SECRET_KEY})",
        )
    shown_status = f"HTTP {status}" if status is not None else "no answer"
    return (
        "warn", f"could not verify the keys: {type(exc).__name__} ({shown_status})",
        "check the platform's status, then run doctor again",
    )
