"""Benchmark the session endpoint served every way `apps.py` builds it, on loopback, with wrk.

    python benchmarks/run.py            # full run (~5 minutes)
    python benchmarks/run.py --quick    # smoke run (~1 minute)

Starts the platform stand-in (``stand_in.py``) and each variant of ``apps.py`` under uvicorn
(one worker, the same settings for all, each in its own process), drives each with ``wrk``
in rounds, interleaved round-robin so drift hits every variant alike, at 1 and 32
connections; then runs the in-process micro-benchmarks and the memory check
(``micro.py``). Prints the table and writes ``benchmarks/results/latest.{md,json,png}``
(``quick.*`` for ``--quick``: a smoke run, not meant to be committed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

from benchmarks._common import (  # noqa: E402
    SESSION_PATH,
    STAND_IN_TOKEN,
    recruiter_token,
    recruiter_tokens,
    session_body,
)
from benchmarks._report import ORDER, render_chart, render_markdown  # noqa: E402

# Distinct recruiter tokens the load rotates through: at ~1,000 req/s, fewer than ~2,000
# recruiters would exceed the package's default 30/minute each and measure 429s.
RECRUITERS = 10_000

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing it with apt-get (Debian package 'wrk') ...")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("wrk is required: install it (Debian/Ubuntu: sudo apt-get install wrk) and rerun")


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if cpus and shutil.which("taskset") else cmd


@contextlib.contextmanager
def process(cmd: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc)
            yield proc.pid
        except RuntimeError as exc:
            raise RuntimeError(f"{' '.join(cmd)}: {exc}; log: {log}") from exc
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def redis_server(workdir: Path, cpus: str | None) -> Iterator[str | None]:
    """A real redis-server on loopback for ``package_redis`` (no persistence), or None."""
    binary = shutil.which("redis-server")
    if binary is None:
        print("note: redis-server not found: skipping package_redis")
        yield None
        return
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with process(pinned(cmd, cpus), port, {}, workdir / "redis.log"):
        yield f"redis://127.0.0.1:{port}/0"


def smoke(url: str, token: str, body: bytes) -> str | None:
    """None when the variant answers the contract's success body, else what went wrong."""
    import httpx2

    try:
        response = httpx2.post(
            url,
            content=body,
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
            timeout=30,
        )
    except httpx2.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    data = response.json().get("data") or {}
    if data.get("token") != STAND_IN_TOKEN:
        return f"unexpected body: {response.text[:300]}"
    return None


def run_wrk(
    wrk: str, url: str, connections: int, duration: float, env: dict[str, str], cpus: str | None
) -> dict[str, Any]:
    cmd = pinned(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            # Far beyond any healthy answer (p99s here are tens of ms), and well inside a round:
            # a server that stops answering shows up as timeouts in "errors", not as a quiet 0.
            "--timeout",
            "2s",
            "-s",
            str(HERE / "post.lua"),
            url,
        ],
        cpus,
    )
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            result["errors"] = sum(
                result[k] for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
            )
            return result
    raise RuntimeError(f"wrk gave no summary: {done.stdout}\n{done.stderr}")


def available_variants(requested: list[str]) -> list[str]:
    try:
        import assessment_asgi

        has_app = hasattr(assessment_asgi, "AssessmentApp")
    except Exception as exc:  # the package is being written: measure the others meanwhile
        print(f"note: assessment_asgi does not import ({type(exc).__name__}: {exc})")
        has_app = False
    chosen = []
    for name in requested:
        if name.startswith("package") and not has_app:
            print(f"note: skipping {name}: AssessmentApp is not available yet")
            continue
        chosen.append(name)
    return chosen


def cpu_seconds(pid: int, *, main_thread: bool = False) -> float:
    """User + system CPU time of a process, all its threads included (Linux ``/proc``), or
    of its main thread alone (the event loop's: where Python runs)."""
    path = f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cpu_us": statistics.median(r["cpu_us"] for r in runs),
        "loop_cpu_us": statistics.median(r["loop_cpu_us"] for r in runs),
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
        "rps_all": [round(r["rps"], 1) for r in runs],
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    wrk = ensure_wrk()
    variants = available_variants(args.variants)
    token = recruiter_token()
    workdir = Path(tempfile.mkdtemp(prefix="assessment-bench-"))
    body_file = workdir / "body.json"
    body = session_body(3)
    body_file.write_bytes(body)
    tokens_file = workdir / "tokens.txt"
    tokens_file.write_text("\n".join(recruiter_tokens(args.recruiters)) + "\n", encoding="ascii")
    server_cpus, wrk_cpus = args.pin.split("/") if args.pin else (None, None)

    env = dict(os.environ)
    for key in list(env):
        if key.startswith("ASSESSMENT_"):
            del env[key]  # the variants configure themselves; no stray settings
    stand_in_port = free_port()
    env["BENCH_UPSTREAM"] = f"http://127.0.0.1:{stand_in_port}/api/v1"
    env["PYTHONPATH"] = str(ROOT)
    wrk_env = {**env, "BENCH_TOKENS_FILE": str(tokens_file), "BENCH_BODY_FILE": str(body_file)}
    if args.idempotency:
        wrk_env["BENCH_IDEMPOTENCY"] = "1"  # a new Idempotency-Key on every request

    results: dict[str, dict[int, list[dict[str, Any]]]] = {
        v: {c: [] for c in args.connections} for v in variants
    }
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            process(
                pinned(
                    [sys.executable, str(HERE / "stand_in.py"), "--port", str(stand_in_port)],
                    server_cpus,
                ),
                stand_in_port,
                env,
                workdir / "stand_in.log",
            )
        )
        if "package_redis" in variants:
            url = stack.enter_context(redis_server(workdir, server_cpus))
            if url is None:
                variants = [v for v in variants if v != "package_redis"]
            else:
                env["BENCH_REDIS_URL"] = url
        urls: dict[str, str] = {}
        pids: dict[str, int] = {}
        for name in variants:
            port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"benchmarks.apps:{name}",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--loop",
                args.loop,
                "--http",
                args.http,
                "--no-access-log",
                "--log-level",
                "warning",
                "--backlog",
                "1024",
            ]
            try:
                pid = stack.enter_context(
                    process(pinned(cmd, server_cpus), port, env, workdir / f"{name}.log")
                )
            except RuntimeError as exc:
                print(f"note: {name} did not start: {exc}")
                continue
            url = f"http://127.0.0.1:{port}{SESSION_PATH}"
            problem = smoke(url, token, body)
            if problem:
                print(f"note: dropping {name}: {problem}")
                continue
            urls[name] = url
            pids[name] = pid
        variants = [v for v in variants if v in urls]
        if not variants:
            sys.exit("no variant answered correctly")

        print(f"warming up {len(variants)} variants ...", flush=True)
        for name in variants:
            run_wrk(wrk, urls[name], max(args.connections), 1, wrk_env, wrk_cpus)

        for rnd in range(args.rounds):
            for connections in args.connections:
                # Rotate the order each round so no variant always runs first or last.
                shift = rnd % len(variants)
                order = variants[shift:] + variants[:shift]
                for name in order:
                    cpu = cpu_seconds(pids[name])
                    loop_cpu = cpu_seconds(pids[name], main_thread=True)
                    result = run_wrk(wrk, urls[name], connections, args.duration, wrk_env, wrk_cpus)
                    result["loop_cpu_us"] = (
                        (cpu_seconds(pids[name], main_thread=True) - loop_cpu) * 1e6
                        / max(1, result["requests"])
                    )
                    # The server's own CPU time per answered request (its threads included):
                    # steadier than req/s when other work shares the machine.
                    result["cpu_us"] = (cpu_seconds(pids[name]) - cpu) * 1e6 / max(1, result["requests"])
                    results[name][connections].append(result)
                    print(
                        f"round {rnd + 1}/{args.rounds}  c={connections:<3} {name:<15} "
                        f"{result['rps']:9.1f} req/s  p50 {result['p50_us'] / 1000:7.2f} ms  "
                        f"p99 {result['p99_us'] / 1000:8.2f} ms  cpu {result['cpu_us']:6.0f} us/req "
                        f"(loop {result['loop_cpu_us']:4.0f})"
                        + (f"  ERRORS {result['errors']}" if result["errors"] else ""),
                        flush=True,
                    )
    return {
        v: {str(c): summarise(runs) for c, runs in by_conn.items() if runs}
        for v, by_conn in results.items()
        if v in variants
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s: a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; quick 1)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (3)")
    parser.add_argument("--connections", default="1,32", help="comma-separated (default 1,32)")
    parser.add_argument(
        "--variants",
        default=",".join(ORDER),
        help=f"comma-separated, of: {', '.join(ORDER)}",
    )
    # As production runs (uvicorn[standard]); --loop asyncio --http h11 for the pure-Python stack.
    parser.add_argument("--loop", default="uvloop", help="uvicorn --loop for every variant")
    parser.add_argument("--http", default="httptools", help="uvicorn --http for every variant")
    parser.add_argument(
        "--pin",
        default=None,
        metavar="SERVERS/WRK",
        help="CPU lists for taskset, e.g. 0/1: servers and stand-in on CPU 0, wrk on CPU 1",
    )
    parser.add_argument(
        "--recruiters", type=int, default=RECRUITERS, help=f"distinct JWTs (default {RECRUITERS})"
    )
    parser.add_argument(
        "--out", default=None, help="results/<OUT>.{md,json,png} (default latest; quick: quick)"
    )
    parser.add_argument(
        "--idempotency", action="store_true", help="send a new Idempotency-Key with every request"
    )
    parser.add_argument("--no-micro", action="store_true", help="skip micro-benchmarks and memory")
    parser.add_argument("--no-wrk", action="store_true", help="only the in-process measurements")
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (2.0 if args.quick else 3.0)
    args.connections = [int(c) for c in args.connections.split(",")]
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = set(args.variants) - set(ORDER)
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(sorted(unknown))}")

    started = time.monotonic()
    load_start = os.getloadavg()
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:]),
        "settings": {
            "rounds": args.rounds,
            "duration": args.duration,
            "connections": args.connections,
            "loop": args.loop,
            "http": args.http,
            "pin": args.pin,
            "recruiters": args.recruiters,
            "idempotency": args.idempotency,
        },
        "wrk": {},
    }
    if not args.no_wrk:
        report["wrk"] = bench(args)
    if not args.no_micro:
        cmd = [sys.executable, str(HERE / "micro.py"), "--json"]
        if args.quick:
            cmd.append("--quick")
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            report["micro"] = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            print(f"note: micro-benchmarks failed:\n{done.stderr[-2000:]}")
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["load_average"] = {"start": load_start, "end": os.getloadavg()}

    RESULTS.mkdir(exist_ok=True)
    name = args.out or ("quick" if args.quick else "latest")
    markdown = render_markdown(report)
    (RESULTS / f"{name}.md").write_text(markdown + "\n", encoding="utf-8")
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if report["wrk"]:
        render_chart(report, RESULTS / f"{name}.png")
    print()
    print(markdown)
    print(f"\nwrote {RESULTS / name}.md, .json, .png in {report['elapsed_s']} s")


if __name__ == "__main__":
    main()
