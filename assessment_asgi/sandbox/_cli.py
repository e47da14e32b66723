"""`python -m assessment_asgi sandbox [--host H] [--port N] [--organisations N]`: run the
sandbox alone."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._exceptions import ConfigurationError
from .._settings import AssessmentSettings
from ..platform._credentials import TEST_KEY_PREFIX, TEST_SECRET_PREFIX, Credentials
from ._app import SandboxApp, generate_test_credentials
from ._bind import bind_address, exposed_warning, is_loopback, local_url

_API_KEY = "ASSESSMENT_API_KEY"
_SECRET_KEY = "ASSESSMENT_SECRET_KEY"  # noqa: S105 - a variable name
DEFAULT_PORT = 8001


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assessment_asgi sandbox",
        description=(
            "Run the embedded SmartAI sandbox: the platform's API, a portal and a results "
            "queue, in memory. Uses ASSESSMENT_API_KEY/ASSESSMENT_SECRET_KEY when set in the "
            "environment or .env (test keys only), else generates a test pair and prints it."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--min-poll-interval", type=float, default=0.0, metavar="SECONDS",
        help="answer 429 to event polls closer together than this (default 0: off; "
        "the platform rate-limits below 5)",
    )
    parser.add_argument(
        "--public-url", default=None, metavar="URL",
        help="the URL people reach the sandbox at (behind a proxy); links in events start "
        "with it (default: the address each connection reached)",
    )
    parser.add_argument(
        "--organisations", type=int, default=0, metavar="N",
        help="add N more organisations (0-100), each with its own generated test keys, printed "
        "at start-up; one organisation's keys never see another's sessions or events",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
    )
    return parser


def _credentials_from_env() -> tuple[Credentials | None, str | None]:
    """The pair from the environment or `.env` (read by `AssessmentSettings`, as the app
    reads it), or an error message naming the variable."""
    try:
        settings = AssessmentSettings()
    except ConfigurationError as exc:
        return None, str(exc)
    api_key = settings.api_key.get_secret_value().strip() if settings.api_key else ""
    secret_key = settings.secret_key.get_secret_value().strip() if settings.secret_key else ""
    if not api_key and not secret_key:
        return None, None
    if not api_key or not secret_key:
        missing = _API_KEY if not api_key else _SECRET_KEY
        return None, f"{missing} is not set: set both keys, or neither to generate a test pair"
    if not api_key.startswith(TEST_KEY_PREFIX):
        return None, (
            f"{_API_KEY} looks like a live key: the sandbox accepts test keys only "
            f"({TEST_KEY_PREFIX}…). Unset it to generate a test pair."
        )
    if not secret_key.startswith(TEST_SECRET_PREFIX):
        return None, (
            f"{_SECRET_KEY} looks like a live key: the sandbox accepts test keys only "
            f"({TEST_SECRET_PREFIX}…). Unset it to generate a test pair."
        )
    return Credentials(api_key, secret_key), None


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if not 0 < args.port < 65536:
        print(f"error: --port must be 1-65535, got {args.port}", file=sys.stderr)
        return 2
    if not 0 <= args.organisations <= 100:
        print(f"error: --organisations must be 0-100, got {args.organisations}", file=sys.stderr)
        return 2
    credentials, problem = _credentials_from_env()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    generated = credentials is None
    if credentials is None:
        credentials = generate_test_credentials()
    try:
        import uvicorn
    except ImportError:
        print(
            "error: running the sandbox needs uvicorn: pip install 'assessment-asgi[server]'",
            file=sys.stderr,
        )
        return 2
    try:
        app = SandboxApp(
            credentials=credentials,
            min_poll_interval=args.min_poll_interval,
            public_url=args.public_url,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    added = [app.add_organisation() for _ in range(args.organisations)]

    if not is_loopback(args.host):
        print(exposed_warning("sandbox", args.host, args.port), file=sys.stderr, flush=True)
    url = args.public_url or local_url(args.host, args.port)
    lines = [
        f"SmartAI sandbox (in memory) listening on {bind_address(args.host, args.port)}",
        f"  open: {url}",
        f"  ASSESSMENT_BASE_URL={SandboxApp.platform_url(url)}",
        f"  portal script: {SandboxApp.portal_script_url(url)}",
    ]
    if generated:
        # Generated *test* keys are printed on purpose: they exist only in this process and
        # the developer needs them to configure a client. Keys from the environment are not.
        lines += [
            "  generated test keys (valid until this process stops):",
            f"  {_API_KEY}={credentials.api_key.get_secret_value()}",
            f"  {_SECRET_KEY}={credentials.secret_key.get_secret_value()}",
        ]
    else:
        lines.append(f"  using the test keys from {_API_KEY} / {_SECRET_KEY}")
    for number, keys in enumerate(added, start=2):
        # Always generated here, so printed like the generated pair above.
        lines += [
            f"  organisation {number}: generated test keys (valid until this process stops):",
            f"  {_API_KEY}={keys.api_key.get_secret_value()}",
            f"  {_SECRET_KEY}={keys.secret_key.get_secret_value()}",
        ]
    print("\n".join(lines), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
