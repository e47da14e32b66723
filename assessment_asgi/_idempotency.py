"""Idempotent session creation: the ``Idempotency-Key`` header (IETF draft, as Stripe does it).

A key names one *intent* of one recruiter. The first request with it claims the key, creates
the session and stores the answer; a retry with the same key and the same body gets the stored
answer back (``Idempotent-Replayed: true``) and the platform is not called again.

- ``MemoryIdempotencyStore``: one process, bounded (least recently used keys go first).
- ``RedisIdempotencyStore``: shared by every replica, through ``redis.asyncio`` (asyncio only);
  the claim is one atomic ``SET NX PX``, so two replicas never both create a session.

Stored tokens are personal to the recruiter's candidates: they are kept no longer than the
token is valid, never logged, and Redis key names are hashes (no recruiter email, no key).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import anyio
from pydantic import SecretStr

from ._compat import current_loop
from ._concurrency import LoopLocal
from ._exceptions import ConfigurationError, HTTPException
from ._models import Recruiter
from ._rules import redis_py_url, redis_url
from ._types import Scope

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255

logger = logging.getLogger("assessment_asgi")

State = Literal["claimed", "replay", "reused", "in_flight"]


@dataclass(frozen=True, slots=True)
class Claim:
    """What the store says about a key: ``claimed`` (go ahead, as ``owner``), ``replay``
    (``answer`` is the stored one), ``reused`` (another body) or ``in_flight``."""

    state: State
    answer: dict[str, Any] | None = None
    owner: str = ""


class IdempotencyStore(Protocol):
    """Where keys live. ``slot`` is a hash naming (recruiter, key); ``fingerprint`` the body's.

    ``complete`` and ``release`` act only while ``owner`` still holds the claim.
    """

    async def claim(self, slot: str, fingerprint: str, lease: float) -> Claim: ...

    async def complete(
        self, slot: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None: ...

    async def release(self, slot: str, owner: str) -> None: ...


def read_key(scope: Scope) -> str | None:
    """The request's ``Idempotency-Key``, or ``None``; a 400 when it is not a usable key."""
    values = [v for k, v in scope.get("headers", ()) if k.lower() == HEADER]
    if not values:
        return None
    if len(values) > 1:
        raise HTTPException("invalid_idempotency_key", "Send one Idempotency-Key header, not several")
    key = bytes(values[0]).strip(b" \t")
    # Printable ASCII, 1-255 characters: a UUID, or any opaque string the client picked.
    if not 0 < len(key) <= MAX_KEY_LENGTH or any(not 0x20 <= b <= 0x7E for b in key):
        raise HTTPException("invalid_idempotency_key")
    return key.decode("ascii")


def slot_for(recruiter: Recruiter, key: str) -> str:
    """One recruiter's key, hashed: keys never cross recruiters (nor tenants), and no email is
    stored. The scope is the recruiter's identity, not the email as written."""
    material = json.dumps([recruiter.scope, key], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


def fingerprint(data: Any) -> str:
    """sha256 of the canonical body: key order and whitespace do not make another body."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def keep_for(ttl: float, expires_at: object, now: float | None = None) -> float:
    """Seconds to keep an answer: the retention time, never past the token's ``expiresAt``."""
    try:
        expiry = datetime.fromisoformat(str(expires_at)).timestamp()
    except ValueError:
        return 0.0  # an expiry we cannot read: keeping the token could outlive it
    return max(0.0, min(ttl, expiry - (time.time() if now is None else now)))


@dataclass(frozen=True, slots=True)
class Ticket:
    """A claimed key: this request creates the session and stores the answer."""

    slot: str
    owner: str
    fingerprint: str


class Idempotency:
    """How a request with an ``Idempotency-Key`` is answered (``AssessmentApp.idempotency``).

    The key is claimed in ``store`` before the platform call and the answer stored after it,
    then replayed for ``ttl`` seconds (never past the token's ``expiresAt``)::

        app = AssessmentApp()
        app.idempotency.store   # MemoryIdempotencyStore(max_keys=10000), or the Redis store
    """

    def __init__(self, store: IdempotencyStore, *, ttl: float, lease: float) -> None:
        self.store, self.ttl, self.lease = store, ttl, lease

    def __repr__(self) -> str:
        return f"Idempotency(store={self.store!r}, ttl={self.ttl!r})"

    async def begin(self, key: str, recruiter: Recruiter, data: Any) -> Ticket | dict[str, Any]:
        """A ticket to go ahead, or the stored answer to replay; 409/422 otherwise."""
        slot, body = slot_for(recruiter, key), fingerprint(data)
        try:
            claim = await self.store.claim(slot, body, self.lease)
        except HTTPException:
            raise
        except Exception as exc:
            # The caller asked not to create twice: without the store we cannot promise it.
            logger.error("idempotency store unavailable: %s", type(exc).__name__)
            raise HTTPException("service_unavailable", headers={"Retry-After": "1"}) from None
        if claim.state == "claimed":
            return Ticket(slot, claim.owner, body)
        if claim.state == "replay" and claim.answer is not None:
            return claim.answer
        if claim.state == "reused":
            raise HTTPException("idempotency_key_reused")
        raise HTTPException("idempotency_key_in_flight", headers={"Retry-After": "1"})

    async def run(
        self, key: str, recruiter: Recruiter, data: Any, create: Callable[[], Awaitable[dict[str, Any]]]
    ) -> tuple[dict[str, Any], bool]:
        """``create()`` once per key: (its answer, False), or (the stored answer, True)."""
        claimed = await self.begin(key, recruiter, data)
        if not isinstance(claimed, Ticket):
            return claimed, True
        try:
            answer = await create()
        except BaseException:
            await self.abandon(claimed)
            raise
        await self.finish(claimed, answer)
        return answer, False

    async def finish(self, ticket: Ticket, answer: dict[str, Any]) -> None:
        """Store a success; a store failure is logged (never the token) and answered anyway."""
        keep = keep_for(self.ttl, answer.get("expiresAt"))
        try:
            with anyio.CancelScope(shield=True):
                await self.store.complete(ticket.slot, ticket.owner, ticket.fingerprint, answer, keep)
        except Exception as exc:
            logger.error("could not store an idempotent answer: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Close the store's connections, if it has any (Redis)."""
        close = getattr(self.store, "aclose", None)
        if close is not None:
            await close()

    async def abandon(self, ticket: Ticket) -> None:
        """Free the key after a failure, so the client may retry it (even when cancelled)."""
        try:
            with anyio.CancelScope(shield=True):
                await self.store.release(ticket.slot, ticket.owner)
        except Exception as exc:
            # The claim's lease runs out on its own.
            logger.error("could not release an idempotency key: %s", type(exc).__name__)


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    owner: str
    deadline: float  # time.monotonic()
    answer: dict[str, Any] | None = None  # None while in flight


class MemoryIdempotencyStore:
    """In-process keys: at most ``max_keys``, least recently used evicted first.

    The app's default without ``ASSESSMENT_REDIS_URL`` (``ASSESSMENT_IDEMPOTENCY_MAX_KEYS``)::

        store = MemoryIdempotencyStore(max_keys=50_000)
    """

    def __init__(self, *, max_keys: int = 10_000) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys must be an int >= 1, got {max_keys!r}")
        self.max_keys = max_keys
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # One app may serve several event loops (threads): updates must not interleave.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryIdempotencyStore(max_keys={self.max_keys})"

    def __len__(self) -> int:
        return len(self._entries)

    async def claim(self, slot: str, fingerprint: str, lease: float) -> Claim:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(slot)
            if entry is not None and entry.deadline <= now:
                del self._entries[slot]
                entry = None
            if entry is None:
                owner = secrets.token_hex(8)
                self._entries[slot] = _Entry(fingerprint, owner, now + lease)
                while len(self._entries) > self.max_keys:
                    self._entries.popitem(last=False)
                return Claim("claimed", owner=owner)
            self._entries.move_to_end(slot)
            if entry.fingerprint != fingerprint:
                return Claim("reused")
            if entry.answer is None:
                return Claim("in_flight")
            return Claim("replay", dict(entry.answer))

    async def complete(
        self, slot: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None:
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None or entry.owner != owner:
                return
            if keep <= 0:
                del self._entries[slot]
                return
            entry.answer, entry.deadline = dict(answer), time.monotonic() + keep

    async def release(self, slot: str, owner: str) -> None:
        with self._lock:
            entry = self._entries.get(slot)
            if entry is not None and entry.owner == owner and entry.answer is None:
                del self._entries[slot]


# Replace (or delete) the value only while it is still this request's claim: compare-and-set.
_COMPLETE = """
local v = redis.call('get', KEYS[1])
if not v or cjson.decode(v)['owner'] ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return redis.call('del', KEYS[1])
"""


class RedisIdempotencyStore:
    """Keys shared by every replica through Redis (``pip install 'assessment-asgi[redis]'``).

    The claim is one ``SET NX PX``: of two replicas racing on a key, one wins and the other
    answers 409 (or replays, once the first stored its answer). Asyncio only. The app's
    store when ``ASSESSMENT_REDIS_URL`` is set::

        store = RedisIdempotencyStore("redis://127.0.0.1:6379/0")
    """

    def __init__(self, url: str | SecretStr, *, prefix: str = "assessment_asgi:idem:") -> None:
        raw = redis_py_url(redis_url(url, "url"))  # the one scheme check (_rules.py)
        try:
            import redis.asyncio  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "RedisIdempotencyStore needs the redis package: pip install 'assessment-asgi[redis]'",
                setting="url",
            ) from exc
        self.prefix = prefix
        self._url = SecretStr(raw)  # may hold a password: never shown
        # redis.asyncio connections belong to the loop that opened them: one client per
        # running loop, created on first use so that building the app never connects, and
        # closed on its own loop when that loop ends.
        self._clients: LoopLocal[Any] = LoopLocal(self._connect, close=_close_redis)

    def __repr__(self) -> str:
        return f"RedisIdempotencyStore(prefix={self.prefix!r})"

    def _connect(self, library: str) -> Any:
        import redis.asyncio as redis_asyncio

        return redis_asyncio.Redis.from_url(
            self._url.get_secret_value(), socket_timeout=5, socket_connect_timeout=5
        )

    def _redis(self) -> Any:
        if current_loop()[0] != "asyncio":
            raise HTTPException(
                "not_configured", "The Redis idempotency store needs asyncio (redis.asyncio)"
            )
        return self._clients.get()

    async def claim(self, slot: str, fingerprint: str, lease: float) -> Claim:
        redis, key = self._redis(), self.prefix + slot
        owner = secrets.token_hex(8)
        pending = json.dumps({"fp": fingerprint, "owner": owner})
        for _ in range(2):  # the value may expire between SET and GET: try once more
            if await redis.set(key, pending, nx=True, px=max(1, int(lease * 1000))):
                return Claim("claimed", owner=owner)
            value = await redis.get(key)
            if value is None:
                continue
            stored = json.loads(value)
            if stored.get("fp") != fingerprint:
                return Claim("reused")
            if not isinstance(stored.get("answer"), dict):
                return Claim("in_flight")
            return Claim("replay", stored["answer"])
        return Claim("in_flight")

    async def complete(
        self, slot: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None:
        value = json.dumps({"fp": fingerprint, "owner": owner, "answer": answer})
        await self._redis().eval(_COMPLETE, 1, self.prefix + slot, owner, value, int(keep * 1000))

    async def release(self, slot: str, owner: str) -> None:
        await self._redis().eval(_COMPLETE, 1, self.prefix + slot, owner, "", 0)

    async def aclose(self) -> None:
        """Close the running loop's client now; clients of other loops close on their own."""
        await self._clients.aclose()


async def _close_redis(client: Any) -> None:
    await client.aclose()
