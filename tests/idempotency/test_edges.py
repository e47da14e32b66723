"""The idempotency store's edges: a full store, timestamps without a zone, a store that fails
at completion, and the recruiter's identity as the scope. Real uvicorn, the real sandbox,
a real redis-server."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from starlette.types import Message, Receive, Scope, Send

from assessment_asgi import Credentials, HTTPException, Idempotency, Recruiter
from assessment_asgi._idempotency import MemoryIdempotencyStore
from assessment_asgi.sandbox import SandboxApp
from tests._fake import API_KEY, SECRET_KEY, USERS, auth, make_token
from tests._features import FrontDoor, Sandbox, assessment_app, served
from tests._servers import free_port, serve

BODY = {"users": USERS[:2]}


def post(client: Any, url: str, key: str, token: str | None = None) -> Any:
    return client.post(url, json=BODY, headers={**auth(token), "Idempotency-Key": key})


class HeldKeys:
    """A sync ``keys`` hook whose first call waits until the test lets it go (bounded)."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.calls = 0

    def __call__(self) -> Credentials:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.release.wait(30)
        return Credentials(API_KEY, SECRET_KEY)


# -- a full memory store never evicts a claim in flight ------------------------------------------


def test_a_full_store_refuses_a_new_key_instead_of_evicting_one_in_flight(sandbox: Sandbox) -> None:
    held = HeldKeys()
    other = make_token(sub="rec_77", email="otto@hire.example")
    answers: list[Any] = []
    app = assessment_app(sandbox, keys=held, idempotency_max_keys=1)
    with served(app) as (client, url):
        first = threading.Thread(target=lambda: answers.append(post(client, url, "k1")))
        first.start()
        try:
            assert held.entered.wait(30)
            full = post(client, url, "k2", token=other)  # recruiter B, another key
            retry_in_flight = post(client, url, "k1")  # A retries while the first is in flight
        finally:
            held.release.set()
            first.join(30)
        replayed = post(client, url, "k1")
        # Once answered, the entry may be evicted (least recently used) for a new key.
        later = post(client, url, "k3", token=other)
    assert (full.status_code, full.json()["code"]) == (503, "idempotency_store_full")
    assert full.headers["retry-after"] == "1"
    assert (retry_in_flight.status_code, retry_in_flight.json()["code"]) == (
        409, "idempotency_key_in_flight")
    assert answers[0].status_code == 200
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == answers[0].json()
    assert later.status_code == 200
    assert sandbox.sessions() == 2  # k1 once, k3 once; k2 never reached the platform


# -- an expiresAt without a timezone is UTC ------------------------------------------------------


class NaiveExpiry:
    """The platform answering ``expiresAt`` without an offset (``2026-12-05T10:00:00.000``)."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def naive(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [
                    (k, v) for k, v in message["headers"] if k.lower() != b"content-length"]}
            elif message["type"] == "http.response.body":
                message = {**message, "body": message.get("body", b"").replace(b'Z"', b'"')}
            await send(message)

        await self.door(scope, receive, naive)


@contextlib.contextmanager
def naive_sandbox(**options: Any) -> Iterator[Sandbox]:
    door = FrontDoor(SandboxApp(credentials=Credentials(API_KEY, SECRET_KEY), **options))
    with serve(NaiveExpiry(door)) as url:
        yield Sandbox(door, url)


@pytest.fixture
def los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server process runs in America/Los_Angeles (UTC-8 or -7)."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def _stored_ttls(redis_url: str) -> dict[bytes, int]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return {name: int(client.pttl(name))
                for name in client.scan_iter(match="assessment_asgi:idem:*")}
    finally:
        client.close()


@pytest.mark.usefixtures("los_angeles")
def test_an_expiry_without_a_timezone_is_utc_not_the_servers_local_time(redis_url: str) -> None:
    # The sandbox's clock is an hour behind: its token (UTC, written without a zone) expired
    # before it arrives. Read as Los Angeles time it would seem valid for 7 more hours.
    with naive_sandbox(clock=lambda: time.time() - 3600, token_ttl=60) as sandbox:
        for store in ({}, {"redis_url": redis_url}):
            k = str(uuid.uuid4())
            with served(assessment_app(sandbox, **store)) as (client, url):
                first, again = post(client, url, k), post(client, url, k)
            assert first.status_code == again.status_code == 200
            assert not first.json()["data"]["expiresAt"].endswith("Z")
            assert "idempotent-replayed" not in again.headers
        assert sandbox.sessions() == 4
    # A token valid for two more minutes is kept two minutes, not eight hours more.
    before = set(_stored_ttls(redis_url))
    with naive_sandbox(token_ttl=120) as sandbox, served(
        assessment_app(sandbox, redis_url=redis_url)
    ) as (client, url):
        assert post(client, url, str(uuid.uuid4())).status_code == 200
    (ttl_ms,) = [ttl for name, ttl in _stored_ttls(redis_url).items() if name not in before]
    assert 0 < ttl_ms <= 120_000


# -- a store that fails at completion never lets a key create a second session -------------------


class RestartableRedis:
    """A real redis-server with an append-only file: stopped and started again on one port."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "yes", "--appendfsync", "always", "--dir", str(directory)]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(self._cmd, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()  # SIGTERM: the append-only file is flushed first
            self._process.wait(10)
            self._process = None


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_an_answer_redis_could_not_record_is_recorded_when_redis_is_back(
    sandbox: Sandbox, restartable_redis: RestartableRedis, caplog: pytest.LogCaptureFixture
) -> None:
    held = HeldKeys()
    answers: list[Any] = []
    k = str(uuid.uuid4())
    with served(assessment_app(sandbox, keys=held, redis_url=restartable_redis.url)) as (client, url):
        first = threading.Thread(target=lambda: answers.append(post(client, url, k)))
        first.start()
        try:
            assert held.entered.wait(30)  # the key is claimed in Redis; the session not yet made
            restartable_redis.stop()
        finally:
            held.release.set()
            first.join(60)
        # The session was created: its caller gets it, though Redis could not record it.
        assert answers[0].status_code == 200
        restartable_redis.start()
        deadline = time.monotonic() + 30
        while (retry := post(client, url, k)).status_code == 409 and time.monotonic() < deadline:
            time.sleep(0.1)  # in flight until the answer is recorded
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == answers[0].json()
    assert sandbox.sessions() == 1
    assert any("could not store an idempotent answer" in r.getMessage() for r in caplog.records)


RECRUITER = Recruiter(id="rec_42", email="rita@hire.example")
SESSION = {"token": "tok_1", "expiresAt": "2999-01-01T00:00:00Z"}


@pytest.mark.anyio
async def test_a_body_holding_a_lone_surrogate_is_keyed_like_any_other() -> None:
    """`Idempotency` is public and takes the decoded body as it is: `json.loads` turns the
    escape "\\ud800" into a lone surrogate, which UTF-8 cannot encode. (The app itself refuses
    such a body first, 400 `invalid_json`.) Its fingerprint still tells it from another body."""
    idempotency = Idempotency(MemoryIdempotencyStore(), ttl=3600.0, lease=60.0)
    odd = json.loads('{"users": [{"name": "Ada \\ud800", "email": "ada@example.com"}]}')
    other = json.loads('{"users": [{"name": "Ada \\udfff", "email": "ada@example.com"}]}')

    async def create() -> dict[str, Any]:
        return dict(SESSION)

    assert await idempotency.run("k1", RECRUITER, odd, create) == (SESSION, False)
    assert await idempotency.run("k1", RECRUITER, odd, create) == (SESSION, True)
    with pytest.raises(HTTPException, match="idempotency_key_reused"):
        await idempotency.run("k1", RECRUITER, other, create)


@pytest.mark.anyio
async def test_an_answer_whose_expiry_cannot_be_read_is_never_replayed() -> None:
    """Keeping a token whose `expiresAt` cannot be read could outlive the token: such an
    answer is not kept, and a retry with the key creates a new session."""
    idempotency = Idempotency(MemoryIdempotencyStore(), ttl=3600.0, lease=60.0)
    created: list[int] = []

    async def create() -> dict[str, Any]:
        created.append(1)
        return {"token": f"tok_{len(created)}", "expiresAt": "when the platform says so"}

    first, replayed_first = await idempotency.run("k1", RECRUITER, BODY, create)
    again, replayed_again = await idempotency.run("k1", RECRUITER, BODY, create)
    assert (first["token"], again["token"]) == ("tok_1", "tok_2")
    assert (replayed_first, replayed_again) == (False, False)


@pytest.mark.anyio
async def test_a_store_full_of_keys_in_flight_refuses_the_next_and_logs_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    idempotency = Idempotency(MemoryIdempotencyStore(max_keys=1), ttl=3600.0, lease=600.0)
    await idempotency.begin("k1", RECRUITER, BODY)  # claimed: in flight
    with pytest.raises(HTTPException) as full:
        await idempotency.begin("k2", RECRUITER, BODY)
    assert (full.value.status_code, full.value.code) == (503, "idempotency_store_full")
    assert {name.lower(): value for name, value in full.value.headers.items()} == {"retry-after": "1"}
    assert [r.getMessage() for r in caplog.records if r.name == "assessment_asgi"] == [
        "idempotency store full of requests in flight: refusing a new key"
    ]


class ReleaseFails(MemoryIdempotencyStore):
    """A memory store that cannot release a key (its connection just dropped)."""

    async def release(self, key: str, owner: str) -> None:
        raise ConnectionError("the store is down")


@pytest.mark.anyio
async def test_a_key_the_store_could_not_release_is_logged_and_the_request_fails_as_it_did(
    caplog: pytest.LogCaptureFixture,
) -> None:
    idempotency = Idempotency(ReleaseFails(), ttl=3600.0, lease=60.0)

    async def create() -> dict[str, Any]:
        raise RuntimeError("the platform is down")

    with pytest.raises(RuntimeError, match="the platform is down"):
        await idempotency.run("k1", RECRUITER, BODY, create)
    assert [r.getMessage() for r in caplog.records if r.name == "assessment_asgi"] == [
        "could not release an idempotency key: ConnectionError"
    ]


class ReleaseWaitsForAConnection(MemoryIdempotencyStore):
    """A store whose release first waits for a connection, as a pool busy with other requests
    does (a checkpoint before anything is sent); a real pool cannot be made to wait on demand."""

    async def release(self, key: str, owner: str) -> None:
        await anyio.lowlevel.checkpoint()
        await super().release(key, owner)


@pytest.mark.anyio
async def test_a_request_cancelled_while_creating_frees_its_key_at_once() -> None:
    """A client that goes away cancels its request mid-create: the key is released all the
    same (the release is shielded from that cancellation), so the client's retry creates."""
    idempotency = Idempotency(ReleaseWaitsForAConnection(), ttl=3600.0, lease=600.0)
    entered = anyio.Event()

    async def hangs() -> dict[str, Any]:
        entered.set()
        await anyio.sleep_forever()
        raise AssertionError("not reached")

    async def create() -> dict[str, Any]:
        return dict(SESSION)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(idempotency.run, "k1", RECRUITER, BODY, hangs)
        await entered.wait()
        task_group.cancel_scope.cancel()
    assert await idempotency.run("k1", RECRUITER, BODY, create) == (SESSION, False)


class CompleteWaitsForAConnection(MemoryIdempotencyStore):
    """A store whose `complete` waits for a connection (released by the test) before writing."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting, self.connected = anyio.Event(), anyio.Event()

    async def complete(
        self, key: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None:
        self.waiting.set()
        await self.connected.wait()
        await super().complete(key, owner, fingerprint, answer, keep)


@pytest.mark.anyio
async def test_a_request_cancelled_while_its_answer_is_stored_still_stores_it() -> None:
    """The session exists once the platform answered: a client going away while the answer
    is being stored does not stop the store (shielded), so its retry replays that session."""
    store = CompleteWaitsForAConnection()
    idempotency = Idempotency(store, ttl=3600.0, lease=600.0)
    created: list[int] = []

    async def create() -> dict[str, Any]:
        created.append(1)
        return dict(SESSION)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(idempotency.run, "k1", RECRUITER, BODY, create)
        await store.waiting.wait()
        task_group.cancel_scope.cancel()  # the client goes away
        store.connected.set()
    assert await idempotency.run("k1", RECRUITER, BODY, create) == (SESSION, True)
    assert created == [1]


# -- the scope is the recruiter's identity -------------------------------------------------------


def test_the_same_recruiter_with_the_email_in_another_case_replays_the_same_session(
    sandbox: Sandbox, store: dict[str, str]
) -> None:
    k = str(uuid.uuid4())
    with served(assessment_app(sandbox, **store)) as (client, url):
        first = post(client, url, k, token=make_token(email="rita@hire.example"))
        again = post(client, url, k, token=make_token(email="Rita@Hire.Example"))
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert sandbox.sessions() == 1



# -- with Redis, the rate-limit hit and the claim are one round trip -----------------------------


def _scripts(redis_url: str) -> int:
    """Scripts Redis has been sent so far (``EVAL`` and ``EVALSHA``)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("eval", "evalsha"))


def test_with_redis_a_keyed_request_is_counted_and_claimed_in_one_round_trip(
    sandbox: Sandbox, redis_url: str
) -> None:
    app = assessment_app(sandbox, redis_url=redis_url, rate_limit="2/minute")
    token = make_token(sub=f"rec_{uuid.uuid4().hex[:8]}")  # a budget of this test's own
    first_key, second_key = str(uuid.uuid4()), str(uuid.uuid4())
    with served(app) as (client, url):
        assert post(client, url, str(uuid.uuid4())).status_code == 200  # connections opened
        stored_before = set(_stored_ttls(redis_url))
        before = _scripts(redis_url)
        first = post(client, url, first_key, token=token)
        used = _scripts(redis_url) - before
        replayed = post(client, url, first_key, token=token)  # a replay counts too: 2 of 2
        over = post(client, url, second_key, token=token)
        stored = set(_stored_ttls(redis_url)) - stored_before
    assert first.status_code == 200
    assert used == 2  # one script counts the hit and claims the key; one records the answer
    assert replayed.headers["idempotent-replayed"] == "true"
    assert (over.status_code, over.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert len(stored) == 1  # the refused key was never claimed
    assert sandbox.sessions() == 2  # the warm-up's and the first key's
