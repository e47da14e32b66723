"""An asyncio event loop on a virtual clock, for tests of what happens over seconds or minutes.

``VirtualClockLoop`` is asyncio's own selector loop with one change: its clock. ``time()``
starts at 0 and moves only when the loop has nothing left to do but wait for its next timer;
then it jumps straight to that timer instead of sleeping. So a schedule of minutes runs in
milliseconds, and the code under test sees exactly the times it asked for (``asyncio.sleep(5)``
wakes at ``time() + 5``, no more, no less). Everything else is the real loop: tasks, timers,
cancellation, and I/O (polled first: a ready socket is served without moving the clock; a loop
with no timer at all waits for I/O for real). Only code that measures time with
``loop.time()`` is on the virtual clock: ``time.monotonic()`` still reads the machine's.

Use it as a test's loop through anyio's plugin:
``@pytest.mark.parametrize("anyio_backend", [("asyncio", {"loop_factory": VirtualClockLoop})])``.
(The ``looptime`` package does the same, but its pytest plugin, once installed, fails the
setup of every fixture unless pytest-asyncio is installed, which this suite does not use.)
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` is virtual (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_time = 0.0
        # The loop waits in its selector's select(timeout), timeout being the time to its next
        # timer (None: no timer). That one call is replaced; the selector itself is unchanged.
        selector: selectors.BaseSelector = self._selector  # type: ignore[attr-defined]
        poll = selector.select

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            ready = poll(0)
            if ready or timeout == 0:
                return ready
            if timeout is None:  # no timer: only I/O (or another thread) can wake the loop
                return poll(None)
            self._virtual_time += timeout  # nothing to do until the next timer: go there
            return []

        selector.select = select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._virtual_time

    def __repr__(self) -> str:
        return f"<VirtualClockLoop time={self._virtual_time!r} closed={self.is_closed()}>"


def virtual_clock_backend() -> tuple[str, dict[str, Any]]:
    """anyio's ``anyio_backend`` value for a test on the virtual clock."""
    return ("asyncio", {"loop_factory": VirtualClockLoop})
