"""`TenantKeys`: the platform key pair of each customer organisation (tenant).

Three sources, one per instance: a mapping fixed in code, a JSON or TOML file (re-read when it
changes), or an async loader (a database, a secrets manager) behind a TTL cache with negative
caching and one load at a time per tenant. The key values never appear in a `repr()`, a log
line or an exception message: tenants are named, keys never.
"""

from __future__ import annotations

import json
import logging
import os
import time
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ._compat import _is_async_callable, current_loop
from ._exceptions import ConfigurationError
from ._models import Recruiter
from .platform import Credentials

logger = logging.getLogger("assessment_asgi")

MAX_TENANT_LENGTH = 128
MISS = object()  # what ``TenantKeys.peek`` answers when only a load (or a file check) can tell
Loader = Callable[[str], Awaitable[Credentials | None]]


class TenantKeysUnavailable(Exception):
    """The loader failed (or was cancelled) for a load this call was waiting on."""


def valid_tenant(value: object) -> bool:
    """A tenant name: a string of 1-128 printable characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_TENANT_LENGTH and value.isprintable()


@dataclass(slots=True)
class _Flight:
    """One load in progress: the others asking for the same tenant wait for it."""

    loop: object
    done: anyio.Event = field(default_factory=anyio.Event)
    value: Credentials | None = None
    failed: bool = True


class TenantKeys:
    """A key provider that picks the key pair of the recruiter's tenant.

    Give exactly one source: a mapping, `TenantKeys.from_file(path)`, or `loader=`, an async
    function `(tenant) -> Credentials | None`. A recruiter whose tenant has no keys (or that
    has no tenant) gets `None`: the app answers 403 `tenant_unknown` (500 `not_configured`
    without a tenant). Loaded keys are kept `ttl` seconds, "no such tenant" `negative_ttl`
    seconds; at most `max_tenants` answers are kept (the oldest go first):

    ```python
    AssessmentApp(tenant_claim="org_id", keys=TenantKeys({
        "acme": Credentials("wc_ak_test_…", "wc_sk_test_…"),
    }))
    ```
    """

    def __init__(
        self,
        keys: Mapping[str, Credentials] | None = None,
        *,
        loader: Loader | None = None,
        ttl: float = 300.0,
        negative_ttl: float = 60.0,
        max_tenants: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (keys is None) == (loader is None):
            raise TypeError("give TenantKeys a mapping or loader=, exactly one")
        if not ttl > 0 or not negative_ttl >= 0 or max_tenants < 1:
            raise ValueError("ttl must be > 0, negative_ttl >= 0 and max_tenants >= 1")
        if loader is not None and not _is_async_callable(loader):
            raise TypeError("loader must be an async function: async def load(tenant) -> Credentials | None")
        self._static: dict[str, Credentials] = checked(keys, "keys") if keys is not None else {}
        self._loader = loader
        self.ttl, self.negative_ttl, self.max_tenants = ttl, negative_ttl, max_tenants
        self._clock = clock
        self._cache: dict[str, tuple[Credentials | None, float]] = {}
        self._flights: dict[str, _Flight] = {}
        self._path: Path | None = None
        self._stamp: tuple[int, int] | None = None
        self._check_interval = 1.0
        self._next_check = 0.0

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, check_interval: float = 1.0, setting: str = "path"
    ) -> TenantKeys:
        """The key pairs of a JSON (or `.toml`) file: `{"acme": {"api_key": "wc_ak_…",
        "secret_key": "wc_sk_…"}, …}`. The file is read now (a bad one raises
        `ConfigurationError` naming `setting`) and again when its modification time or size
        changes, looked at no more than once per `check_interval` seconds; a changed file
        that does not parse keeps the keys of the last good one (and logs a warning)."""
        if not check_interval >= 0:
            raise ValueError("check_interval must be >= 0")
        file = Path(path)
        try:
            stamp, keys = read_keys_file(file)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{setting}: {exc_reason(exc)}", setting=setting) from None
        self = cls(keys)
        self._path, self._stamp, self._check_interval = file, stamp, check_interval
        self._next_check = self._clock() + check_interval
        return self

    def __repr__(self) -> str:
        if self._loader is not None:
            name = getattr(self._loader, "__qualname__", type(self._loader).__name__)
            return f"TenantKeys(loader={name}, ttl={self.ttl:g}, negative_ttl={self.negative_ttl:g})"
        if self._path is not None:
            return f"TenantKeys.from_file({self._path.name!r}, tenants={len(self._static)})"
        return f"TenantKeys(tenants={len(self._static)})"

    @property
    def tenants(self) -> tuple[str, ...]:
        """The tenants of the mapping or file (with a loader: those cached with keys now)."""
        if self._loader is None:
            return tuple(self._static)
        return tuple(t for t, (value, _) in self._cache.items() if value is not None)

    async def __call__(self, recruiter: Recruiter) -> Credentials | None:
        """The recruiter's tenant's key pair, or None (no tenant, or a tenant without keys)."""
        tenant = recruiter.tenant
        if tenant is None:
            return None
        return await self.get(tenant)

    def peek(self, recruiter: Recruiter) -> Credentials | object | None:
        """The answer when it is in memory now (no load or file check due), else `MISS`:
        the app's fast path, which needs no time bound around it."""
        tenant = recruiter.tenant
        if tenant is None:
            return None
        if self._loader is None:
            if self._path is not None and self._clock() >= self._next_check:
                return MISS
            return self._static.get(tenant)
        cached = self._cache.get(tenant)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        return MISS

    async def get(self, tenant: str) -> Credentials | None:
        """The key pair of `tenant`, or None when it has none."""
        if self._loader is None:
            if self._path is not None and self._clock() >= self._next_check:
                await self._reread()
            return self._static.get(tenant)
        cached = self._cache.get(tenant)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        return await self._load(tenant, self._loader)

    def invalidate(self, tenant: str | None = None) -> None:
        """Forget the cached answer for `tenant` (all tenants with None): the next request
        loads it again. For a rotation that cannot wait for the TTL."""
        if tenant is None:
            self._cache.clear()
        else:
            self._cache.pop(tenant, None)

    # -- the loader: one load at a time per tenant -------------------------------------------

    async def _load(self, tenant: str, loader: Loader) -> Credentials | None:
        loop = current_loop()[1]
        flight = self._flights.get(tenant)
        if flight is not None and flight.loop is loop:
            await flight.done.wait()
            if flight.failed:
                raise TenantKeysUnavailable("the load this request waited for failed")
            return flight.value
        flight = self._flights[tenant] = _Flight(loop)
        try:
            value = await loader(tenant)
            if value is not None and not isinstance(value, Credentials):
                raise TypeError("the TenantKeys loader must return Credentials or None")
            self._store(tenant, value)
            flight.value, flight.failed = value, False
            return value
        finally:
            if self._flights.get(tenant) is flight:
                del self._flights[tenant]
            flight.done.set()

    def _store(self, tenant: str, value: Credentials | None) -> None:
        ttl = self.ttl if value is not None else self.negative_ttl
        self._cache.pop(tenant, None)
        if ttl <= 0:
            return
        while len(self._cache) >= self.max_tenants:
            del self._cache[next(iter(self._cache))]
        self._cache[tenant] = (value, self._clock() + ttl)

    # -- the file: re-read when it changes ---------------------------------------------------

    async def _reread(self) -> None:
        path = self._path
        assert path is not None
        # Checked by one request per interval: the others go on with the keys they have.
        self._next_check = self._clock() + self._check_interval
        try:
            stamp = await anyio.to_thread.run_sync(_stamp_of, path)
            if stamp == self._stamp:
                return
            stamp, keys = await anyio.to_thread.run_sync(read_keys_file, path)
        except (OSError, ValueError) as exc:
            logger.warning("tenant keys file %s not reloaded (%s): keeping the last good keys",
                           path.name, exc_reason(exc))
            return
        self._static, self._stamp = keys, stamp
        logger.info("tenant keys file %s reloaded: %d tenant(s)", path.name, len(keys))


def checked(keys: Mapping[str, Any], where: str) -> dict[str, Credentials]:
    """`keys` as a dict of valid tenant names to `Credentials` (ValueError naming a bad one)."""
    if not isinstance(keys, Mapping):
        raise ValueError(f"{where} must map tenant names to key pairs")
    result: dict[str, Credentials] = {}
    for tenant, value in keys.items():
        if not valid_tenant(tenant):
            raise ValueError(f"{where}: a tenant name is not 1-128 printable characters")
        if isinstance(value, Mapping) and set(value) == {"api_key", "secret_key"} and all(
            isinstance(v, str) and v for v in value.values()
        ):
            value = Credentials(value["api_key"], value["secret_key"])
        if not isinstance(value, Credentials):
            raise ValueError(
                f"{where}: tenant {tenant!r} needs exactly api_key and secret_key, non-empty strings"
            )
        result[tenant] = value
    return result


def _stamp_of(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def read_keys_file(path: Path) -> tuple[tuple[int, int], dict[str, Credentials]]:
    """The file's (mtime, size) and its key pairs; ValueError says what is wrong (never a value)."""
    stamp = _stamp_of(path)
    raw = path.read_bytes()
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except tomllib.TOMLDecodeError:
        raise ValueError("not valid TOML") from None
    return stamp, checked(data, "the file")


def exc_reason(exc: BaseException) -> str:
    """What went wrong reading a keys file, without quoting its content."""
    if isinstance(exc, OSError):
        return f"cannot read it ({exc.strerror or type(exc).__name__})"
    return str(exc)
