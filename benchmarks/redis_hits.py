"""CPU per rate-limit hit, in process: the memory limiter against the Redis one.

    python benchmarks/redis_hits.py            # starts its own redis-server on loopback

Steadier than wrk on a shared machine: it counts this process's CPU time (``time.process_time``)
over hits from many recruiters, one at a time and 32 at once (as 32 connections would), on
uvloop. The Redis limiter's scripts are pipelined per loop turn, so 32 concurrent hits share
the client's per-command work.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assessment_asgi import Recruiter
from assessment_asgi._ratelimit import RecruiterRateLimiter
from benchmarks.run import free_port, wait_for_port

HITS = 4_000


async def measure(limiter: RecruiterRateLimiter) -> tuple[float, float]:
    """µs of CPU per hit: sequential, then 32 concurrent."""
    recruiters = [Recruiter(id=f"rec_{i}") for i in range(HITS)]
    for recruiter in recruiters[:200]:  # warm-up: connections open, scripts cached
        await limiter.check(recruiter)
    started = time.process_time()
    for recruiter in recruiters:
        await limiter.check(recruiter)
    sequential = (time.process_time() - started) / HITS * 1e6
    started = time.process_time()
    for i in range(0, HITS, 32):
        await asyncio.gather(*(limiter.check(r) for r in recruiters[i : i + 32]))
    concurrent = (time.process_time() - started) / HITS * 1e6
    await limiter.aclose()
    return sequential, concurrent


def main() -> None:
    import uvloop

    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is required (Debian: apt-get install redis-server)")
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        for name, uri in (("memory", None), ("redis", f"redis://127.0.0.1:{port}/0")):
            limiter = RecruiterRateLimiter(limit="1000000/minute", storage_uri=uri)
            sequential, concurrent = uvloop.run(measure(limiter))
            print(f"{name:<7} {sequential:6.0f} µs CPU per hit one at a time, "
                  f"{concurrent:6.0f} µs 32 at once")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
