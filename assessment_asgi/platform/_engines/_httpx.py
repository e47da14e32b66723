"""The httpx engine (the `httpx` extra): the httpx2 engine over plain `httpx`.

For a caller whose backend already has an `httpx.AsyncClient` configured (proxies, mTLS,
event hooks) or whose tests mock `httpx` with respx or pytest-httpx.
"""

from __future__ import annotations

from types import ModuleType

import httpx

from ._httpx2 import Httpx2Engine


class HttpxEngine(Httpx2Engine):
    name = "httpx"
    lib: ModuleType = httpx
