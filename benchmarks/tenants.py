"""Many tenants against one: what ``TenantKeys`` costs per request.

    python benchmarks/tenants.py                 # 3 rounds x 5 s at 32 connections, + micro
    python benchmarks/tenants.py --quick         # 1 round x 2 s

1. **Cached lookup** (in process): ``await keys(recruiter)`` for recruiters rotating through
   1,000 tenants, the cache warm, for each source (a mapping, a file, a loader), and through
   the app's ``KeyCaller`` (what a request pays: the cached answer and the checks around it).
   Target: <= 5 us a lookup.
2. **Requests per CPU-second in process**: the same app called through ASGI with the platform
   call stubbed, 1,000 requests a round, the two token sets alternating, 20 rounds (6 with
   ``--quick``): the package's own work, where a lookup's cost would show, timed in this
   process's CPU time so that other jobs on a shared machine count less.
3. **Requests/s** (loopback, wrk): ONE uvicorn process serving ``AssessmentApp`` mounted in
   Starlette with ``tenant_claim="org_id"`` and ``TenantKeys(loader=...)`` (ttl 300 s), in front
   of the platform stand-in (``stand_in.py``). Two token files drive it in alternation, each
   with 10,000 recruiters: all of tenant ``t0`` ("one tenant"), or spread over ``t0``..``t999``
   ("1,000 tenants"). Same process, same app, same run: only the tenant spread differs.
   Target: 1,000 tenants >= 0.95x the requests/s of one tenant.

Writes ``results/tenants.json`` and ``results/tenants.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import (  # noqa: E402
    API_KEY,
    JWT_SECRET,
    SECRET_KEY,
    session_body,
    upstream_base_url,
)
from benchmarks.run import ensure_wrk, free_port, process, run_wrk, smoke  # noqa: E402

TENANTS = 1_000
RECRUITERS = 10_000
CLAIM = "org_id"


def tenant_credentials(tenant: str) -> Any:
    from assessment_asgi import Credentials

    # A pair per tenant (benchmark dummies): the stand-in only checks that both are sent.
    return Credentials(f"{API_KEY}_{tenant}", f"{SECRET_KEY}_{tenant}")


async def load(tenant: str) -> Any:
    """The loader a deployment would point at its database or secrets manager."""
    return tenant_credentials(tenant) if tenant.startswith("t") else None


def app() -> Any:
    """The served app (``uvicorn --factory benchmarks.tenants:app``)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from assessment_asgi import AssessmentApp, TenantKeys

    assessment = AssessmentApp(
        base_url=upstream_base_url(), jwt_secret=JWT_SECRET, tenant_claim=CLAIM,
        keys=TenantKeys(loader=load, ttl=300),
    )
    return Starlette(routes=[Mount("/assessment", assessment)], lifespan=assessment.lifespan)


def tokens(tenants: int) -> list[str]:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    key, now = OctKey.import_key(JWT_SECRET), int(time.time())
    return [
        jwt.encode({"alg": "HS256"}, {"sub": f"recruiter-{i}", CLAIM: f"t{i % tenants}",
                                      "iat": now, "exp": now + 86_400}, key)
        for i in range(RECRUITERS)
    ]


# -- 1. the cached lookup -------------------------------------------------------------------


async def lookup_costs(n: int) -> dict[str, float]:
    from assessment_asgi import Recruiter, TenantKeys
    from assessment_asgi._keys import KeyCaller

    recruiters = [Recruiter(id=f"r{i}", tenant=f"t{i % TENANTS}") for i in range(RECRUITERS)]
    mapping = {f"t{i}": tenant_credentials(f"t{i}") for i in range(TENANTS)}
    workdir = Path(tempfile.mkdtemp(prefix="assessment-tenants-"))
    file = workdir / "tenants.json"
    file.write_text(json.dumps({t: {"api_key": c.api_key.get_secret_value(),
                                    "secret_key": c.secret_key.get_secret_value()}
                                for t, c in mapping.items()}))
    sources = {
        "mapping": TenantKeys(mapping),
        "file": TenantKeys.from_file(file),
        "loader (cache warm)": TenantKeys(loader=load, ttl=3600),
    }
    out: dict[str, float] = {}
    for name, keys in sources.items():
        caller = KeyCaller(keys, timeout=5.0, secrets=list)
        for label, call in ((name, keys), (f"{name}, through KeyCaller", caller)):
            for r in recruiters:  # warm: every tenant loaded once
                await call(r)
            runs = []
            for _ in range(5):
                started = time.perf_counter_ns()
                for i in range(n):
                    await call(recruiters[i % RECRUITERS])
                runs.append((time.perf_counter_ns() - started) / n / 1000)
            out[label] = statistics.median(runs)
    return out


async def in_process(rounds: int, n: int) -> dict[str, list[float]]:
    """Requests/s of the mounted app called through ASGI in process, the platform call stubbed
    (``micro.py``'s stub client): the package's own work, where a key lookup would show."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from assessment_asgi import AssessmentApp, TenantKeys
    from benchmarks.micro import asgi_call, stub_client

    client = stub_client()
    host = Starlette(routes=[Mount("/assessment", AssessmentApp(
        client=client, jwt_secret=JWT_SECRET, tenant_claim=CLAIM,
        keys=TenantKeys(loader=load, ttl=3600)))])
    body = session_body(3)
    calls = {"one tenant": asgi_call("/assessment/session", "", tokens(1), body),
             f"{TENANTS:,} tenants": asgi_call("/assessment/session", "", tokens(TENANTS), body)}
    for call in calls.values():  # warm: every tenant loaded
        for _ in range(RECRUITERS):
            assert await call(host) == 200
    results: dict[str, list[float]] = {name: [] for name in calls}
    for rnd in range(rounds):
        for name in (list(calls) if rnd % 2 == 0 else list(reversed(calls))):
            # CPU time of this process: on a shared machine, wall time mostly measures the others.
            started = time.process_time()
            for _ in range(n):
                await calls[name](host)
            results[name].append(n / (time.process_time() - started))
    await client.aclose()
    return results


# -- 2. requests/s, one tenant against 1,000 -------------------------------------------------


def requests_per_second(rounds: int, duration: float, connections: int) -> dict[str, list[float]]:
    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="assessment-tenants-"))
    body = session_body(3)
    (workdir / "body.json").write_bytes(body)
    files = {"one tenant": tokens(1), f"{TENANTS:,} tenants": tokens(TENANTS)}
    for name, rows in files.items():
        (workdir / f"{name}.txt").write_text("\n".join(rows) + "\n", encoding="ascii")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSMENT_")}
    stand_in_port, port = free_port(), free_port()
    env.update(BENCH_UPSTREAM=f"http://127.0.0.1:{stand_in_port}/api/v1", PYTHONPATH=str(ROOT))
    results: dict[str, list[float]] = {name: [] for name in files}
    with contextlib.ExitStack() as stack:
        stack.enter_context(process([sys.executable, str(HERE / "stand_in.py"), "--port",
                                     str(stand_in_port)], stand_in_port, env, workdir / "stand_in.log"))
        stack.enter_context(process(
            [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.tenants:app", "--host",
             "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
             "--no-access-log", "--log-level", "warning", "--backlog", "1024"],
            port, env, workdir / "app.log"))
        url = f"http://127.0.0.1:{port}/assessment/session"
        problem = smoke(url, files["one tenant"][0], body)
        if problem:
            sys.exit(f"the app did not answer: {problem}")
        run_env = {**env, "BENCH_BODY_FILE": str(workdir / "body.json")}
        for name in files:  # warm-up: every tenant's keys loaded, every path taken
            run_wrk(wrk, url, connections, 2, {**run_env, "BENCH_TOKENS_FILE": str(
                workdir / f"{name}.txt")}, None)
        for rnd in range(rounds):
            order = list(files) if rnd % 2 == 0 else list(reversed(files))
            for name in order:
                result = run_wrk(wrk, url, connections, duration, {
                    **run_env, "BENCH_TOKENS_FILE": str(workdir / f"{name}.txt")}, None)
                if result["errors"]:
                    sys.exit(f"{name}: {result['errors']} errors in round {rnd + 1}")
                results[name].append(result["rps"])
                print(f"round {rnd + 1}/{rounds}  {name:<14} {result['rps']:8.1f} req/s  "
                      f"p99 {result['p99_us'] / 1000:7.2f} ms", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s, fewer lookups")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (2.0 if args.quick else 5.0)
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    costs = asyncio.run(lookup_costs(20_000 if args.quick else 200_000))
    local = asyncio.run(in_process(6 if args.quick else 20, 1_000))
    rps = requests_per_second(rounds, duration, args.connections)
    one, many = (statistics.median(v) for v in rps.values())
    paired = statistics.median(m / o for o, m in zip(*rps.values(), strict=True))
    local_ratio = statistics.median(m / o for o, m in zip(*local.values(), strict=True))
    report = {
        "command": " ".join(["python benchmarks/tenants.py", *sys.argv[1:]]),
        "started": started.isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "lookup_us": costs, "rps": rps, "ratio": many / one, "paired_ratio": paired,
        "in_process_rps": local, "in_process_ratio": local_ratio,
        "rounds": rounds, "duration": duration, "connections": args.connections,
    }
    lines = [
        f"# Tenants: {report['command']}", "",
        f"{report['started']}, {report['machine']}, load average {load_before:.1f} → "
        f"{os.getloadavg()[0]:.1f}; {rounds} round(s) x {duration:g} s at {args.connections} "
        "connections, medians.", "",
        "| cached key lookup (1,000 tenants) | µs |", "|---|---:|",
        *(f"| {name} | {us:.2f} |" for name, us in costs.items()), "",
        "| tokens | served, wrk: req/s (median) | rounds |", "|---|---:|---|",
        *(f"| {name} | {statistics.median(v):,.0f} | {', '.join(f'{x:,.0f}' for x in v)} |"
          for name, v in rps.items()), "",
        "| tokens | in process, platform stubbed: req per CPU-second (median) | rounds |",
        "|---|---:|---|",
        *(f"| {name} | {statistics.median(v):,.0f} | {', '.join(f'{x:,.0f}' for x in v)} |"
          for name, v in local.items()), "",
        f"1,000 tenants ÷ one tenant, served: **{many / one:.3f}x** of the medians, "
        f"{paired:.3f}x the median of each round's pair (target ≥ 0.95x); in process: "
        f"{local_ratio:.3f}x. Slowest cached lookup {max(costs.values()):.2f} µs (target ≤ 5 µs).",
    ]
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "tenants.json").write_text(json.dumps(report, indent=2) + "\n")
    (results / "tenants.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
