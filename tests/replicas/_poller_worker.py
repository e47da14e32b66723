"""One poller replica, run as its own process by the replica tests.

Configured by environment: ``WORKER_BASE_URL``, ``WORKER_API_KEY``, ``WORKER_SECRET_KEY``,
``WORKER_REDIS_URL``, ``WORKER_PREFIX``, ``WORKER_OUT`` (a file), ``WORKER_CLAIM_TTL``.
Each handled event appends ``start <id>`` and ``done <id>`` lines to ``WORKER_OUT`` with one
unbuffered ``write`` each, so a SIGKILL loses nothing that was written. SIGTERM stops it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import anyio

from assessment_asgi.platform import Credentials, Event, RedisDedupStore, ResultsPoller, SmartAIClient


def main() -> None:
    env = os.environ
    out = os.open(env["WORKER_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")

    async def handle(event: Event) -> None:
        os.write(out, f"start {event.event_id}\n".encode())
        await anyio.sleep(0.005)  # the host's own work: saving the result
        os.write(out, f"done {event.event_id}\n".encode())

    async def run() -> None:
        store = RedisDedupStore(
            env["WORKER_REDIS_URL"], prefix=env["WORKER_PREFIX"], claim_ttl=float(env["WORKER_CLAIM_TTL"])
        )
        client = SmartAIClient(
            base_url=env["WORKER_BASE_URL"],
            credentials=Credentials(env["WORKER_API_KEY"], env["WORKER_SECRET_KEY"]),
        )
        poller = ResultsPoller(
            client, handle, dedup=store, interval=5, max_backoff=5, concurrency=2, handler_timeout=10
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
        await store.aclose()

    anyio.run(run)


if __name__ == "__main__":
    main()
