"""The transport seam: a prepared request goes to an engine, an answer or one failure comes back.

An engine only moves bytes. It never follows redirects, never retries, never parses the
body, and reads at most `max_bytes` of it. Everything else (retries, the deadline,
`Retry-After`, what is safe to repeat, what an answer means) lives above the seam, in
`_retry.py` and `_exchange.py`, the same for every engine.

A failure is an `EngineError` with a `kind`; whether the request may have reached
the server follows from the kind, and an engine that cannot tell says "sent".
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable

from ..._exceptions import ConfigurationError
from ._seam import Answer, Engine, EngineError, Headers, Kind, Options, Prepared, refused

__all__ = [
    "ENGINES", "Answer", "Engine", "EngineError", "Headers", "Kind", "Options", "Prepared",
    "check", "default_name", "factory", "refused",
]

#: The engines, by the name `SmartAIClient(engine=...)` and `ASSESSMENT_ENGINE` take.
ENGINES = ("aiohttp", "pyreqwest", "httpx2", "httpx")
#: The distribution each optional engine comes from, and the extra that installs it.
_EXTRAS = {"aiohttp": "aiohttp", "pyreqwest": "pyreqwest", "httpx": "httpx"}
#: The libraries whose own client or transport a caller may inject (the engine of that name).
INJECTABLE = ("httpx2", "httpx")
#: Engines that run on asyncio only; trio falls back to httpx2.
_ASYNCIO_ONLY = frozenset({"aiohttp", "pyreqwest"})


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def check(name: object) -> str | None:
    """The engine name asked for (None: the default), or a clear error now, not on first use."""
    if name is None or name == "auto":
        return None
    if not isinstance(name, str) or name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (or None: the default), got {name!r}")
    extra = _EXTRAS.get(name)
    if extra is not None and not _installed(name):
        raise ConfigurationError(
            f"engine {name!r} is not installed: pip install 'assessment-asgi[{extra}]'",
            setting="engine",
        )
    return name


def injected_library(value: object, kind: str) -> str | None:
    """`"httpx2"` or `"httpx"` when `value` is that library's `kind` (`"AsyncClient"`,
    `"AsyncBaseTransport"`), else None. A library not imported yet cannot have made it."""
    for name in INJECTABLE:
        library = sys.modules.get(name)
        if library is not None and isinstance(value, getattr(library, kind)):
            return name
    return None


def default_name(library: str) -> str:
    """aiohttp on asyncio when installed (fast, and it keeps every guarantee), else httpx2."""
    if library == "asyncio" and _installed("aiohttp"):
        return "aiohttp"
    return "httpx2"


def factory(name: str | None, options: Options) -> Callable[[str], Engine]:
    """Builds the engine for one event loop; `library` is `"asyncio"` or `"trio"`."""

    def build(library: str) -> Engine:
        chosen = name or default_name(library)
        if library != "asyncio" and chosen in _ASYNCIO_ONLY:
            chosen = "httpx2"
        if chosen == "aiohttp":
            from ._aiohttp import AiohttpEngine

            return AiohttpEngine(options)
        if chosen == "pyreqwest":
            from ._pyreqwest import PyreqwestEngine

            return PyreqwestEngine(options)
        if chosen == "httpx":
            from ._httpx import HttpxEngine

            return HttpxEngine.owned(options)
        from ._httpx2 import Httpx2Engine

        return Httpx2Engine.owned(options)

    return build
