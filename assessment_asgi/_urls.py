"""The one URL rule: https, or plain http only to a loopback host (development and tests).

Used for the platform base URL, the JWKS URL and the OIDC issuer, so a secret or a key
request never crosses a network in clear text.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# C0 controls, DEL and every Unicode whitespace: urlsplit silently drops CR, LF and tab, and an
# HTTP library would then send (or refuse) a different URL from the one configured.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\xa0\s]")
#: The problem of a plain-http URL to a remote host (callers may word it for their setting).
PLAIN_HTTP = "must use https:// (http:// is allowed only for loopback hosts)"


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address: where plain http is allowed (development, tests)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url_problem(url: str, *, bare: bool = True, in_process: bool = False) -> str | None:
    """Why `url` may not carry secrets or fetch keys, or None when it may.

    Allowed: `https://host…`, and `http://` only to a loopback host; never a fragment,
    a control character or whitespace (callers strip the ends first), an empty host or port 0.
    `bare` (the platform base URL) also refuses `user:password@` and a query: the keys
    travel in headers, never in URLs. A key URL may carry both (an operator's choice).
    `in_process` also allows http to a name under `.invalid`: reserved never to resolve
    (RFC 6761 §6.4), it is how an in-process ASGI transport is addressed (the sandbox).
    """
    if _FORBIDDEN.search(url):
        return "must not contain control characters or whitespace"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port outside 0..65535 or not a number
    except ValueError:
        return "must be an absolute https:// URL"
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"}:
        return "must be an absolute https:// URL"
    if not host:
        return "must name a host (https://host/…)"
    if port == 0:
        return "must not use port 0"
    if bare and (parts.username is not None or parts.password is not None):
        return "must not carry credentials (user:password@)"
    if parts.fragment or (parts.query and bare):
        return "must not have a query or a fragment"
    if parts.scheme == "http" and not is_loopback_host(host) and not (
        in_process and host.lower().endswith(".invalid")
    ):
        return PLAIN_HTTP
    return None

