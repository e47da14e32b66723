"""In-process measurements: the package's own per-request work, big bodies, clients, memory.

    python benchmarks/micro.py            # prints a table
    python benchmarks/micro.py --quick    # fewer iterations, 10,000-request memory check

1. The package's own work per request, platform call excluded: ``AssessmentApp`` driven
   through ASGI directly (and through a Starlette ``Mount``) with a ``SmartAIClient`` whose
   ``create_session`` returns at once. Target: <= 100 us.
2. The same with the real ``SmartAIClient`` over ``httpx2.MockTransport``: adds the client
   and httpx2's request/response machinery, still no socket.
3. A 1,000-candidate body: model validation alone, and the whole endpoint. Target: <= 10 ms.
4. Clients against the platform stand-in over loopback, the endpoint's platform call alone,
   per engine (aiohttp, pyreqwest, httpx2): the hand-written library call, the bare engine
   call, and ``SmartAIClient.create_session`` on it; sequential (us per call) and 32
   concurrent (calls/s, and the event loop thread's CPU per call: what binds a server on one
   loop). Target: create_session <= 1.1x the bare call on the same engine.
5. Memory, per engine: resident set growth of the whole endpoint (real sockets to the
   stand-in) over 50,000 requests after a warm-up. Target: < 10 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._clients import ENGINES, measure_clients, throughput, time_calls  # noqa: E402
from benchmarks._common import (  # noqa: E402
    API_KEY,
    JWT_SECRET,
    SECRET_KEY,
    STAND_IN_EXPIRES,
    STAND_IN_TOKEN,
    recruiter_token,
    recruiter_tokens,
    session_body,
)

ROUNDS = 3
RECRUITERS = 10_000  # as run.py: the per-recruiter rate limit stays at its default, never hit

Scope = dict[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def stand_in() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "stand_in.py"), "--port", str(port)],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        proc.terminate()
        proc.wait(10)


def asgi_call(
    path: str, root_path: str, tokens: str | list[str], body: bytes
) -> Callable[[App], Awaitable[int]]:
    """One request through an ASGI app, in process; returns the response status.

    With a list of tokens each request takes the next one (many recruiters, as in run.py).
    """
    all_headers = [
        [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        for token in ([tokens] if isinstance(tokens, str) else tokens)
    ]
    message = {"type": "http.request", "body": body, "more_body": False}
    turn = itertools.cycle(all_headers)

    async def call(app: App) -> int:
        headers = next(turn)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": root_path,
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return message

        async def send(msg: dict[str, Any]) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]

        await app(scope, receive, send)
        return status

    return call


def package_env(upstream: str = "http://127.0.0.1:9/api/v1") -> None:
    os.environ.update(
        ASSESSMENT_API_KEY=API_KEY,
        ASSESSMENT_SECRET_KEY=SECRET_KEY,
        ASSESSMENT_JWT_SECRET=JWT_SECRET,
        ASSESSMENT_BASE_URL=upstream,
    )


def stub_client() -> Any:
    """A SmartAIClient whose platform call answers at once: only the package's own work."""
    from assessment_asgi.platform import SessionToken, SmartAIClient

    answer = SessionToken(token=STAND_IN_TOKEN, expires_at=STAND_IN_EXPIRES)

    class NoPlatform(SmartAIClient):
        async def create_session(self, **kwargs: Any) -> SessionToken:  # type: ignore[override]
            return answer

    return NoPlatform(base_url="http://127.0.0.1:9/api/v1")


def mock_transport_client() -> Any:
    import httpx2

    from assessment_asgi.platform import SmartAIClient

    payload = json.dumps(
        {"success": True, "data": {"token": STAND_IN_TOKEN, "expiresAt": STAND_IN_EXPIRES}}
    ).encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=payload, headers={"content-type": "application/json"})

    return SmartAIClient(base_url="http://platform.invalid/api/v1", transport=httpx2.MockTransport(handler))


async def measure_package(quick: bool) -> dict[str, Any]:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from assessment_asgi import AssessmentApp
    from assessment_asgi._models import SessionRequest

    n = 500 if quick else 2000
    token = recruiter_tokens(RECRUITERS)
    body3 = session_body(3)
    out: dict[str, Any] = {}

    app = AssessmentApp(client=stub_client())
    direct = asgi_call("/session", "", token, body3)
    assert await direct(app) == 200, "the stubbed package endpoint did not answer 200"
    out["package_stub"] = await time_calls(lambda: direct(app), n)

    host = Starlette(routes=[Mount("/assessment", AssessmentApp(client=stub_client()))])
    mounted = asgi_call("/assessment/session", "", token, body3)
    assert await mounted(host) == 200
    out["package_stub_mounted"] = await time_calls(lambda: mounted(host), n)

    mock_app = AssessmentApp(client=mock_transport_client())
    assert await direct(mock_app) == 200
    out["package_mock_transport"] = await time_calls(lambda: direct(mock_app), n)

    from benchmarks.apps import ceiling

    hand = ceiling()
    assert await mounted(hand) == 200
    out["hand_written_ceiling"] = await time_calls(lambda: mounted(hand), n)

    # 1,000 candidates: validation alone, then the whole endpoint (limits raised to allow it).
    body1000 = session_body(1000)
    data1000 = json.loads(body1000)
    out["validate_1000"] = await time_calls(
        _sync(lambda: SessionRequest.model_validate(data1000)), 10 if quick else 30, warmup=3
    )
    out["validate_json_1000"] = await time_calls(
        _sync(lambda: SessionRequest.model_validate_json(body1000)), 10 if quick else 30, warmup=3
    )
    big_app = AssessmentApp(client=stub_client(), max_users=1000, max_body_bytes=1024 * 1024)
    big = asgi_call("/session", "", token, body1000)
    assert await big(big_app) == 200
    out["endpoint_1000"] = await time_calls(lambda: big(big_app), 10 if quick else 30, warmup=3)
    out["body_1000_bytes"] = len(body1000)
    # Injected clients are the caller's to close (AssessmentApp.aclose leaves them open).
    for each in (app, mock_app, big_app, host.router.routes[0].app):  # type: ignore[attr-defined]
        await each.client.aclose()
    return out


def _sync(fn: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        return fn()

    return call


async def measure_memory(upstream: str, requests: int, engine: str) -> dict[str, float]:
    from assessment_asgi import AssessmentApp

    package_env(upstream)
    os.environ["ASSESSMENT_ENGINE"] = engine
    # One recruiter here, so the rate limit is raised; fixed-window keeps one counter, so
    # what is measured is the request path, not the limiter's per-minute history.
    app = AssessmentApp(rate_limit="1000000000/minute", rate_limit_strategy="fixed-window")
    call = asgi_call("/session", "", recruiter_token(), session_body(3))
    assert await call(app) == 200, "the package endpoint did not answer 200 through the stand-in"
    statuses: dict[int, int] = {}

    async def one() -> None:
        status = await call(app)
        statuses[status] = statuses.get(status, 0) + 1

    await throughput(one, 3000, 32)  # warm-up: pools, caches, interned strings
    gc.collect()
    before = rss_mb()
    await throughput(one, requests, 32)
    gc.collect()
    after = rss_mb()
    await app.aclose()
    del os.environ["ASSESSMENT_ENGINE"]
    return {
        "engine": engine,  # type: ignore[dict-item]
        "requests": requests,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "growth_mb": after - before,
        "non_200": sum(v for k, v in statuses.items() if k != 200),
    }


def rows(result: dict[str, Any]) -> list[dict[str, str]]:
    p = result["package"]
    c = result["clients"]
    m = result["memory"]

    def us(d: dict[str, float]) -> str:
        return f"{d['mean_us']:.0f} us mean, {d['p50_us']:.0f} us p50"

    table = [
        {
            "name": "package's own work per request (platform call stubbed, direct ASGI)",
            "value": us(p["package_stub"]),
            "target": "<= 100 us",
        },
        {
            "name": "same, through a Starlette host's Mount",
            "value": us(p["package_stub_mounted"]),
            "target": "",
        },
        {
            "name": "same + SmartAIClient + httpx2 over MockTransport (no socket)",
            "value": us(p["package_mock_transport"]),
            "target": "",
        },
        {
            "name": "hand-written ceiling endpoint (Starlette route, same auth + validation)",
            "value": us(p["hand_written_ceiling"]),
            "target": "",
        },
        {
            "name": f"1,000-candidate body ({p['body_1000_bytes'] / 1024:.0f} KiB): model validation",
            "value": f"{p['validate_1000']['p50_us'] / 1000:.2f} ms p50 "
            f"(from JSON bytes: {p['validate_json_1000']['p50_us'] / 1000:.2f} ms)",
            "target": "<= 10 ms",
        },
        {
            "name": "1,000-candidate body: whole endpoint (platform stubbed)",
            "value": f"{p['endpoint_1000']['p50_us'] / 1000:.2f} ms p50",
            "target": "",
        },
    ]
    labels = {
        "raw": "hand-written {engine} call",
        "engine": "bare engine call ({engine} engine.send + JSON parse)",
        "smartai": "SmartAIClient.create_session (engine={engine})",
    }
    for engine in ENGINES:
        for kind, label in labels.items():
            key = f"{kind}_{engine}"
            if key in c:
                table.append({
                    "name": f"platform call over loopback: {label.format(engine=engine)}",
                    "value": f"{c[key]['p50_us']:.0f} us p50 sequential, "
                    f"{c[key]['calls_per_s_32']:.0f} calls/s at 32 concurrent "
                    f"({c[key]['loop_us_32']:.0f} us of event-loop CPU per call)",
                    "target": "",
                })
        smart, bare, hand = c[f"smartai_{engine}"], c[f"engine_{engine}"], c[f"raw_{engine}"]
        table.append({
            "name": f"create_session / bare call, {engine}: sequential p50 ratio; 32-concurrent time ratio",
            "value": f"{smart['p50_us'] / bare['p50_us']:.2f}x; "
            f"{bare['calls_per_s_32'] / smart['calls_per_s_32']:.2f}x"
            f" (vs hand-written: {smart['p50_us'] / hand['p50_us']:.2f}x; "
            f"{hand['calls_per_s_32'] / smart['calls_per_s_32']:.2f}x)",
            "target": "<= 1.1x",
        })
    for each in m:
        table.append({
            "name": f"RSS growth over {each['requests']:,} requests, engine={each['engine']} "
            "(whole endpoint, real sockets)",
            "value": f"{each['growth_mb']:+.1f} MB "
            f"({each['rss_before_mb']:.0f} -> {each['rss_after_mb']:.0f} MB"
            f", {each['non_200']} non-200)",
            "target": "< 10 MB",
        })
    return table


async def main_async(quick: bool) -> dict[str, Any]:
    package_env()
    result: dict[str, Any] = {"package": await measure_package(quick)}
    with stand_in() as upstream:
        result["clients"] = await measure_clients(upstream, quick)
        result["memory"] = [
            await measure_memory(upstream, 10_000 if quick else 50_000, engine) for engine in ENGINES
        ]
    result["rows"] = rows(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON line (for run.py)")
    args = parser.parse_args()
    for key in list(os.environ):
        if key.startswith("ASSESSMENT_"):
            del os.environ[key]
    result = asyncio.run(main_async(args.quick))
    if args.json:
        print(json.dumps(result))
        return
    width = max(len(r["name"]) for r in result["rows"])
    for row in result["rows"]:
        print(f"{row['name']:<{width}}  {row['value']}  {row['target']}")


if __name__ == "__main__":
    main()
