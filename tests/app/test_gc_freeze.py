"""What start-up allocated leaves the garbage collector's full walks, once per process.

Each case runs in a fresh interpreter: freezing is process-wide and happens once, so the
test process itself (which has served many requests) cannot show it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, json, sys

    freezes = []
    _freeze = gc.freeze
    gc.freeze = lambda: (freezes.append(1), _freeze())[1]  # count the calls, then freeze
    from starlette.applications import Starlette
    from starlette.routing import Mount
    import httpx2
    from assessment_asgi import AssessmentApp

    mode = sys.argv[1]
    app = AssessmentApp(jwt_secret="x" * 32, gc_freeze=(mode != "off"))
    host = Starlette(routes=[Mount("/assessment", app)])
    counts = [len(freezes)]

    async def main():
        if mode == "lifespan":
            async with app.lifespan():
                counts.append(len(freezes))
            return
        transport = httpx2.ASGITransport(app=host)
        async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
            for _ in range(2):
                answer = await client.post("/assessment/session", json={"users": []})
                assert answer.status_code == 401, answer.status_code
                counts.append(len(freezes))

    asyncio.run(main())
    print(json.dumps([*counts, gc.get_freeze_count()]))
    """
)


def _freeze_counts(mode: str) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT, mode],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    counts: list[int] = __import__("json").loads(done.stdout)
    return counts


def test_a_mounted_app_freezes_start_up_after_its_first_request_once() -> None:
    # No lifespan reaches a mounted app: start-up ends with its first request.
    *calls, frozen = _freeze_counts("mounted")
    assert calls == [0, 1, 1]  # once per process, not per request
    assert frozen > 1000  # modules, classes, the host's routes: the start-up heap


def test_lifespan_startup_freezes() -> None:
    *calls, frozen = _freeze_counts("lifespan")
    assert calls == [0, 1]
    assert frozen > 1000


def test_gc_freeze_false_leaves_the_collector_alone() -> None:
    assert _freeze_counts("off") == [0, 0, 0, 0]
