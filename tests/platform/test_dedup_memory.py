"""The in-memory de-duplication store: the claim-once store idempotency keys use too."""

from __future__ import annotations

import pytest

from assessment_asgi._claims import StoreFull
from assessment_asgi.platform import MemoryDedupStore


@pytest.mark.anyio
async def test_a_full_memory_store_never_forgets_an_event_in_hand() -> None:
    store = MemoryDedupStore(max_entries=2)
    assert await store.claim("evt-1") == "claimed"
    assert await store.claim("evt-2") == "claimed"
    with pytest.raises(StoreFull):  # both are being handled: neither may be forgotten
        await store.claim("evt-3")
    assert await store.claim("evt-1") == "busy"
    await store.complete("evt-1")
    assert await store.claim("evt-3") == "claimed"  # a handled id makes room
    assert await store.claim("evt-2") == "busy"
