"""LoopLocal: one value per running event loop, closed on its own loop when that loop ends."""

from __future__ import annotations

import asyncio

import anyio
import pytest
import trio

from assessment_asgi._concurrency import LoopLocal


class Resource:
    def __init__(self, library: str) -> None:
        self.library = library
        self.closed_on: object = None

    async def aclose(self) -> None:
        if self.library == "asyncio":
            self.closed_on = asyncio.get_running_loop()
        else:
            self.closed_on = trio.lowlevel.current_trio_token()


def test_each_loop_gets_its_own_value_closed_when_the_loop_ends() -> None:
    local: LoopLocal[Resource] = LoopLocal(Resource, close=Resource.aclose)

    async def use() -> tuple[Resource, object]:
        first = local.get()
        assert local.get() is first  # one value per loop
        return first, asyncio.get_running_loop()

    one, loop_one = asyncio.run(use())
    two, loop_two = asyncio.run(use())
    assert one is not two
    # Each closed on its own loop, as that loop shut down.
    assert (one.library, one.closed_on, two.closed_on) == ("asyncio", loop_one, loop_two)
    assert local.active == 0

    async def on_trio() -> tuple[Resource, object]:
        return local.get(), trio.lowlevel.current_trio_token()

    value, token = trio.run(on_trio)
    assert (value.library, value.closed_on) == ("trio", token)
    assert local.active == 0


@pytest.mark.anyio
async def test_aclose_closes_now_and_the_next_get_builds_a_new_value() -> None:
    local: LoopLocal[Resource] = LoopLocal(Resource, close=Resource.aclose)
    first = local.get()
    await local.aclose()
    assert first.closed_on is not None
    assert local.active == 0
    second = local.get()
    assert second is not first
    assert second.closed_on is None
    await local.aclose()


@pytest.mark.anyio
async def test_a_plain_value_needs_no_closer() -> None:
    lock: LoopLocal[anyio.Lock] = LoopLocal(lambda _library: anyio.Lock())
    async with lock.get():
        assert lock.get().locked()
    assert lock.active == 1
