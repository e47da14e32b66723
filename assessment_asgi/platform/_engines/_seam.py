"""The seam's types: what crosses between the client and an engine (no engine imported here).

Kept apart from the engine registry (`__init__`) so that each engine imports these without
importing the registry that imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx2

from ..._capped import BadLength, OverCap

Kind = Literal[
    "connect",  # could not connect: nothing was sent
    "connect_timeout",  # no connection (or pool slot) in time: nothing was sent
    "read_timeout",  # sent, no answer in time
    "dropped",  # sent (or maybe), the connection broke before an answer
    "stalled",  # an answer began, then stopped arriving
    "cut_off",  # an answer began, then the connection broke
    "too_large",  # the answer is (or declares itself) larger than max_bytes
    "malformed",  # the answer's declared length is not a number (see _capped.py)
]
_NOT_SENT = frozenset({"connect", "connect_timeout"})


class Headers(Protocol):
    """Response headers: a case-insensitive `get` (aiohttp's, httpx's, pyreqwest's)."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request, ready to send: everything an engine needs and nothing more."""

    method: str
    url: str  # absolute, already percent-encoded
    headers: dict[str, str]
    body: bytes
    connect: float  # seconds to get a connection (pool wait included)
    read: float  # seconds of silence allowed while waiting for or reading the answer
    deadline: float  # seconds left for this attempt, at most
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Headers
    body: bytes


class EngineError(Exception):
    """One classified failure of one attempt (the message names no URL, header or body)."""

    def __init__(self, kind: Kind, *, status: int | None = None, headers: Headers | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.headers = headers

    @property
    def sent(self) -> bool:
        """The request may have reached the server."""
        return self.kind not in _NOT_SENT


class Engine(Protocol):
    """What every engine implements; one instance per event loop and process."""

    name: str

    async def send(self, request: Prepared) -> Answer: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Options:
    """How the client's own engines are built."""

    limits: httpx2.Limits
    headers: dict[str, str]  # sent with every request (user agent, accept)
    transport: Any = None  # a caller's transport, for the engine of its library (httpx2 or httpx)


def refused(exc: BadLength | OverCap, *, status: int, headers: Headers) -> EngineError:
    """The engine failure for an answer the one capped read refused."""
    kind: Kind = "malformed" if isinstance(exc, BadLength) else "too_large"
    return EngineError(kind, status=status, headers=headers)
