"""Profile the package's hot path with pyinstrument; writes ``benchmarks/results/profile.txt``.

    python benchmarks/profile_hot_path.py

Two profiles: (1) ``AssessmentApp`` handling ``POST /session`` in process with the platform
call stubbed (the package's own work), (2) ``SmartAIClient.create_session`` against the
platform stand-in on loopback (the client, httpx2 and the transport).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler  # noqa: E402

from benchmarks._common import API_KEY, SECRET_KEY, recruiter_tokens, session_body  # noqa: E402
from benchmarks.micro import asgi_call, package_env, stand_in, stub_client  # noqa: E402


async def profile_app(requests: int) -> str:
    from assessment_asgi import AssessmentApp

    package_env()
    app = AssessmentApp(client=stub_client())
    call = asgi_call("/session", "", recruiter_tokens(10_000), session_body(3))
    for _ in range(300):
        await call(app)
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    for _ in range(requests):
        await call(app)
    profiler.stop()
    await app.aclose()
    return profiler.output_text(unicode=False, color=False)


async def profile_client(upstream: str, calls: int) -> str:
    from assessment_asgi.platform import Credentials, SmartAIClient

    client = SmartAIClient(base_url=upstream, credentials=Credentials(API_KEY, SECRET_KEY))
    users = json.loads(session_body(3))["users"]
    for _ in range(300):
        await client.create_session(users=users, recruiter_id="recruiter-42")
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    for _ in range(calls):
        await client.create_session(users=users, recruiter_id="recruiter-42")
    profiler.stop()
    await client.aclose()
    return profiler.output_text(unicode=False, color=False)


class _Stages:
    """Wall time per stage, by wrapping the app's steps (in this process only)."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        self._undo.append((owner, name, owner.__dict__.get(name, original)))
        ns = self.ns
        ns.setdefault(label, 0)
        perf = time.perf_counter_ns

        if inspect.iscoroutinefunction(original):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                t0 = perf()
                try:
                    return await original(*args, **kwargs)
                finally:
                    ns[label] += perf() - t0

            setattr(owner, name, timed_async)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                t0 = perf()
                try:
                    return original(*args, **kwargs)
                finally:
                    ns[label] += perf() - t0

            setattr(owner, name, timed)

    def table(self, total_ns: int, count: int) -> str:
        rows = sorted(self.ns.items(), key=lambda item: -item[1])
        accounted = sum(ns for _, ns in rows)
        rows.append(("(the rest: routing, guards, call limiter, logging, ...)", total_ns - accounted))
        lines = [f"{'stage':<58} {'us/request':>10} {'share':>6}"]
        for label, ns in rows:
            lines.append(f"{label:<58} {ns / count / 1000:>10.1f} {ns / total_ns:>6.0%}")
        lines.append(f"{'total':<58} {total_ns / count / 1000:>10.1f}")
        return "\n".join(lines) + "\n"


async def stages_app(requests: int) -> str:
    """The package's own work per request, split by stage (platform call stubbed)."""
    import assessment_asgi._app as app_module
    from assessment_asgi import AssessmentApp

    package_env()
    app = AssessmentApp(client=stub_client())
    stages = _Stages()
    for name, where in (
        ("read_body", "_body.py"),
        ("parse_json", "_body.py"),
        ("check_content_type", "_body.py"),
        ("send_json", "_responses.py"),
    ):
        stages.wrap(app_module, name, f"{name} ({where})")
    for name in ("_authenticate", "_validate", "_resolve", "_credentials"):
        stages.wrap(app, name, f"AssessmentApp.{name} (_app.py)")
    if app.rate_limiter is not None:
        stages.wrap(app.rate_limiter, "check", "RecruiterRateLimiter.check (_ratelimit.py)")
    stages.wrap(app.client, "create_session", "create_session (stubbed: returns at once)")
    call = asgi_call("/session", "", recruiter_tokens(10_000), session_body(3))
    for _ in range(300):
        await call(app)
    for key in stages.ns:
        stages.ns[key] = 0
    t0 = time.perf_counter_ns()
    for _ in range(requests):
        await call(app)
    total = time.perf_counter_ns() - t0
    stages.restore()
    await app.client.aclose()
    return stages.table(total, requests)


async def stages_client(upstream: str, calls: int) -> str:
    """One SmartAIClient.create_session over loopback, split: the engine / the client above it."""
    from assessment_asgi.platform import Credentials, SmartAIClient
    from assessment_asgi.platform._engines._aiohttp import AiohttpEngine

    stages = _Stages()
    stages.wrap(AiohttpEngine, "send", "AiohttpEngine.send (aiohttp request + body read)")
    client = SmartAIClient(base_url=upstream, credentials=Credentials(API_KEY, SECRET_KEY), engine="aiohttp")
    users = json.loads(session_body(3))["users"]
    for _ in range(300):
        await client.create_session(users=users, recruiter_id="recruiter-42")
    for key in stages.ns:
        stages.ns[key] = 0
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        await client.create_session(users=users, recruiter_id="recruiter-42")
    total = time.perf_counter_ns() - t0
    stages.restore()
    await client.aclose()
    ns = stages.ns
    ns["SmartAIClient above the seam (body, headers, deadline, classify, parse)"] = (
        total - ns["AiohttpEngine.send (aiohttp request + body read)"]
    )
    return stages.table(total, calls).replace(
        "(the rest: routing, guards, call limiter, logging, ...)", "(rest)"
    )


def main() -> None:
    parts = ["# 0. Stages of one request (wall time, no profiler)\n\n"]
    parts.append("## AssessmentApp, platform call stubbed (2,000 requests, 10,000 recruiters)\n")
    parts.append(asyncio.run(stages_app(2000)))
    with stand_in() as upstream:
        parts.append("\n## SmartAIClient.create_session over loopback (1,000 calls)\n")
        parts.append(asyncio.run(stages_client(upstream, 1000)))
    parts.append("\n# 1. AssessmentApp, platform call stubbed (3,000 requests)\n")
    parts.append(asyncio.run(profile_app(3000)))
    with stand_in() as upstream:
        parts.append("\n# 2. SmartAIClient.create_session over loopback (2,000 calls)\n")
        parts.append(asyncio.run(profile_client(upstream, 2000)))
    out = ROOT / "benchmarks" / "results" / "profile.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")
    print("".join(parts))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
