"""Profile the package's hot path with pyinstrument; writes ``benchmarks/results/profile.txt``.

    python benchmarks/profile_hot_path.py

Two profiles: (1) ``AssessmentApp`` handling ``POST /session`` in process with the platform
call stubbed (the package's own work), (2) ``SmartAIClient.create_session`` against the
platform stand-in on loopback (the client, httpx2 and the transport).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

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


def main() -> None:
    parts = ["# 1. AssessmentApp, platform call stubbed (3,000 requests)\n"]
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
