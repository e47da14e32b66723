"""When the shared store is missing or misconfigured: refuse to risk a second session, say why."""

from __future__ import annotations

import logging
import uuid

import anyio
import httpx2
import pytest
import redis.asyncio as redis_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from assessment_asgi import ConfigurationError
from assessment_asgi._claims import StoreFull
from assessment_asgi._idempotency import MemoryIdempotencyStore, RedisIdempotencyStore
from tests._fake import USERS, auth
from tests._features import PREFIX, Sandbox, assessment_app, served
from tests._servers import free_port


def test_with_redis_down_a_keyed_request_is_503_and_an_unkeyed_one_still_works(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: connection refused
    with served(assessment_app(sandbox, redis_url=down)) as (client, url):
        keyed = client.post(url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": "k1"})
        plain = client.post(url, json={"users": USERS}, headers=auth())
    assert keyed.status_code == 503
    assert keyed.json()["code"] == "service_unavailable"
    assert keyed.headers["retry-after"] == "1"
    assert plain.status_code == 200
    assert sandbox.sessions() == 1
    assert any("idempotency store unavailable: ConnectionError" in r.getMessage() for r in caplog.records)
    # The line itself, as an operator greps for it: the error's type, nothing else.
    assert "idempotency store unavailable: ConnectionError" in [r.getMessage() for r in caplog.records]


def test_a_redis_url_of_another_scheme_is_refused_at_construction(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigurationError, match="ASSESSMENT_REDIS_URL"):
        assessment_app(sandbox, redis_url="http://127.0.0.1:6379/0")


def test_a_store_built_directly_names_its_own_parameter_when_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"^url must be a redis://") as caught:
        RedisIdempotencyStore("http://127.0.0.1:6379/0")
    assert caught.value.setting == "url"
    with pytest.raises(ValueError, match=r"^max_keys must be an int >= 1, got 0$"):
        MemoryIdempotencyStore(max_keys=0)


@pytest.mark.anyio
async def test_a_default_memory_store_holds_ten_thousand_keys_in_flight_and_refuses_the_next() -> None:
    store = MemoryIdempotencyStore()
    assert repr(store) == "MemoryIdempotencyStore(max_keys=10000)"
    for n in range(10_000):
        assert (await store.claim(f"slot-{n}", "fp", lease=600.0)).state == "claimed"
    with pytest.raises(StoreFull):
        await store.claim("slot-10000", "fp", lease=600.0)


def test_an_app_with_the_memory_store_shuts_down_cleanly(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The store has no connection to close: the host's shutdown reports no failure."""
    with served(assessment_app(sandbox)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": "k1"})
        assert response.status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "Application shutdown complete." in [r.getMessage() for r in caplog.records]


async def _connections_named(redis_url: str, name: str) -> int:
    """Connections open on the redis-server under the client name `name` (`CLIENT LIST`)."""
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        return sum(1 for connection in await client.client_list() if connection.get("name") == name)
    finally:
        await client.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the Redis store is asyncio's only
async def test_a_server_stopped_in_a_program_that_goes_on_closes_the_apps_redis_connections(
    sandbox: Sandbox, redis_url: str
) -> None:
    """A program that runs uvicorn as one task of its own event loop (`await server.serve()`)
    and goes on after stopping it: the app's shutdown closes its Redis connections there and
    then. (When the loop itself ends they would be closed anyway, which is why a server run
    in a thread of its own, as `served` does, cannot tell.) The app's connections carry a
    client name of this test's, so `CLIENT LIST` on the shared redis-server shows just them."""
    name = f"idem-shutdown-{uuid.uuid4().hex[:12]}"
    assessment = assessment_app(sandbox, redis_url=f"{redis_url}?client_name={name}")
    host = Starlette(routes=[Mount(PREFIX, app=assessment)], lifespan=assessment.lifespan)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        host, host="127.0.0.1", port=port, log_config=None, log_level=None, lifespan="on",
        access_log=False, http="h11", loop="asyncio",
    ))
    async with anyio.create_task_group() as program:
        program.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        async with httpx2.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"http://127.0.0.1:{port}{PREFIX}/session", json={"users": USERS},
                headers={**auth(), "Idempotency-Key": str(uuid.uuid4())},
            )
        assert response.status_code == 200
        assert await _connections_named(redis_url, name) >= 1  # the key was claimed and stored
        server.should_exit = True
    # The server has shut down (its lifespan ran); this loop, the program, goes on.
    with anyio.move_on_after(5):
        while await _connections_named(redis_url, name):
            await anyio.sleep(0.05)
    assert await _connections_named(redis_url, name) == 0


def test_a_frontend_on_another_origin_may_send_the_key_and_read_the_replay_header(sandbox: Sandbox) -> None:
    origin = "https://app.example.com"
    with served(assessment_app(sandbox, cors_origins=[origin])) as (client, url):
        preflight = client.options(url, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        })
        headers = {**auth(), "Origin": origin, "Idempotency-Key": "cors-1"}
        client.post(url, json={"users": USERS}, headers=headers)
        replayed = client.post(url, json={"users": USERS}, headers=headers)
    allowed = {h.strip() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert "idempotency-key" in allowed
    exposed = {h.strip() for h in replayed.headers["access-control-expose-headers"].split(",")}
    assert "idempotent-replayed" in exposed
    assert replayed.headers["idempotent-replayed"] == "true"
