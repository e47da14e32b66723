"""Key providers: where the platform credentials come from, asked for on every request.

Both are async (they only read memory or the environment), so the app awaits them on the
event loop instead of sending them to the thread pool as it does with a sync hook.
`KeyCaller` is how the app asks any provider: with the recruiter or without, in bounded time.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio.to_thread
from pydantic import SecretStr

from ._compat import _is_async_callable, fail_after
from ._exceptions import ConfigurationError, HTTPException
from ._models import Recruiter
from ._redact import redacted_traceback
from ._settings import live_variable
from ._tenants import MISS, TenantKeys
from ._types import KeyProvider
from .platform import Credentials

logger = logging.getLogger("assessment_asgi")


class EnvironmentKeys:
    """`ASSESSMENT_API_KEY` / `ASSESSMENT_SECRET_KEY` from the process environment.

    The environment is read on every call, so a process whose environment is updated (or a
    test that sets it) sees new keys at once; values from `.env` given at construction
    are the fallback. A variable that is not set answers 500 `not_configured` naming it:

    ```python
    AssessmentApp(keys=EnvironmentKeys())
    ```
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
        api = live_variable(self.api_key_var) or _reveal(self._fallback_api)
        secret = live_variable(self.secret_key_var) or _reveal(self._fallback_secret)
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
    """A fixed key pair, e.g. loaded once from a file:

    ```python
    ```
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


def takes_recruiter(provider: Callable[..., Any]) -> bool:
    """Whether a key provider takes the recruiter: it has a positional parameter. Decided once,
    when the app is built; `TypeError` for one that needs more than one argument."""
    try:
        parameters = inspect.signature(provider).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: called as before
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in parameters if p.kind in kinds]
    required = [p for p in parameters if p.default is p.empty and p.kind not in (
        inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if len(required) > 1 or any(p.kind is inspect.Parameter.KEYWORD_ONLY for p in required):
        raise TypeError("keys must take no argument, or one: the recruiter")
    return bool(positional) or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


class KeyCaller:
    """The `keys` hook as the app calls it, once per platform call.

    With the recruiter when the provider takes one; within `timeout` seconds. A provider that
    raises or runs out of time answers 503 `keys_unavailable` with `Retry-After` (logged
    with its type and stack, never its message); `None` for a recruiter with a tenant answers
    403 `tenant_unknown`, without one 500 `not_configured`. An `HTTPException` raised by
    the provider answers as it is.
    """

    def __init__(
        self, provider: KeyProvider, *, timeout: float, secrets: Callable[[], Iterable[str]]
    ) -> None:
        self._with_recruiter = takes_recruiter(provider)
        self._provider: Callable[..., Any] = provider
        self._async = _is_async_callable(provider)
        # The built-in providers answer from memory: no time bound (it costs more than they do);
        # TenantKeys only when its answer is cached, a load still runs within the bound.
        self._in_memory = type(provider) in (EnvironmentKeys, StaticKeys)
        self._peek = provider.peek if isinstance(provider, TenantKeys) else None
        self._timeout = timeout
        self._retry_after = str(max(1, min(math.ceil(timeout), 30)))
        self._secrets = secrets

    async def __call__(self, recruiter: Recruiter) -> Credentials:
        if self._peek is not None and (hit := self._peek(recruiter)) is not MISS:
            return self._checked(hit, recruiter)
        args = (recruiter,) if self._with_recruiter else ()
        try:
            if self._in_memory:
                credentials = await self._provider(*args)
            else:
                async with fail_after(self._timeout):
                    credentials = await self._ask(args)
        except HTTPException as problem:
            if problem.code == "not_configured":
                logger.error("cannot create a session: %s", problem.message)
            raise
        except TimeoutError:
            logger.error("the keys provider did not answer within %gs (ASSESSMENT_KEYS_TIMEOUT)",
                         self._timeout)
            raise self._unavailable() from None
        except Exception as exc:
            logger.error("the keys provider failed: %s\n%s", type(exc).__name__,
                         redacted_traceback(exc, self._secrets()))
            raise self._unavailable() from None
        return self._checked(credentials, recruiter)

    def _checked(self, credentials: object, recruiter: Recruiter) -> Credentials:
        if credentials is None:
            if recruiter.tenant is not None:
                logger.warning("no platform keys for tenant %r: refused", recruiter.tenant)
                raise HTTPException("tenant_unknown")
            logger.error("cannot create a session: the keys hook returned no credentials")
            raise HTTPException("not_configured", "The platform keys are not set on the server")
        if not isinstance(credentials, Credentials):
            raise TypeError("the keys provider must return Credentials or None")
        return credentials

    def _ask(self, args: tuple[Any, ...]) -> Awaitable[Any]:
        if self._async:
            return self._provider(*args)  # type: ignore[no-any-return]
        return self._threaded(args)

    async def _threaded(self, args: tuple[Any, ...]) -> Any:
        # Abandoned on timeout: a sync provider stuck on I/O cannot hold the request past it.
        call = functools.partial(self._provider, *args)
        result = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        if inspect.isawaitable(result):
            return await result
        return result

    def _unavailable(self) -> HTTPException:
        return HTTPException("keys_unavailable", headers={"Retry-After": self._retry_after})
