"""Small helpers shared by the app and the clients: sync-or-async calls, loop identity."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread


async def call_hook(hook: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async hook.

    Coroutine functions (and objects whose ``__call__`` is one) are awaited; plain functions
    run in the worker thread pool, as Starlette and FastAPI do with sync endpoints, so a
    hook that blocks on I/O cannot stall the event loop.
    """
    if _is_async_callable(hook):
        return await hook(*args)
    if getattr(hook, "_inline_hook", False):
        # The package's own sync hooks only read memory: a thread hop would cost more.
        return hook(*args)
    result = await anyio.to_thread.run_sync(hook, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def _is_async_callable(obj: Any) -> bool:
    while hasattr(obj, "func") and hasattr(obj, "args"):  # functools.partial
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and inspect.iscoroutinefunction(getattr(obj, "__call__", None))  # noqa: B004
    )


def current_loop_token() -> object:
    """An object that identifies the running event loop (asyncio or trio).

    Pools and locks are bound to the loop that created them; comparing tokens tells when a
    new loop (a new test, a restarted server) needs new ones.
    """
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        import trio

        return trio.lowlevel.current_trio_token()
