"""``python -m example_app [--host H] [--port N]``: serve the example recruiter app."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
from collections.abc import Sequence

from assessment_asgi.sandbox._cli import DEFAULT_PORT as SANDBOX_DEFAULT_PORT


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port < 65536:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0: any free one), got {port}")
    return port


class _CannotListen(Exception):
    pass


# The sandbox CLI's default port: never suggested, a developer may start the sandbox next.
SANDBOX_PORT = SANDBOX_DEFAULT_PORT


def _free_port(host: str, family: socket.AddressFamily, busy: int) -> int:
    """A port that binds on ``host`` right now: the next few after ``busy`` (skipping the
    sandbox's default), else one the system picks."""
    candidates = [p for p in range(busy + 1, busy + 21) if p != SANDBOX_PORT and p < 65536]
    for port in [*candidates, 0]:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """Bind before printing anything, so the banner shows the real address (``PORT=0``
    included) and a busy port says how to pick another instead of a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            free = _free_port(host, family, port)
            raise _CannotListen(
                f"error: port {port} on {host} is already in use (another server is running "
                f"there?).\n  Choose another port: PORT={free} ./scripts/example   "
                f"(or python -m example_app --port {free}; PORT=0 picks a free one)"
            ) from None
        raise _CannotListen(f"error: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    return sock


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
        help="port (default: $PORT or 8000; 0 picks a free one)",
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
    from assessment_asgi.sandbox._bind import (
        bind_address,
        exposed_warning,
        is_loopback,
        local_url,
    )

    from ._app import DEV_SIGN_IN_VAR, create_app

    try:
        app = create_app()
    except ValueError as exc:  # ConfigurationError is a ValueError too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    loopback = is_loopback(args.host)
    if app.state.mode == "platform" and app.state.dev_sign_in and not loopback:
        print(
            f"error: {DEV_SIGN_IN_VAR}=1 turns on a sign-in without a password, against a "
            f"real platform: it runs on a loopback address only, not on {args.host}. "
            "Use HOST=127.0.0.1, or sign recruiters in with your own login.",
            file=sys.stderr,
        )
        return 2
    try:
        sock = _listen(args.host, args.port)
    except _CannotListen as exc:
        print(exc, file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    if not loopback:
        print(exposed_warning("example app", args.host, port), file=sys.stderr, flush=True)
    if app.state.mode == "sandbox":
        sign_in = "development sign-in (no password; on, as this is the sandbox)"
    elif app.state.dev_sign_in:
        sign_in = f"development sign-in ({DEV_SIGN_IN_VAR}=1; loopback connections only)"
    else:
        sign_in = f"off (your own recruiter tokens; {DEV_SIGN_IN_VAR}=1 for a local demo)"
    print(
        "\n".join(
            [
                f"Example recruiter app: open {local_url(args.host, port)}/",
                f"  listening on {bind_address(args.host, port)}",
                f"  platform: {app.state.platform}",
                f"  sign-in:  {sign_in}",
            ]
        ),
        flush=True,
    )
    config = uvicorn.Config(app, log_level=args.log_level)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
