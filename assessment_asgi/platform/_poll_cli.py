"""`python -m assessment_asgi poll`: print queued events as JSON lines.

The configuration is the app's: `AssessmentSettings` reads `ASSESSMENT_API_KEY`,
`ASSESSMENT_SECRET_KEY`, `ASSESSMENT_BASE_URL` (`--base-url` overrides it), the timeouts
and the engine from the environment and `.env`, and checks them as `AssessmentApp()` does.
Events are acknowledged once printed (at least once: an interrupted run may print an event
again next time) unless `--no-ack`.
`--tenants FILE` polls every tenant of a key file instead (see `_poll_tenants`), each
with its own keys; `--redis-url` (or `ASSESSMENT_REDIS_URL`) shares the work between replicas.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

import anyio

from .._build import platform_client
from .._exceptions import ConfigurationError
from .._redact import redacted_traceback
from .._settings import AssessmentSettings, variable
from ._client import SmartAIClient
from ._credentials import Credentials
from ._dispatch import log_invalid
from ._errors import SmartAIError
from ._models import Event
from ._poller import MIN_INTERVAL, ResultsPoller


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= MIN_INTERVAL:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_INTERVAL:g} seconds (platform rate limit)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assessment_asgi poll",
        description="Poll the SmartAI results queue and print each event as one JSON line. "
        "Keys are read from ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY, in the environment "
        "or .env, as the app reads them.",
    )
    parser.add_argument(
        "--base-url",
        help="platform base URL, e.g. https://host/api/v1 (default: ASSESSMENT_BASE_URL, "
        "from the environment or .env)",
    )
    parser.add_argument("--queue-base-url", help="queue base URL when it differs from --base-url")
    parser.add_argument("--once", action="store_true", help="drain the queue once, then exit")
    parser.add_argument(
        "--no-ack", action="store_true", help="print one batch without acknowledging it (implies --once)"
    )
    parser.add_argument(
        "--type",
        action="append",
        dest="types",
        metavar="EVENT",
        help="only print events of this type (repeatable); others are left queued",
    )
    parser.add_argument("--interval", type=_interval, default=30.0, help="seconds between polls (>= 5)")
    parser.add_argument("--limit", type=int, default=100, choices=range(1, 101), metavar="1-100")
    parser.add_argument(
        "--tenants",
        metavar="FILE",
        help="poll every tenant of this JSON/TOML file (tenant -> {api_key, secret_key}) instead of "
        "the ASSESSMENT_* keys; each line is {tenant, payload}",
    )
    parser.add_argument("--redis-url", help="with --tenants: share leases and de-duplication with replicas")
    parser.add_argument("--max-concurrent", type=int, default=8, choices=range(1, 1001), metavar="1-1000",
                        help="with --tenants: tenants polled at once")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def _print(event: Event) -> None:
    sys.stdout.write(json.dumps(event.payload(), ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _run(args: argparse.Namespace, client: SmartAIClient) -> int:
    if args.no_ack:
        batch = await client.poll_events(limit=args.limit)
        for event in batch.events:
            if not args.types or event.type in args.types:
                _print(event)
        for bad in batch.invalid:
            if not args.types or bad.type in args.types:
                log_invalid(bad)  # printed nowhere else: say so without its values
        return 0
    handlers = dict.fromkeys(args.types, _print) if args.types else _print
    poller = ResultsPoller(
        client, handlers, interval=args.interval, limit=args.limit, ack_unhandled=not args.types
    )
    if args.once:
        await poller.drain()
        return 0
    await poller.run_until_signalled()
    return 0


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("httpx2").setLevel(logging.WARNING)
    try:
        # The one reader of the environment and .env, with the app's checks.
        settings = AssessmentSettings(**({"base_url": args.base_url} if args.base_url else {}))
    except ConfigurationError as exc:
        message = str(exc)
        if args.base_url:
            message = message.replace(variable("base_url"), "--base-url")
        print(f"error: {message}", file=sys.stderr)
        return 2
    if settings.base_url is None:
        print("error: pass --base-url or set ASSESSMENT_BASE_URL", file=sys.stderr)
        return 2
    if args.tenants:
        return _main_tenants(args, settings)
    if settings.api_key is None or settings.secret_key is None:
        print(
            "error: set ASSESSMENT_API_KEY and ASSESSMENT_SECRET_KEY (environment or .env)",
            file=sys.stderr,
        )
        return 2
    try:
        client = platform_client(
            settings,
            settings.base_url,
            queue_base_url=args.queue_base_url,
            credentials=Credentials(settings.api_key, settings.secret_key),
        )
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        async with client:
            return await _run(args, client)

    return _guarded(lambda: anyio.run(run))


def _guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except SmartAIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Never a traceback: its text may quote an event. The type, and details with -v.
        print(f"error: polling stopped on an unexpected {type(exc).__name__}", file=sys.stderr)
        logging.getLogger("assessment_asgi.platform").debug(
            "traceback:\n%s", redacted_traceback(exc, ())
        )
        return 1


def _main_tenants(args: argparse.Namespace, settings: AssessmentSettings) -> int:
    from ._poll_tenants import load_tenants, run_tenants

    if args.no_ack:
        print("error: --no-ack is for one account: leave out --tenants", file=sys.stderr)
        return 2
    try:
        tenants = load_tenants(args.tenants)
        client = platform_client(settings, settings.base_url or "", queue_base_url=args.queue_base_url)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if args.redis_url is None and settings.redis_url is not None:
        args.redis_url = settings.redis_url.get_secret_value()

    async def run() -> int:
        async with client:
            return await run_tenants(args, client, tenants)

    return _guarded(lambda: anyio.run(run))
