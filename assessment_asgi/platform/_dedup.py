"""De-duplication stores for the results poller: who has handled which `eventId`.

The queue delivers at least once, and several replicas may poll the same key. A store
lets one of them *claim* an event before handling it, and remembers it as *done* after.

Both are the claim-once stores that idempotency keys use too (`_claims.py`):

- `MemoryDedupStore` (the default): one process, bounded, no dependency; handled ids are
  evicted least recently used first, a claim in flight never.
- `RedisDedupStore`: shared by every replica through `redis.asyncio` (`pip install
  assessment-asgi[redis]`); asyncio only, like `redis.asyncio` itself. One script (one
  round trip) per call; with a URL, a client per running loop on a bounded pool.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal, Protocol, runtime_checkable

from .._claims import ClaimStore, MemoryClaimStore, RedisClaimStore
from .._redis import RedisPool, redis_url
from .._seconds import seconds

Claim = Literal["claimed", "done", "busy"]
_AS_DEDUP: dict[str, Claim] = {"claimed": "claimed", "replay": "done"}


@runtime_checkable
class DedupStore(Protocol):
    """Where handled event ids are remembered.

    `claim` answers `"claimed"` (handle it now), `"done"` (handled before: just
    acknowledge it) or `"busy"` (another worker holds it: leave it alone).
    """

    async def claim(self, event_id: str) -> Claim: ...

    async def complete(self, event_id: str) -> None: ...

    async def release(self, event_id: str) -> None: ...


class _ClaimOnce:
    """A `DedupStore` over a claim-once store: the event id is the key, "done" the answer."""

    claim_ttl: float
    done_ttl: float
    _store: ClaimStore

    def __init__(self) -> None:
        # A claim names its owner, so a release never deletes another replica's claim.
        self._owner = secrets.token_hex(8)

    async def claim(self, event_id: str) -> Claim:
        claim = await self._store.claim(event_id, "", self.claim_ttl, self._owner)
        return _AS_DEDUP.get(claim.state, "busy")

    async def complete(self, event_id: str) -> None:
        await self._store.complete(event_id, self._owner, "", {}, self.done_ttl)

    async def release(self, event_id: str) -> None:
        await self._store.release(event_id, self._owner)


class MemoryDedupStore(_ClaimOnce):
    """In-process store: the last `max_entries` ids, each kept `done_ttl` seconds.

    A claim not completed or released within `claim_ttl` seconds (a crashed handler)
    expires, so the event is handled again on a later poll:

    ```python
    poller = ResultsPoller(client, handler, dedup=MemoryDedupStore(max_entries=50_000))
    ```
    """

    def __init__(
        self, *, max_entries: int = 10_000, claim_ttl: float = 300.0, done_ttl: float = 7 * 86_400.0
    ) -> None:
        super().__init__()
        self._store = self._memory = MemoryClaimStore(max_entries=max_entries)
        self.max_entries = max_entries
        self.claim_ttl = seconds("claim_ttl", claim_ttl)
        self.done_ttl = seconds("done_ttl", done_ttl)

    def __repr__(self) -> str:
        return f"MemoryDedupStore(max_entries={self.max_entries}, entries={len(self._memory)})"


class RedisDedupStore(_ClaimOnce):
    """A store shared by every replica, in Redis (atomic claims with expiry).

    `redis` is a `redis.asyncio.Redis` client or a URL (`redis://127.0.0.1:6379/0`):

    ```python
    store = RedisDedupStore("redis://127.0.0.1:6379/0", prefix="myapp:smartai:")
    poller = ResultsPoller(client, handler, dedup=store)
    ```
    """

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "assessment_asgi:event:",
        claim_ttl: float = 300.0,
        done_ttl: float = 7 * 86_400.0,
    ) -> None:
        super().__init__()
        try:
            import redis.asyncio as redis_asyncio
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "RedisDedupStore needs the redis package: pip install 'assessment-asgi[redis]'"
            ) from exc
        if isinstance(redis, str):
            redis = redis_url(redis, "redis")  # the one scheme check (_rules.py)
        elif not isinstance(redis, redis_asyncio.Redis | RedisPool):
            raise TypeError("redis must be a redis.asyncio.Redis or a redis:// URL")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("prefix must be a non-empty string")
        self._store = self._redis = store = RedisClaimStore(redis, prefix=prefix)
        store.needs_asyncio = "The Redis de-duplication store needs asyncio (redis.asyncio)"
        self.prefix = prefix
        self.claim_ttl = seconds("claim_ttl", claim_ttl)
        self.done_ttl = seconds("done_ttl", done_ttl)

    def __repr__(self) -> str:
        # The URL may carry a password: never shown.
        return f"RedisDedupStore(prefix={self.prefix!r})"

    async def aclose(self) -> None:
        """Close the connections this store opened from a URL (a client passed in is left open)."""
        await self._redis.aclose()
