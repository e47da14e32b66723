"""One lifecycle for both pollers: ``async with poller:`` runs it in the background, and a
command line runs it in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import signal
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import TaskGroup, TaskStatus

logger = logging.getLogger("assessment_asgi.platform")


class _Background:
    """The ``async with`` protocol of ``ResultsPoller`` and ``TenantPoller``.

    A subclass sets the attributes below and implements ``_run`` (which sets ``_running``
    and ``_finished``) and ``stop`` (which asks ``_run`` to return).
    """

    _task_group: TaskGroup | None
    _finished: anyio.Event | None
    _running: bool
    _stopping: bool
    stop_timeout: float
    #: The task's name, and seconds to wait past ``stop_timeout`` before cancelling.
    _task_name = "smartai-poller"
    _exit_grace = 0.0

    async def _run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        """Poll until `stop()`: platform errors are logged and backed off, never raised."""
        self._stopping = False
        await self._run()

    async def run_until_signalled(self) -> None:
        """Run in the foreground until SIGINT or SIGTERM asks it to stop (the CLIs)."""
        async with anyio.create_task_group() as task_group:

            async def watch_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        self.stop()
                        return

            task_group.start_soon(watch_signals)
            await self.run()
            task_group.cancel_scope.cancel()

    async def __aenter__(self) -> Self:
        if self._task_group is not None:
            raise RuntimeError(f"this {type(self).__name__} is already started")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._stopping = False
        try:
            await task_group.start(self._run, name=self._task_name)
        except BaseException:
            self._task_group = None
            await task_group.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        self.stop()
        with anyio.move_on_after(self.stop_timeout + self._exit_grace, shield=True):
            if self._finished is not None:
                await self._finished.wait()
        if self._running:
            logger.warning(
                "%s did not stop within %gs: cancelled", type(self).__name__, self.stop_timeout
            )
            task_group.cancel_scope.cancel()
        await task_group.__aexit__(exc_type, exc, tb)
