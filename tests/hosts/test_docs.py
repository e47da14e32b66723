"""Every host block of docs/hosts.md runs as written, under a real server, end to end.

Each ``python`` block is executed as a fresh module with the platform stand-in's URL and keys
in ``ASSESSMENT_*`` (the way a user configures it), must define ``app``, and must then serve
``POST /assessment/session`` and ``GET /assessment/openapi.json`` over a real socket.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests._fake import (
    API_KEY,
    JWT_SECRET,
    SECRET_KEY,
    STANDIN_EXPIRES,
    STANDIN_TOKEN,
    USERS,
    FakePlatform,
    make_token,
)
from tests._servers import serve

DOC = Path(__file__).resolve().parents[2] / "docs" / "hosts.md"
# A "### heading" and the first python block before the next heading.
BLOCK = re.compile(r"^### (?P<heading>[^\n]+)\n(?:(?!^### ).)*?^```python\n(?P<code>.*?)^```", re.M | re.S)
BLOCKS = {m["heading"]: m["code"] for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))}
# The server each block is documented for; uvicorn otherwise.
SERVERS = {"hypercorn's DispatcherMiddleware": "hypercorn"}


def test_the_doc_has_a_block_per_host() -> None:
    assert list(BLOCKS) == ["Starlette", "FastAPI", "Litestar", "Quart",
                            "Any ASGI app (Django, a bare callable)", "hypercorn's DispatcherMiddleware"]


@pytest.mark.parametrize("heading", list(BLOCKS))
def test_the_block_runs_as_written(
    heading: str, monkeypatch: pytest.MonkeyPatch, platform: FakePlatform, platform_url: str
) -> None:
    for name, value in {"BASE_URL": platform_url, "API_KEY": API_KEY, "SECRET_KEY": SECRET_KEY,
                        "JWT_SECRET": JWT_SECRET}.items():
        monkeypatch.setenv(f"ASSESSMENT_{name}", value)
    namespace: dict[str, Any] = {"__name__": "docs_hosts_block"}
    exec(compile(BLOCKS[heading], f"{DOC}:{heading}", "exec"), namespace)  # noqa: S102 - our own docs

    with serve(namespace["app"], SERVERS.get(heading, "uvicorn")) as url, \
            httpx2.Client(base_url=url, timeout=30) as client:
        created = client.post("/assessment/session", json={"users": USERS},
                              headers={"Authorization": f"Bearer {make_token()}"})
        document = client.get("/assessment/openapi.json")
        host_schema = client.get("/openapi.json") if heading == "FastAPI" else None
    assert created.status_code == 200, created.text
    assert created.json() == {"success": True,
                              "data": {"token": STANDIN_TOKEN, "expiresAt": STANDIN_EXPIRES}}
    assert document.json()["servers"] == [{"url": "/assessment"}]
    assert len(platform.calls) == 1
    if host_schema is not None:  # the route shows in FastAPI's own /docs
        assert "post" in host_schema.json()["paths"]["/assessment/session"]
