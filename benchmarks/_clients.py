"""In-process platform calls per engine: hand-written, bare engine call, SmartAIClient."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._common import API_KEY, SECRET_KEY, session_body

ROUNDS = 3


async def time_calls(
    call: Callable[[], Awaitable[Any]], iterations: int, warmup: int = 200
) -> dict[str, float]:
    for _ in range(warmup):
        await call()
    samples = []
    perf = time.perf_counter_ns
    for _ in range(iterations):
        t0 = perf()
        await call()
        samples.append(perf() - t0)
    samples.sort()
    return {
        "mean_us": statistics.fmean(samples) / 1000,
        "p50_us": samples[len(samples) // 2] / 1000,
        "p99_us": samples[int(len(samples) * 0.99)] / 1000,
    }


async def throughput(call: Callable[[], Awaitable[Any]], total: int, concurrency: int) -> float:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - t0)


ENGINES = ("aiohttp", "pyreqwest", "httpx2")


async def measure_clients(upstream: str, quick: bool) -> dict[str, Any]:
    """Per engine: the hand-written library call, the bare engine call (``engine.send``
    plus the JSON parse), and ``SmartAIClient.create_session`` on that engine."""
    from datetime import timedelta

    import aiohttp
    import httpx2
    from pyreqwest.client import ClientBuilder

    from assessment_asgi.platform import Credentials, SmartAIClient
    from assessment_asgi.platform._engines import Options, Prepared, factory

    n = 300 if quick else 900
    total = 900 if quick else 3000
    payload = json.loads(session_body(3))
    raw = json.dumps(payload)
    headers = {"content-type": "application/json", "x-api-key": API_KEY, "x-secret-key": SECRET_KEY}
    creds = Credentials(API_KEY, SECRET_KEY)
    url = upstream + "/sessions"
    out: dict[str, Any] = {}

    session = aiohttp.ClientSession()

    async def raw_aiohttp() -> Any:
        async with session.post(url, data=raw, headers=headers) as r:
            return (await r.json())["data"]

    native = ClientBuilder().no_proxy().follow_redirects(False).timeout(timedelta(seconds=15)).build()

    async def raw_pyreqwest() -> Any:
        response = await native.post(url).headers(headers).body_bytes(raw.encode()).build().send()
        return json.loads(bytes(await response.bytes()))["data"]

    raw_httpx2_client = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=100))

    async def raw_httpx2() -> Any:
        return (await raw_httpx2_client.post(url, content=raw, headers=headers)).json()["data"]

    clients: dict[str, Callable[[], Awaitable[Any]]] = {
        "raw_aiohttp": raw_aiohttp,
        "raw_pyreqwest": raw_pyreqwest,
        "raw_httpx2": raw_httpx2,
    }
    closers: list[Callable[[], Awaitable[None]]] = [session.close, native.close, raw_httpx2_client.aclose]
    options = Options(limits=httpx2.Limits(max_connections=100, keepalive_expiry=4.0),
                      headers={"user-agent": "bench", "accept": "application/json"})
    body = raw.encode()
    for name in ENGINES:
        engine = factory(name, options)("asyncio")
        closers.append(engine.aclose)

        async def bare(engine: Any = engine) -> Any:
            request = Prepared("POST", url, headers, body, 5.0, 15.0, 20.0, 1 << 20)
            return json.loads((await engine.send(request)).body)["data"]

        smart = SmartAIClient(base_url=upstream, credentials=creds, engine=name)
        closers.append(smart.aclose)

        async def via_smart(smart: SmartAIClient = smart) -> Any:
            return await smart.create_session(users=payload["users"], recruiter_id="recruiter-42")

        clients[f"engine_{name}"] = bare
        clients[f"smartai_{name}"] = via_smart
    try:
        # Rounds, the order rotated each time, medians kept: drift on a shared machine hits
        # every client alike.
        names = list(clients)
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for rnd in range(ROUNDS):
            for name in names[rnd % len(names) :] + names[: rnd % len(names)]:
                result = await time_calls(clients[name], n // ROUNDS, warmup=50)
                # The event loop's own CPU per call (this thread only; an engine's native
                # threads excluded): what a server on one loop pays for each platform call.
                cpu = time.thread_time()
                result["calls_per_s_32"] = await throughput(clients[name], total // ROUNDS, 32)
                result["loop_us_32"] = (time.thread_time() - cpu) / (total // ROUNDS) * 1e6
                rounds[name].append(result)
        for name, results in rounds.items():
            out[name] = {key: statistics.median(r[key] for r in results) for key in results[0]}
    finally:
        for close in closers:
            await close()
    return out


