"""One pooled ``httpx2.AsyncClient`` per event loop, closed when its loop shuts down.

Test suites (and some hosts) run a fresh event loop per test. Connections belong to the
loop that opened them, so when the running loop (or trio run) changes, a new pool is
built; the old one is closed on its own loop by a small guard task that the loop's
shutdown cancels (asyncio runners cancel leftover tasks, trio cancels system tasks when
the main task ends). That way no pool is left for the garbage collector to complain about.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import httpx2

from .._compat import current_loop

logger = logging.getLogger("assessment_asgi.platform")


class _Guard:
    """Closes one pool when its loop shuts down, or when told to from any thread."""

    def __init__(
        self,
        library: str,
        loop: Any,
        client: httpx2.AsyncClient,
        *,
        on_closed: Callable[[_Guard], None],
    ) -> None:
        self.library = library
        self.loop = loop
        self.client = client
        self._on_closed = on_closed
        self._task: asyncio.Task[None] | None = None
        self._scope: Any = None
        if library == "asyncio":
            self._task = loop.create_task(self._asyncio_main(), name="smartai-pool-guard")
        else:
            import trio

            self._scope = trio.CancelScope()
            trio.lowlevel.spawn_system_task(self._trio_main, name="smartai-pool-guard")

    async def _asyncio_main(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await self._close_quietly()

    async def _trio_main(self) -> None:
        import trio

        try:
            with self._scope:
                await trio.sleep_forever()
        finally:  # our own cancel, or the run's shutdown cancelling system tasks
            with trio.CancelScope(shield=True):
                await self._close_quietly()

    async def _close_quietly(self) -> None:
        self._on_closed(self)
        try:
            await self.client.aclose()
        except Exception:  # a system task must never raise; the pool is gone either way
            logger.debug("closing a connection pool failed", exc_info=True)

    def stop(self) -> None:
        """Ask the guard to close its pool on its own loop (safe from any loop or thread)."""
        with contextlib.suppress(RuntimeError):  # that loop or run has already finished
            if self._task is not None:
                self.loop.call_soon_threadsafe(self._task.cancel)
            elif self._scope is not None:
                self.loop.run_sync_soon(self._scope.cancel)

    async def aclose_here(self) -> None:
        """Close the pool now, from a task on the pool's own loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            # A guard cancelled before its first step never ran its ``finally``.
            await self._close_quietly()
        else:
            self._scope.cancel()
            await self._close_quietly()


class LoopBoundPool:
    """Builds ``httpx2.AsyncClient`` objects lazily, one per running loop.

    Loops that run at the same time (one per thread) each keep their own pool; a pool
    leaves this map when its loop shuts down.
    """

    def __init__(self, factory: Callable[[str], httpx2.AsyncClient]) -> None:
        self._factory = factory
        self._guards: dict[int, _Guard] = {}

    @property
    def active(self) -> int:
        """How many pools are open."""
        return len(self._guards)

    def get(self) -> httpx2.AsyncClient:
        library, loop = current_loop()
        key = id(loop)
        guard = self._guards.get(key)
        if guard is not None and guard.loop is loop and not guard.client.is_closed:
            return guard.client
        if guard is not None:  # closed by the caller, or an id reused by a new loop
            guard.stop()
        self._forget_closed_loops()
        client = self._factory(library)
        self._guards[key] = _Guard(library, loop, client, on_closed=self._forget)
        logger.debug("built a connection pool", extra={"async_library": library})
        return client

    def _forget(self, guard: _Guard) -> None:
        key = id(guard.loop)
        if self._guards.get(key) is guard:
            del self._guards[key]

    def _forget_closed_loops(self) -> None:
        # A loop closed without cancelling its tasks never ran its guard's cleanup.
        for key, guard in list(self._guards.items()):
            if guard.library == "asyncio" and guard.loop.is_closed():
                self._guards.pop(key, None)

    async def aclose(self) -> None:
        """Close the current loop's pool now; ask other loops to close theirs."""
        guards, self._guards = list(self._guards.values()), {}
        _, loop = current_loop()
        for guard in guards:
            if guard.loop is loop:
                await guard.aclose_here()
            else:
                guard.stop()
