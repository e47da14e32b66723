"""De-duplication stores for the results poller: who has handled which ``eventId``.

The queue delivers at least once, and several replicas may poll the same key. A store
lets one of them *claim* an event before handling it, and remembers it as *done* after.

- ``MemoryDedupStore`` (the default): one process, bounded, no dependency.
- ``RedisDedupStore``: shared by every replica through ``redis.asyncio`` (``pip install
  assessment-asgi[redis]``); asyncio only, like ``redis.asyncio`` itself.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from typing import Any, Literal, Protocol, runtime_checkable

from .._rules import redis_py_url, redis_url
from .._seconds import seconds

Claim = Literal["claimed", "done", "busy"]

# Delete a claim only if it is still ours (atomic compare-and-delete).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@runtime_checkable
class DedupStore(Protocol):
    """Where handled event ids are remembered.

    ``claim`` answers ``"claimed"`` (handle it now), ``"done"`` (handled before: just
    acknowledge it) or ``"busy"`` (another worker holds it: leave it alone).
    """

    async def claim(self, event_id: str) -> Claim: ...

    async def complete(self, event_id: str) -> None: ...

    async def release(self, event_id: str) -> None: ...


class MemoryDedupStore:
    """In-process store: the last ``max_entries`` ids, each kept ``done_ttl`` seconds.

    A claim not completed or released within ``claim_ttl`` seconds (a crashed handler)
    expires, so the event is handled again on a later poll::

        poller = ResultsPoller(client, handler, dedup=MemoryDedupStore(max_entries=50_000))
    """

    def __init__(
        self, *, max_entries: int = 10_000, claim_ttl: float = 300.0, done_ttl: float = 7 * 86_400.0
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an int >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self.claim_ttl = seconds("claim_ttl", claim_ttl)
        self.done_ttl = seconds("done_ttl", done_ttl)
        self._entries: OrderedDict[str, tuple[Claim, float]] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryDedupStore(max_entries={self.max_entries}, entries={len(self._entries)})"

    def _put(self, event_id: str, state: Claim, ttl: float) -> None:
        self._entries[event_id] = (state, time.monotonic() + ttl)
        self._entries.move_to_end(event_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def claim(self, event_id: str) -> Claim:
        entry = self._entries.get(event_id)
        if entry is not None and entry[1] > time.monotonic():
            return "done" if entry[0] == "done" else "busy"
        self._put(event_id, "busy", self.claim_ttl)
        return "claimed"

    async def complete(self, event_id: str) -> None:
        self._put(event_id, "done", self.done_ttl)

    async def release(self, event_id: str) -> None:
        entry = self._entries.get(event_id)
        if entry is not None and entry[0] != "done":
            del self._entries[event_id]


class RedisDedupStore:
    """A store shared by every replica, in Redis (``SET NX`` claims with expiry).

    ``redis`` is a ``redis.asyncio.Redis`` client or a URL (``redis://127.0.0.1:6379/0``)::

        store = RedisDedupStore("redis://127.0.0.1:6379/0", prefix="myapp:smartai:")
        poller = ResultsPoller(client, handler, dedup=store)
    """

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "assessment_asgi:event:",
        claim_ttl: float = 300.0,
        done_ttl: float = 7 * 86_400.0,
    ) -> None:
        try:
            import redis.asyncio as redis_asyncio
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "RedisDedupStore needs the redis package: pip install 'assessment-asgi[redis]'"
            ) from exc
        if isinstance(redis, str):
            # The one scheme check (_rules.py): a ConfigurationError, a ValueError, naming `redis`.
            self._redis = redis_asyncio.Redis.from_url(redis_py_url(redis_url(redis, "redis")))
            self._owned = True
        elif isinstance(redis, redis_asyncio.Redis):
            self._redis = redis
            self._owned = False
        else:
            raise TypeError("redis must be a redis.asyncio.Redis or a redis:// URL")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("prefix must be a non-empty string")
        self.prefix = prefix
        self.claim_ttl = seconds("claim_ttl", claim_ttl)
        self.done_ttl = seconds("done_ttl", done_ttl)
        # A claim names its owner, so a release never deletes another replica's claim.
        self._busy = "busy:" + secrets.token_hex(8)

    def __repr__(self) -> str:
        # The URL may carry a password: never shown.
        return f"RedisDedupStore(prefix={self.prefix!r})"

    def _key(self, event_id: str) -> str:
        return self.prefix + event_id

    async def claim(self, event_id: str) -> Claim:
        key = self._key(event_id)
        for _ in range(2):  # a claim may expire between SET and GET: try once more
            if await self._redis.set(key, self._busy, nx=True, px=int(self.claim_ttl * 1000)):
                return "claimed"
            value = await self._redis.get(key)
            if value is not None:
                return "done" if value in (b"done", "done") else "busy"
        return "busy"

    async def complete(self, event_id: str) -> None:
        await self._redis.set(self._key(event_id), "done", px=int(self.done_ttl * 1000))

    async def release(self, event_id: str) -> None:
        await self._redis.eval(_RELEASE, 1, self._key(event_id), self._busy)

    async def aclose(self) -> None:
        """Close the connection pool if this store built it from a URL."""
        if self._owned:
            await self._redis.aclose()
