"""The Redis de-duplication store against a real redis-server on loopback."""

from __future__ import annotations

import asyncio
import uuid

import anyio
import pytest
import redis.asyncio as redis_asyncio

from assessment_asgi.platform import (
    Credentials,
    RedisDedupStore,
    ResultsPoller,
    RetryPolicy,
    SmartAIClient,
)
from tests._fake import API_KEY, SECRET, FakeAPI, build_app, completed_event
from tests._servers import free_port, serve

pytestmark = pytest.mark.redis


@pytest.fixture
def anyio_backend() -> str:
    """redis.asyncio runs on asyncio only."""
    return "asyncio"


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own: a rerun in the same session starts clean."""
    return f"test:{uuid.uuid4().hex}:"


@pytest.mark.anyio
async def test_claims_are_shared_between_stores(redis_url: str, prefix: str) -> None:
    one = RedisDedupStore(redis_url, prefix=prefix, claim_ttl=30)
    two = RedisDedupStore(redis_url, prefix=prefix, claim_ttl=30)
    try:
        assert await one.claim("evt") == "claimed"
        assert await two.claim("evt") == "busy"
        await two.release("evt")  # not its claim: must not free it
        assert await two.claim("evt") == "busy"
        await one.release("evt")
        assert await two.claim("evt") == "claimed"
        await two.complete("evt")
        assert await one.claim("evt") == "done"
    finally:
        await one.aclose()
        await two.aclose()
    assert "redis://" not in repr(one)


@pytest.mark.anyio
async def test_an_abandoned_claim_expires(redis_url: str, prefix: str) -> None:
    store = RedisDedupStore(redis_url, prefix=prefix, claim_ttl=0.2)
    other = RedisDedupStore(redis_url, prefix=prefix, claim_ttl=0.2)
    try:
        assert await store.claim("evt") == "claimed"
        assert await other.claim("evt") == "busy"
        with anyio.fail_after(5):  # the crashed owner never releases it: Redis expires it
            while (claim := await other.claim("evt")) == "busy":
                await anyio.sleep(0.05)
        assert claim == "claimed"
    finally:
        await store.aclose()
        await other.aclose()


@pytest.mark.anyio
async def test_two_replicas_handle_each_event_once_through_redis(redis_url: str, prefix: str) -> None:
    state = FakeAPI(queue=[completed_event(n) for n in range(4)])
    state.script["/ack"] = [(503, {}, {})] * 2  # replica A's acknowledgement is lost
    handled: list[tuple[str, str]] = []
    connection = redis_asyncio.Redis.from_url(redis_url)
    with serve(build_app(state)) as base:
        async with SmartAIClient(
            base_url=f"{base}/api/v1", credentials=Credentials(API_KEY, SECRET), retry=RetryPolicy(attempts=2)
        ) as client:
            replica_a = ResultsPoller(
                client,
                lambda e: handled.append(("a", e.event_id)),
                dedup=RedisDedupStore(connection, prefix=prefix),
            )
            replica_b = ResultsPoller(
                client,
                lambda e: handled.append(("b", e.event_id)),
                dedup=RedisDedupStore(connection, prefix=prefix),
            )
            await replica_a.poll_once()
            report = await replica_b.poll_once()
    await connection.aclose()
    assert [who for who, _ in handled] == ["a"] * 4
    assert report.duplicates == 4
    assert sorted(state.acked) == sorted(event_id for _, event_id in handled)


def test_bad_redis_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="redis"):
        RedisDedupStore("http://127.0.0.1:6379")
    with pytest.raises(TypeError, match="redis"):
        RedisDedupStore(42)


@pytest.mark.anyio
async def test_an_unreachable_store_leaves_the_batch_queued(caplog: pytest.LogCaptureFixture) -> None:
    state = FakeAPI(queue=[completed_event(n) for n in range(3)])
    handled: list[str] = []
    store = RedisDedupStore(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with serve(build_app(state)) as base:
        credentials = Credentials(API_KEY, SECRET)
        async with SmartAIClient(base_url=f"{base}/api/v1", credentials=credentials) as client:
            poller = ResultsPoller(client, lambda e: handled.append(e.event_id), dedup=store)
            report = await poller.poll_once()
    await store.aclose()
    assert handled == []  # never handled without its claim
    assert (report.failed, report.acknowledged) == (3, 0)
    assert state.acked == []
    assert "de-duplication store failed (ConnectionError): 3 event(s) left queued" in caplog.text


def test_one_store_from_a_url_serves_event_loops_one_after_another(redis_url: str, prefix: str) -> None:
    # A poller restarted on a new loop (a CLI run, a test, a host reload) keeps its store: each
    # loop gets its own connections instead of reusing those of a loop that has ended.
    store = RedisDedupStore(redis_url, prefix=prefix)

    async def claim(event_id: str) -> str:
        return await store.claim(event_id)

    async def complete(event_id: str) -> None:
        await store.complete(event_id)

    assert asyncio.run(claim("evt-1")) == "claimed"
    asyncio.run(complete("evt-1"))
    assert asyncio.run(claim("evt-1")) == "done"
    assert asyncio.run(claim("evt-2")) == "claimed"

