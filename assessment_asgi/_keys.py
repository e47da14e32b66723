"""Key providers: where the platform credentials come from, asked for on every request.

Both are async (they only read memory or the environment), so the app awaits them on the
event loop instead of sending them to the thread pool as it does with a sync hook.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from ._exceptions import ConfigurationError, HTTPException
from .platform import Credentials


class EnvironmentKeys:
    """``ASSESSMENT_API_KEY`` / ``ASSESSMENT_SECRET_KEY`` from the process environment.

    The environment is read on every call, so a process whose environment is updated (or a
    test that sets it) sees new keys at once; values from ``.env`` given at construction
    are the fallback. A variable that is not set answers 500 ``not_configured`` naming it::

        AssessmentApp(keys=EnvironmentKeys())
    """

    def __init__(
        self,
        *,
        api_key: SecretStr | None = None,
        secret_key: SecretStr | None = None,
        api_key_var: str = "ASSESSMENT_API_KEY",
        secret_key_var: str = "ASSESSMENT_SECRET_KEY",  # noqa: S107 - a variable name
    ) -> None:
        self._fallback_api = api_key
        self._fallback_secret = secret_key
        self.api_key_var = api_key_var
        self.secret_key_var = secret_key_var
        self._cached: Credentials | None = None
        self._cached_raw: tuple[str, str] | None = None

    def __repr__(self) -> str:
        return f"EnvironmentKeys({self.api_key_var!r}, {self.secret_key_var!r})"

    async def __call__(self) -> Credentials:
        api = os.environ.get(self.api_key_var) or _reveal(self._fallback_api)
        secret = os.environ.get(self.secret_key_var) or _reveal(self._fallback_secret)
        if not api or not secret:
            missing = self.api_key_var if not api else self.secret_key_var
            raise HTTPException("not_configured", f"{missing} is not set on the server")
        raw = (api, secret)
        if self._cached is None or self._cached_raw != raw:
            try:
                credentials = Credentials(api, secret)
            except ConfigurationError as exc:  # a key changed since start-up, and no request could carry it
                var = self.api_key_var if exc.setting == "api_key" else self.secret_key_var
                raise HTTPException("not_configured", f"{var} is malformed on the server") from None
            self._cached, self._cached_raw = credentials, raw
        return self._cached


class StaticKeys:
    """A fixed key pair, e.g. loaded once from a file::

    AssessmentApp(keys=StaticKeys("wc_ak_test_…", "wc_sk_test_…"))
    """

    def __init__(self, api_key: str | SecretStr, secret_key: str | SecretStr) -> None:
        self._credentials = Credentials(api_key, secret_key)

    def __repr__(self) -> str:
        return f"StaticKeys({self._credentials!r})"

    async def __call__(self) -> Credentials:
        return self._credentials


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
