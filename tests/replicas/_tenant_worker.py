"""One multi-tenant poller replica (``TenantPoller``), run as its own process by the replica tests.

Configured by environment: ``WORKER_NAME``, ``WORKER_BASE_URL``, ``WORKER_TENANTS`` (a JSON
file: tenant -> {api_key, secret_key}), ``WORKER_REDIS_URL``, ``WORKER_PREFIX``,
``WORKER_LEASE_TTL``, ``WORKER_OUT`` (a file). Each handled event appends
``start <worker> <tenant> <id> <unix time>`` and ``done …`` lines with one unbuffered ``write``
each, so a SIGKILL loses nothing that was written. SIGTERM stops it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import anyio

from assessment_asgi.platform import Credentials, Event, SmartAIClient, TenantPoller


def main() -> None:
    env = os.environ
    name = env["WORKER_NAME"]
    out = os.open(env["WORKER_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
    keys = {
        tenant: Credentials(pair["api_key"], pair["secret_key"])
        for tenant, pair in json.loads(Path(env["WORKER_TENANTS"]).read_text()).items()
    }

    async def handle(tenant: str, event: Event) -> None:
        os.write(out, f"start {name} {tenant} {event.event_id} {time.time():.6f}\n".encode())
        await anyio.sleep(0.03)  # the host's own work: saving the result
        os.write(out, f"done {name} {tenant} {event.event_id} {time.time():.6f}\n".encode())

    async def run() -> None:
        client = SmartAIClient(base_url=env["WORKER_BASE_URL"])
        poller = TenantPoller(
            client, handle, keys=keys, interval=5, limit=5, max_concurrent=3, max_backoff=5,
            handler_timeout=10, redis=env["WORKER_REDIS_URL"], prefix=env["WORKER_PREFIX"],
            lease_ttl=float(env["WORKER_LEASE_TTL"]), claim_ttl=3,
        )
        async with client, anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        poller.stop()
                        return

            tg.start_soon(stop_on_signal)
            os.write(out, b"ready\n")
            await poller.run()
            tg.cancel_scope.cancel()
        await poller.aclose()

    anyio.run(run)


if __name__ == "__main__":
    main()
