"""``python -m example_app [--host H] [--port N]``: serve the example recruiter app."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m example_app",
        description=(
            "Serve the example recruiter app. With no ASSESSMENT_* platform settings it runs "
            "on the embedded SmartAI sandbox (no keys, no network); with ASSESSMENT_API_KEY, "
            "ASSESSMENT_SECRET_KEY and ASSESSMENT_BASE_URL set it talks to that platform."
        ),
    )
    parser.add_argument(
        "--host", default=os.environ.get("HOST") or "127.0.0.1",
        help="interface to bind (default: $HOST or 127.0.0.1)",
    )
    parser.add_argument(
        "--port", type=_port, default=os.environ.get("PORT") or "8000",
        help="port (default: $PORT or 8000)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        import uvicorn
    except ImportError:
        print(
            "error: the example app needs uvicorn: pip install 'assessment-asgi[server]'",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s"
    )
    # httpx2 logs every request at INFO; the sandbox and the endpoint log what matters.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    from ._app import create_app

    try:
        app = create_app()
    except ValueError as exc:  # ConfigurationError is a ValueError too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host
    shown = f"[{host}]" if ":" in host else host
    print(f"Example recruiter app: open http://{shown}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
