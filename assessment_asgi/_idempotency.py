"""Idempotent session creation: the `Idempotency-Key` header (IETF draft, as Stripe does it).

A key names one *intent* of one recruiter. The first request with it claims the key, creates
the session and stores the answer; a retry with the same key and the same body gets the stored
answer back (`Idempotent-Replayed: true`) and the platform is not called again.

Both stores are the claim-once stores of `_claims.py` (the poller's de-duplication uses
the same ones):

- `MemoryIdempotencyStore`: one process, bounded (least recently used answers go first; a
  claim in flight is never evicted: a store full of them answers 503 with `Retry-After`).
- `RedisIdempotencyStore`: shared by every replica, through `redis.asyncio` (asyncio only);
  the claim is one atomic script, so two replicas never both create a session.

An answer the store could not record (Redis unreachable just then) is recorded again in the
background until it is, for as long as it may be replayed; the key stays claimed meanwhile.

Stored tokens are personal to the recruiter's candidates: they are kept no longer than the
token is valid, never logged, and Redis key names are hashes (no recruiter email, no key).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio
from pydantic import SecretStr

from ._claims import Claim, ClaimStore, MemoryClaimStore, RedisClaimStore, StoreFull
from ._compat import current_loop
from ._exceptions import HTTPException
from ._models import Recruiter
from ._redis import redis_url
from ._types import Scope

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255

logger = logging.getLogger("assessment_asgi")

__all__ = ["Claim", "Idempotency", "IdempotencyStore", "MemoryIdempotencyStore",
           "RateLimit", "RedisIdempotencyStore", "Ticket", "read_key"]

#: Where keys live: a claim-once store (`slot` is a hash naming (recruiter, key),
#: `fingerprint` the body's). `complete` and `release` act only for the claim's owner.
IdempotencyStore = ClaimStore


class RateLimit(Protocol):
    """What `begin` needs of a rate limiter (`RecruiterRateLimiter`)."""

    async def check_and_claim(
        self, recruiter: Recruiter, store: ClaimStore, key: str, fingerprint: str, lease: float
    ) -> Claim: ...


#: Pauses between attempts to record an answer the store refused: the first 0.05 s after the
#: failure, then 0.2, 0.5, 1 and 2 s, then every 5 s (see `Idempotency.finish`).
RECORD_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)


def read_key(scope: Scope) -> str | None:
    """The request's `Idempotency-Key`, or `None`; a 400 when it is not a usable key."""
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
    # "surrogatepass": a signed claim may hold a lone surrogate, which UTF-8 cannot encode.
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint(data: Any) -> str:
    """sha256 of the canonical body: key order and whitespace do not make another body."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def keep_for(ttl: float, expires_at: object, now: float | None = None) -> float:
    """Seconds to keep an answer: the retention time, never past the token's `expiresAt`."""
    try:
        moment = datetime.fromisoformat(str(expires_at))
    except ValueError:
        return 0.0  # an expiry we cannot read: keeping the token could outlive it
    if moment.tzinfo is None:  # no offset: UTC (the platform's clock), never the server's zone
        moment = moment.replace(tzinfo=UTC)
    expiry = moment.timestamp()
    return max(0.0, min(ttl, expiry - (time.time() if now is None else now)))


@dataclass(frozen=True, slots=True)
class Ticket:
    """A claimed key: this request creates the session and stores the answer."""

    slot: str
    owner: str
    fingerprint: str


class Idempotency:
    """How a request with an `Idempotency-Key` is answered (`AssessmentApp.idempotency`).

    The key is claimed in `store` before the platform call and the answer stored after it,
    then replayed for `ttl` seconds (never past the token's `expiresAt`):

    ```python
    app = AssessmentApp()
    app.idempotency.store   # MemoryIdempotencyStore(max_keys=10000), or the Redis store
    ```
    """

    def __init__(self, store: IdempotencyStore, *, ttl: float, lease: float) -> None:
        self.store, self.ttl, self.lease = store, ttl, lease
        self._recording: set[asyncio.Task[None]] = set()  # answers being recorded again

    def __repr__(self) -> str:
        return f"Idempotency(store={self.store!r}, ttl={self.ttl!r})"

    async def begin(
        self, key: str, recruiter: Recruiter, data: Any, limiter: RateLimit | None = None
    ) -> Ticket | dict[str, Any]:
        """A ticket to go ahead, or the stored answer to replay; 409/422 otherwise. With a
        `limiter`, the request is counted first (429 over the limit; a replay counts too),
        in the same round trip as the claim when both live in one Redis."""
        slot, body = slot_for(recruiter, key), fingerprint(data)
        try:
            if limiter is None:
                claim = await self.store.claim(slot, body, self.lease)
            else:
                claim = await limiter.check_and_claim(recruiter, self.store, slot, body, self.lease)
        except HTTPException:
            raise
        except StoreFull:
            logger.warning("idempotency store full of requests in flight: refusing a new key")
            raise HTTPException("idempotency_store_full", headers={"Retry-After": "1"}) from None
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
        self, key: str, recruiter: Recruiter, data: Any,
        create: Callable[[], Awaitable[dict[str, Any]]], limiter: RateLimit | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """`create()` once per key: (its answer, False), or (the stored answer, True)."""
        claimed = await self.begin(key, recruiter, data, limiter)
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
        """Store a success. If the store fails, the answer is still given, and recorded again
        in the background until the store takes it (the key stays claimed meanwhile), so a
        retry replays this session instead of creating a second one.

        The attempts come 0.05, 0.2, 0.5, 1 and 2 s apart (`RECORD_RETRY_DELAYS`), then every
        5 s, each storing the answer for what is left of its retention (`ttl`, never past the
        token's `expiresAt`); once nothing is left, recording gives up (logged). Time is the
        event loop's (`loop.time()`), the clock its pauses are measured on. Not retried: an
        answer whose token had already expired, and any on trio (asyncio only); the key then
        stays claimed (409) until its lease ends.
        """
        keep = keep_for(self.ttl, answer.get("expiresAt"))
        try:
            with anyio.CancelScope(shield=True):
                await self.store.complete(ticket.slot, ticket.owner, ticket.fingerprint, answer, keep)
        except Exception as exc:
            if keep > 0 and current_loop()[0] == "asyncio":
                logger.error(
                    "could not store an idempotent answer (%s): retrying in the background",
                    type(exc).__name__,
                )
                task = asyncio.get_running_loop().create_task(
                    self._record(ticket, answer, asyncio.get_running_loop().time() + keep)
                )
                self._recording.add(task)
                task.add_done_callback(self._recording.discard)
            else:
                logger.error(
                    "could not store an idempotent answer (%s): not retried; the key "
                    "stays claimed until its lease ends",
                    type(exc).__name__,
                )

    async def _record(self, ticket: Ticket, answer: dict[str, Any], until: float) -> None:
        for attempt in itertools.count(1):
            delays = RECORD_RETRY_DELAYS
            await asyncio.sleep(delays[attempt - 1] if attempt <= len(delays) else 5.0)
            keep = until - asyncio.get_running_loop().time()
            if keep <= 0:
                logger.error("gave up recording an idempotent answer: its token has expired")
                return
            try:
                await self.store.complete(ticket.slot, ticket.owner, ticket.fingerprint, answer, keep)
            except Exception as exc:
                logger.debug("recording an idempotent answer failed again: %s", type(exc).__name__)
                continue
            logger.warning("recorded an idempotent answer after %d attempt(s)", attempt + 1)
            return

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


class MemoryIdempotencyStore(MemoryClaimStore):
    """In-process keys: at most `max_keys`; answers evicted least recently used first, a
    claim in flight never (a full store answers 503 `idempotency_store_full`).

    The app's default without `ASSESSMENT_REDIS_URL` (`ASSESSMENT_IDEMPOTENCY_MAX_KEYS`):

    ```python
    store = MemoryIdempotencyStore(max_keys=50_000)
    ```
    """

    def __init__(self, *, max_keys: int = 10_000) -> None:
        super().__init__(max_entries=max_keys, setting="max_keys")
        self.max_keys = max_keys

    def __repr__(self) -> str:
        return f"MemoryIdempotencyStore(max_keys={self.max_keys})"


class RedisIdempotencyStore(RedisClaimStore):
    """Keys shared by every replica through Redis (`pip install 'assessment-asgi[redis]'`).

    The claim is one atomic script: of two replicas racing on a key, one wins and the other
    answers 409 (or replays, once the first stored its answer). Asyncio only. The app's
    store when `ASSESSMENT_REDIS_URL` is set:

    ```python
    store = RedisIdempotencyStore("redis://127.0.0.1:6379/0")
    ```
    """

    needs_asyncio = "The Redis idempotency store needs asyncio (redis.asyncio)"

    def __init__(self, url: str | SecretStr, *, prefix: str = "assessment_asgi:idem:") -> None:
        super().__init__(redis_url(url, "url"), prefix=prefix)
