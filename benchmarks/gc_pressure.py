"""Garbage-collector pressure per request, in process: collections per 1,000 requests.

    python benchmarks/gc_pressure.py             # 8,000 requests per variant, 32 at once

Each variant serves ``POST /assessment/session`` through ASGI directly (no socket to the client),
32 requests at a time, its platform call going to the stand-in over loopback, on uvloop, with
the load rotating through 10,000 recruiters as in ``run.py``. What it counts does not depend on
the machine's load: the collections of each generation (``gc.get_stats()``) per 1,000 requests,
and the objects the collector still tracks after the run (``len(gc.get_objects())``, after one
full collection: what the variant keeps, such as rate-limit windows). Start-up is frozen
(``gc.freeze()``) first, as the package does at lifespan startup.

A collection is triggered by the tracked objects allocated and not yet freed; objects that live
across an ``await`` of 32 requests in flight, and objects kept for later (a window per recruiter),
are what make them frequent.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._clients import throughput
from benchmarks._common import recruiter_tokens, session_body
from benchmarks.micro import asgi_call, package_env, stand_in

CONCURRENCY = 32


def variants() -> dict[str, Any]:
    """Each variant's app, as a Starlette host with a lifespan that closes its pools."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from assessment_asgi import AssessmentApp
    from benchmarks import apps

    def package(**options: Any) -> Starlette:
        assessment = AssessmentApp(**options)
        return Starlette(routes=[Mount("/assessment", assessment)], lifespan=assessment.lifespan)

    return {
        "package (defaults)": package(),
        "package, rate limit off": package(rate_limit=""),
        "hand-written aiohttp": apps.aiohttp(),
        "hand-written pyreqwest (tuned)": apps.pyreqwest_tuned(),
    }


async def serve(app: Any, call: Any, total: int) -> None:
    """`total` requests, `CONCURRENCY` at a time, each answered 200."""

    async def one() -> None:
        status = await call(app)
        assert status == 200, f"answered {status}"

    await throughput(one, total, CONCURRENCY)


async def measure(upstream: str, requests: int) -> list[tuple[str, list[float], int]]:
    package_env(upstream)
    os.environ["BENCH_UPSTREAM"] = upstream
    call = asgi_call("/assessment/session", "", recruiter_tokens(10_000), session_body(3))
    built = variants()
    rows = []
    for name, app in built.items():
        async with app.router.lifespan_context(app):
            await serve(app, call, 500)  # warm-up: pools open, caches filled
            gc.collect()
            gc.freeze()
            before = [s["collections"] for s in gc.get_stats()]
            tracked = len(gc.get_objects())
            await serve(app, call, requests)
            after = [s["collections"] for s in gc.get_stats()]
            gc.collect()
            kept = len(gc.get_objects()) - tracked
            gc.unfreeze()
        per_gen = [(b - a) * 1000 / requests for a, b in zip(before, after, strict=True)]
        rows.append((name, per_gen, kept))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8_000)
    args = parser.parse_args()
    import uvloop

    with stand_in() as upstream:
        time.sleep(0.5)
        rows = uvloop.run(measure(upstream, args.requests))
    print(f"{args.requests:,} requests per variant, {CONCURRENCY} at once, 10,000 recruiters")
    print("| variant | gen 0 | gen 1 | gen 2 | objects kept after the run |")
    print("|---|---:|---:|---:|---:|")
    for name, per_gen, kept in rows:
        print(f"| {name} | {per_gen[0]:.1f} | {per_gen[1]:.1f} | {per_gen[2]:.2f} | {kept:+,} |")


if __name__ == "__main__":
    main()
