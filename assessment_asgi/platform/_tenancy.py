"""What the tenant poller needs about tenants: their names, their keys, their handlers."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import anyio

from ._credentials import Credentials
from ._dispatch import is_async
from ._models import Event, InvalidEvent

TenantHandler = Callable[[str, Event], Awaitable[Any] | Any]
TenantInvalidHandler = Callable[[str, InvalidEvent], Awaitable[Any] | Any]
KeySource = Mapping[str, Credentials] | Callable[[str], Awaitable[Credentials | None] | Credentials | None]


@runtime_checkable
class _KeyGetter(Protocol):
    """A key provider with `get(tenant)` (e.g. `TenantKeys`, whose call takes a recruiter)."""

    def get(self, tenant: str, /) -> Awaitable[Credentials | None]: ...


AnyKeys = KeySource | _KeyGetter


def as_keys(keys: object) -> tuple[KeySource, Iterable[str]]:
    """`keys` as a mapping or a callable taking the tenant; and the tenants it lists."""
    if isinstance(keys, Mapping):
        return dict(keys), list(keys)
    listed = getattr(keys, "tenants", ())
    listed = listed if isinstance(listed, tuple | list | set | frozenset) else ()
    if isinstance(keys, _KeyGetter):
        return keys.get, listed
    if callable(keys):
        return keys, listed
    raise TypeError("keys must be a mapping of tenant to Credentials, a callable, or have get(tenant)")


def bind(fn: Callable[[str, Any], Any], tenant: str) -> Callable[[Any], Any]:
    """`fn` with the tenant as its first argument, still async when `fn` is."""
    if is_async(fn):

        async def bound_async(item: Any) -> Any:
            return await fn(tenant, item)

        return bound_async
    return lambda item: fn(tenant, item)


def check_tenant(tenant: object) -> str:
    if not isinstance(tenant, str) or not 1 <= len(tenant) <= 128 or not tenant.isprintable():
        raise ValueError("a tenant must be a string of 1-128 printable characters")
    return tenant


async def keys_for(keys: KeySource, tenant: str, timeout: float) -> Credentials | None:
    """`tenant`'s keys from a mapping or a (sync or async) callable, within `timeout`."""
    with anyio.fail_after(timeout):
        if isinstance(keys, Mapping):
            return keys.get(tenant)
        found = keys(tenant)
        if inspect.isawaitable(found):
            found = await found
    if found is not None and not isinstance(found, Credentials):
        raise TypeError("the key source must return Credentials or None")
    return found
