"""Where a development server really listens, said plainly — and loudly when it is exposed.

Shared by `python -m assessment_asgi sandbox` and the example app.
"""

from __future__ import annotations

import ipaddress

_ANY = {"0.0.0.0", "::", ""}  # noqa: S104 - the names of "every interface", compared, not bound


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); False for every
    other name or address, `0.0.0.0` included."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _netloc(host: str, port: int) -> str:
    host = host.strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_address(host: str, port: int) -> str:
    """What the server binds, as a person reads it: `0.0.0.0:8001 (every interface)`."""
    where = _netloc(host or "0.0.0.0", port)  # noqa: S104
    return f"{where} (every interface)" if host in _ANY else where


def local_url(host: str, port: int) -> str:
    """A URL this machine can open: the bound address, or loopback when bound to all."""
    if host in _ANY:
        host = "::1" if host == "::" else "127.0.0.1"
    return f"http://{_netloc(host, port)}"


def exposed_warning(what: str, host: str, port: int) -> str:
    bar = "!" * 78
    return "\n".join(
        [
            bar,
            f"!! WARNING: the {what} is listening on {bind_address(host, port)}, not on "
            "loopback.",
            "!! Anyone who can reach this machine on that port can use it: create sessions,",
            "!! read queued results (candidate names and emails), finish assessments.",
            "!! For development keep the default (127.0.0.1), or put it behind a proxy that",
            "!! authenticates.",
            bar,
        ]
    )
