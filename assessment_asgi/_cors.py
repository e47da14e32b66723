"""CORS for a frontend served from another origin: preflight and ``Access-Control-*`` headers.

Off unless origins are configured (``ASSESSMENT_CORS_ORIGINS``): with none, no response ever
carries ``Access-Control-Allow-Origin`` and a browser on another origin cannot read answers.
A configured origin is echoed back exactly (with ``Vary: Origin``); ``*`` is allowed only
without credentials, since browsers refuse ``*`` with credentials and echoing any origin
with credentials would hand every website the recruiter's session.

The bearer token travels in the ``Authorization`` header, which CORS does not count as a
credential: a split frontend needs ``allow_credentials`` only if it also sends cookies.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError
from ._types import Message, Scope, Send

ALLOW_METHODS = "POST, OPTIONS"
ALLOW_HEADERS = "authorization, content-type, idempotency-key"
EXPOSE_HEADERS = "retry-after, idempotent-replayed"


def _normalise_origin(origin: str) -> str:
    if origin == "*":
        return origin
    parts = urlsplit(origin.strip())
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigurationError(
            f"ASSESSMENT_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com",
            setting="ASSESSMENT_CORS_ORIGINS",
        )
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class CORSPolicy:
    """Which browser origins may call the endpoint::

        CORSPolicy(origins=["https://app.example.com"])             # a split frontend
        CORSPolicy(origins=["https://app.example.com"], allow_credentials=True)  # + cookies
    """

    def __init__(
        self,
        *,
        origins: Iterable[str],
        allow_credentials: bool = False,
        max_age: int = 600,
    ) -> None:
        if isinstance(origins, str):
            raise TypeError("origins must be a list of origins, not a string")
        normalised = [_normalise_origin(o) for o in origins]
        if "*" in normalised and allow_credentials:
            raise ConfigurationError(
                "ASSESSMENT_CORS_ORIGINS='*' cannot be combined with "
                "ASSESSMENT_CORS_ALLOW_CREDENTIALS: list the frontend origins instead",
                setting="ASSESSMENT_CORS_ALLOW_CREDENTIALS",
            )
        if not isinstance(max_age, int) or not 0 <= max_age <= 86400:
            raise ConfigurationError(
                "ASSESSMENT_CORS_MAX_AGE must be 0..86400 seconds", setting="ASSESSMENT_CORS_MAX_AGE"
            )
        self.any_origin = "*" in normalised
        self.origins = frozenset(o for o in normalised if o != "*")
        self.allow_credentials = allow_credentials
        self.max_age = max_age

    def __repr__(self) -> str:
        origins = ["*"] if self.any_origin else sorted(self.origins)
        return f"CORSPolicy(origins={origins!r}, allow_credentials={self.allow_credentials})"

    def allowed_origin(self, scope: Scope) -> bytes | None:
        """The ``Access-Control-Allow-Origin`` value for this request, or None."""
        origin = _header(scope, b"origin")
        if origin is None:
            return None
        if self.any_origin:
            return b"*"
        try:
            text = origin.decode("ascii")
        except UnicodeDecodeError:
            return None
        # Compared case-sensitively after the browser's own serialisation (lower-case
        # scheme and host): "https://APP.example.com" is not what any browser sends.
        if text in self.origins:
            return origin
        return None

    def is_preflight(self, scope: Scope) -> bool:
        return (
            scope["method"] == "OPTIONS"
            and _header(scope, b"origin") is not None
            and _header(scope, b"access-control-request-method") is not None
        )

    def preflight_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """Headers of a preflight answer: empty (so the browser refuses) unless allowed."""
        if self.allowed_origin(scope) is None:
            return []
        return [
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", str(self.max_age).encode()),
        ]

    def wrap_send(self, scope: Scope, send: Send) -> Send:
        """A ``send`` that adds the CORS headers to the response start, when allowed."""
        allowed = self.allowed_origin(scope)
        extra: list[tuple[bytes, bytes]] = []
        if allowed is not None:
            extra.append((b"access-control-allow-origin", allowed))
            if self.allow_credentials:
                extra.append((b"access-control-allow-credentials", b"true"))
            extra.append((b"access-control-expose-headers", EXPOSE_HEADERS.encode()))
        if not self.any_origin:
            # The answer depends on Origin: caches must not serve one origin's answer to another.
            extra.append((b"vary", b"Origin"))

        async def cors_send(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return cors_send


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
