"""Small helpers shared by the app and the clients: sync-or-async calls, loop identity."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

import anyio
import anyio.to_thread


def to_async(hook: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """An awaitable version of a sync or async hook, decided once when the app is built.

    Coroutine functions (and objects whose `__call__` is one) are used as they are; plain
    functions run in the worker thread pool, as Starlette and FastAPI do with sync endpoints,
    so a hook that blocks on I/O cannot stall the event loop. The package's own hooks are
    async, so they never pay for a thread hop.
    """
    if _is_async_callable(hook):
        return cast("Callable[..., Awaitable[Any]]", hook)

    async def threaded(*args: Any) -> Any:
        result = await anyio.to_thread.run_sync(hook, *args)
        if inspect.isawaitable(result):
            return await result
        return result

    return threaded


def _is_async_callable(obj: Any) -> bool:
    while hasattr(obj, "func") and hasattr(obj, "args"):  # functools.partial
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and inspect.iscoroutinefunction(getattr(obj, "__call__", None))  # noqa: B004
    )


def current_loop() -> tuple[str, Any]:
    """The running event loop's library (`"asyncio"` or `"trio"`) and an object naming it.

    Pools, locks and limiters are bound to the loop that created them; comparing the objects
    tells when a new loop (a new test, a restarted server) needs new ones.
    """
    try:
        return "asyncio", asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        import trio

        return "trio", trio.lowlevel.current_trio_token()
    except (ImportError, RuntimeError) as exc:
        raise RuntimeError("needs a running asyncio or trio event loop") from exc


def deadline(seconds: float | None, *, move_on: bool = False) -> AbstractAsyncContextManager[Any]:
    """The one deadline helper: the block may run `seconds`; then it is cancelled and
    either `TimeoutError` is raised (`anyio.fail_after`) or, with `move_on`, the block
    simply ends (`anyio.move_on_after`). `None`: no deadline.

    On asyncio it is `asyncio.timeout`: several times cheaper per request (no backend
    lookup, no nested generator scopes), and it composes with anyio's scopes there; on trio,
    anyio's own scope. A `TimeoutError` raised by the block itself is never swallowed.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # trio
        return _AnyioDeadline(seconds, move_on)
    if not move_on:
        return asyncio.timeout(seconds)
    return _AsyncioMoveOn(seconds)


def fail_after(seconds: float | None) -> AbstractAsyncContextManager[Any]:
    """`deadline(seconds)`: `TimeoutError` when the block outlives `seconds`."""
    return deadline(seconds)


class _AsyncioMoveOn:
    __slots__ = ("_seconds", "_timeout")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._timeout: asyncio.Timeout | None = None

    async def __aenter__(self) -> None:
        self._timeout = asyncio.timeout(self._seconds)
        await self._timeout.__aenter__()

    async def __aexit__(self, *exc_info: Any) -> bool:
        assert self._timeout is not None
        try:
            await self._timeout.__aexit__(*exc_info)
        except TimeoutError:
            if self._timeout.expired():
                return True  # our own deadline: the block just ends
            raise
        return False


class _AnyioDeadline:
    __slots__ = ("_move_on", "_scope", "_seconds")

    def __init__(self, seconds: float | None, move_on: bool) -> None:
        self._seconds = seconds
        self._move_on = move_on
        self._scope: Any = None

    async def __aenter__(self) -> None:
        make = anyio.move_on_after if self._move_on else anyio.fail_after
        self._scope = make(self._seconds)
        self._scope.__enter__()

    async def __aexit__(self, *exc_info: Any) -> bool:
        return bool(self._scope.__exit__(*exc_info))
