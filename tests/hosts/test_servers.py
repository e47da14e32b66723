"""Each host under real servers on loopback: uvicorn, hypercorn, and hypercorn on trio.

Quart is not run on hypercorn-trio: Quart itself needs asyncio.
"""

from __future__ import annotations

import httpx2
import pytest

from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, STANDIN_TOKEN, USERS, FakePlatform, make_token
from tests._servers import serve

from ._hosts import HOSTS, RecordingApp

CASES = [(host, server) for host in HOSTS for server in host.servers]


@pytest.mark.parametrize(("host", "server"), CASES, ids=[f"{h}-{s}" for h, s in CASES])
def test_the_endpoint_over_a_real_socket(
    host: object, server: str, platform: FakePlatform, platform_url: str
) -> None:
    recorder = RecordingApp(base_url=platform_url, jwt_secret=JWT_SECRET, api_key=API_KEY,
                            secret_key=SECRET_KEY)
    app = host.build("/hiring/assessment", recorder)  # type: ignore[attr-defined]
    with serve(app, server) as url, httpx2.Client(base_url=url, timeout=30) as client:  # type: ignore[arg-type]
        created = client.post("/hiring/assessment/session", json={"users": USERS},
                              headers={"Authorization": f"Bearer {make_token()}"})
        refused = client.post("/hiring/assessment/session", json={"users": USERS})
        document = client.get("/hiring/assessment/openapi.json")
        own = client.get("/hello")
    assert created.status_code == 200, created.text
    assert created.json()["data"]["token"] == STANDIN_TOKEN
    assert created.headers["cache-control"] == "no-store"
    assert refused.status_code == 401
    assert document.json()["servers"] == [{"url": "/hiring/assessment"}]
    assert own.text == f"hello from {host}"
    assert recorder.seen[0] == ("/hiring/assessment/session", "/hiring/assessment")
    assert len(platform.calls) == 1
