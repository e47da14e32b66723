"""ASGI aliases and the hook signatures, declared in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeAlias

from starlette.requests import Request

from ._models import Recruiter, SessionRequest
from .platform._credentials import Credentials

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

Authenticate: TypeAlias = Callable[[Request], Any | Awaitable[Any]]
"""Who is calling. Return a principal (any object: the default returns the JWT's claims as a
mapping), or raise `AuthError` / `PermissionDenied`; returning `None` refuses with 401."""

ResolveRecruiter: TypeAlias = Callable[
    [Any, SessionRequest], Recruiter | Awaitable[Recruiter | None] | None
]
"""On whose behalf. Takes the principal and the validated body; returns a `Recruiter`,
or raises `AuthError`/`PermissionDenied`."""

KeyProvider: TypeAlias = (
    Callable[[], Credentials | Awaitable[Credentials | None] | None]
    | Callable[[Recruiter], Credentials | Awaitable[Credentials | None] | None]
)
"""The platform credentials, asked for on every request so that rotation needs no restart;
with the resolved `Recruiter` when it takes one argument (a key pair per tenant)."""

Claims: TypeAlias = Mapping[str, Any]
