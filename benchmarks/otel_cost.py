"""What OpenTelemetry costs when the API is installed and no SDK is configured.

In process, no sockets: the app is driven through ASGI directly and its platform client talks
to the embedded sandbox through ``httpx2.ASGITransport``, so the request does all its real
work (JWT, validation, the platform call, spans and metrics) without network noise. Rounds
alternate "telemetry on" (the API's no-op tracer and meter) and "telemetry off" (what a
process without ``opentelemetry-api`` runs); the ratio of the medians is printed.

    python benchmarks/otel_cost.py                 # 9 rounds of 400 requests each way
    python benchmarks/otel_cost.py --rounds 3 --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx2
from joserfc import jwt
from joserfc.jwk import OctKey

from assessment_asgi import AssessmentApp, Credentials, SmartAIClient
from assessment_asgi._scope import replay
from assessment_asgi.platform._observe import PlatformCall
from assessment_asgi.sandbox import SandboxApp, generate_test_credentials

JWT_SECRET = "benchmark-jwt-secret-0123456789abcdef0123"
BODY = json.dumps({"users": [{"name": "Ada Lovelace", "email": "ada@example.com"},
                             {"name": "Alan Turing", "email": "alan@example.com"}]}).encode()


def _token() -> str:
    now = int(time.time())
    claims = {"sub": "rec_1", "email": "rita@hire.example", "iat": now, "exp": now + 3600}
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(JWT_SECRET.encode()))


async def _request(app: AssessmentApp, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {"type": "http", "method": "POST", "path": "/assessment/session",
             "root_path": "/assessment", "headers": headers, "query_string": b"",
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80)}
    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, replay(BODY), send)  # the body once, then a disconnect
    return status


async def _round(
    app: AssessmentApp, headers: list[tuple[bytes, bytes]], requests: int
) -> tuple[float, float]:
    """(requests per wall second, CPU microseconds per request) for one round."""
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        if await _request(app, headers) != 200:
            raise RuntimeError("a benchmark request failed")
    return requests / (time.perf_counter() - started), (time.process_time() - cpu) / requests * 1e6


def _telemetry_alone(app: AssessmentApp, iterations: int) -> float:
    """CPU microseconds the telemetry of one request adds: its span, child span and metrics."""
    call = PlatformCall("create_session", "httpx2", 1, 200, "req_1", None, time.time_ns(), 0.001)
    cost = {}
    for enabled in (True, False):
        app.telemetry.enabled = enabled
        started = time.process_time()
        for _ in range(iterations):
            with app.telemetry.request("/assessment/session") as record:
                record.platform_call(call)
        cost[enabled] = (time.process_time() - started) / iterations * 1e6
    return cost[True] - cost[False]


async def main(rounds: int, requests: int) -> None:
    keys = generate_test_credentials()
    sandbox = SandboxApp(credentials=keys, max_sessions=1_000_000)
    client = SmartAIClient(
        base_url="http://127.0.0.1/api/v1",  # ASGITransport: no packet leaves the process
        transport=httpx2.ASGITransport(app=sandbox),
        on_call=AssessmentApp.observe_platform_call,
    )
    app = AssessmentApp(
        client=client, jwt_secret=JWT_SECRET, rate_limit="",
        keys=Credentials(keys.api_key.get_secret_value(), keys.secret_key.get_secret_value()),
    )
    if not app.telemetry.enabled:
        raise SystemExit("opentelemetry-api is not installed: pip install 'assessment-asgi[otel]'")
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {_token()}".encode())]
    await _round(app, headers, requests)  # warm-up: pools, caches, lazy imports
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for number in range(rounds):
        # Alternate which goes first, so drift on a shared machine hits both alike.
        for enabled in ((True, False) if number % 2 == 0 else (False, True)):
            app.telemetry.enabled = enabled
            results[enabled].append(await _round(app, headers, requests))
    await client.aclose()
    added = _telemetry_alone(app, 20_000)
    # Per pair of adjacent rounds: machine load changes between pairs more than within one.
    ratios = [a[0] / b[0] for a, b in zip(results[True], results[False], strict=True)]
    cpu = {k: statistics.median(x[1] for x in v) for k, v in results.items()}  # per label
    print(f"rounds={rounds} requests/round={requests}")
    labels = {False: "telemetry off (as without the API)", True: "telemetry on (API, no SDK)"}
    for enabled, label in labels.items():
        rates = [round(x[0]) for x in results[enabled]]
        print(f"{label:36} median {statistics.median(rates):6.0f} req/s, "
              f"{cpu[enabled]:6.0f} us CPU/request  {rates}")
    print(f"req/s on/off, median of paired rounds: {statistics.median(ratios):.3f}")
    cpu_ratios = [a[1] / b[1] for a, b in zip(results[True], results[False], strict=True)]
    print(f"CPU per request on/off, median of paired rounds: {statistics.median(cpu_ratios):.3f}")
    print(f"telemetry alone: {added:.1f} us CPU per request = {100 * added / cpu[False]:.1f} % of a request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests))
