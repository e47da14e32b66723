"""CORS for a frontend served from another origin: our checked settings, Starlette's middleware.

Off unless origins are configured (`ASSESSMENT_CORS_ORIGINS`): with none, no response ever
carries `Access-Control-Allow-Origin` and a browser on another origin cannot read answers.
Origins are checked here (exact `scheme://host[:port]`, no paths or wildcards in a name);
`*` is allowed only without credentials, since echoing any origin with credentials would
hand every website the recruiter's session. Starlette's `CORSMiddleware` then answers
preflights and adds the headers: a configured origin is echoed back exactly (with
`Vary: Origin`).

The bearer token travels in the `Authorization` header, which CORS does not count as a
credential: a split frontend needs `allow_credentials` only if it also sends cookies.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.cors import CORSMiddleware

from ._exceptions import ConfigurationError
from ._rules import normalise_origin
from ._types import ASGIApp

ALLOW_METHODS = ("POST",)
ALLOW_HEADERS = ("authorization", "content-type", "idempotency-key")
EXPOSE_HEADERS = ("retry-after", "idempotent-replayed")


class CORSPolicy:
    """Which browser origins may call the endpoint, checked at construction:

    ```python
    CORSPolicy(origins=["https://app.example.com"])                          # a split frontend
    CORSPolicy(origins=["https://app.example.com"], allow_credentials=True)  # + cookies
    ```
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
        normalised = [normalise_origin(o, "origins") for o in origins]
        if "*" in normalised and allow_credentials:
            raise ConfigurationError(
                "origins=['*'] cannot be combined with allow_credentials=True: "
                "list the frontend origins instead",
                setting="allow_credentials",
            )
        if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= 86400:
            raise ConfigurationError("max_age must be 0..86400 seconds", setting="max_age")
        self.any_origin = "*" in normalised
        self.origins = frozenset(o for o in normalised if o != "*")
        self.allow_credentials = bool(allow_credentials)
        self.max_age = max_age

    def __repr__(self) -> str:
        origins = ["*"] if self.any_origin else sorted(self.origins)
        return f"CORSPolicy(origins={origins!r}, allow_credentials={self.allow_credentials})"

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` behind Starlette's `CORSMiddleware`, configured from this policy."""
        return CORSMiddleware(
            app,
            allow_origins=["*"] if self.any_origin else sorted(self.origins),
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            allow_credentials=self.allow_credentials,
            expose_headers=EXPOSE_HEADERS,
            max_age=self.max_age,
        )
