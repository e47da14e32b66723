"""One value per running event loop: pools, locks, limiters.

Connections, locks and capacity limiters belong to the event loop that made them. Test
suites (and some hosts) run a fresh loop per test, and loops may run side by side in
threads, so each is given its own value, built on first use. After `fork()` the parent's
values are dropped unused: the child builds its own (a connection pool shared across a
fork is corrupted, and a native client may hang).

A value with `aclose` is closed on its own loop when that loop shuts down, by a small
guard task the loop's shutdown cancels (asyncio runners cancel leftover tasks; trio cancels
system tasks when the main task ends), so nothing is left for the garbage collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ._compat import current_loop

logger = logging.getLogger("assessment_asgi")

# This process's id, kept current across fork() without a system call per lookup.
_PID = os.getpid()


def _forked() -> None:
    global _PID
    _PID = os.getpid()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_forked)

T = TypeVar("T")


class _Entry(Generic[T]):
    """One loop's value, and (when it has a closer) the guard that closes it."""

    def __init__(
        self,
        library: str,
        loop: Any,
        value: T,
        close: Callable[[T], Awaitable[None]] | None,
        on_closed: Callable[[_Entry[T]], None],
    ) -> None:
        self.library = library
        self.loop = loop
        self.value = value
        self._close = close
        self._on_closed = on_closed
        self._task: asyncio.Task[None] | None = None
        self._scope: Any = None
        if close is None:
            return
        if library == "asyncio":
            self._task = loop.create_task(self._asyncio_main(), name="assessment-loop-guard")
        else:
            import trio

            self._scope = trio.CancelScope()
            trio.lowlevel.spawn_system_task(self._trio_main, name="assessment-loop-guard")

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
        close, self._close = self._close, None
        if close is None:
            return
        try:
            await close(self.value)
        except Exception:  # a guard must never raise; the value is gone either way
            logger.debug("closing a loop-local value failed", exc_info=True)

    def stop(self) -> None:
        """Ask the guard to close the value on its own loop (safe from any loop or thread)."""
        with contextlib.suppress(RuntimeError):  # that loop or run has already finished
            if self._task is not None:
                self.loop.call_soon_threadsafe(self._task.cancel)
            elif self._scope is not None:
                self.loop.run_sync_soon(self._scope.cancel)

    async def aclose_here(self) -> None:
        """Close the value now, from a task on its own loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        elif self._scope is not None:
            self._scope.cancel()
        # A guard cancelled before its first step never ran its ``finally``.
        await self._close_quietly()


class LoopLocal(Generic[T]):
    """A value per running event loop (asyncio or trio) and per process, built lazily.

    `factory` receives the loop's library (`"asyncio"` or `"trio"`); `close`, when
    given, closes a value on its own loop when that loop ends or on `aclose`:

    ```python
    lock = LoopLocal(lambda library: anyio.Lock())
    async with lock.get():
        ...
    ```
    """

    def __init__(
        self,
        factory: Callable[[str], T],
        *,
        close: Callable[[T], Awaitable[None]] | None = None,
    ) -> None:
        self._factory = factory
        self._close = close
        self._entries: dict[int, _Entry[T]] = {}
        self._pid = _PID

    @property
    def active(self) -> int:
        """How many loops hold a value."""
        return len(self._entries)

    def get(self) -> T:
        library, loop = current_loop()
        entry = self._entries.get(id(loop))
        if entry is not None and entry.loop is loop and self._pid == _PID:
            return entry.value
        return self._build(library, loop, entry)

    def _build(self, library: str, loop: Any, stale: _Entry[T] | None) -> T:
        if self._pid != _PID:  # forked: the parent's values are not ours to touch
            self._entries, self._pid, stale = {}, _PID, None
        if stale is not None:  # an id reused by a new loop
            stale.stop()
        self._forget_finished_loops()
        value = self._factory(library)
        self._entries[id(loop)] = _Entry(library, loop, value, self._close, self._forget)
        return value

    def _forget(self, entry: _Entry[T]) -> None:
        key = id(entry.loop)
        if self._entries.get(key) is entry:
            del self._entries[key]

    def _forget_finished_loops(self) -> None:
        for key, entry in list(self._entries.items()):
            # A loop closed without cancelling its tasks never ran its guard's cleanup.
            if entry.library == "asyncio" and entry.loop.is_closed():
                self._entries.pop(key, None)
        if self._close is None and len(self._entries) > 16:  # plain values of old trio runs
            self._entries.clear()

    async def aclose(self) -> None:
        """Close the current loop's value now; ask other loops to close theirs."""
        entries, self._entries = list(self._entries.values()), {}
        _, loop = current_loop()
        for entry in entries:
            if entry.loop is loop:
                await entry.aclose_here()
            else:
                entry.stop()
