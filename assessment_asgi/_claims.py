"""Claim-once stores: the one interface behind idempotency keys and the poller's de-duplication.

A key is *claimed* by one worker (`owner`) for a lease, then *completed* with an answer
kept for a while, or *released* so that it may be claimed again. Both users build on it:
`Idempotency-Key` (the answer is the session) and the results poller (the answer is
"handled").

- `MemoryClaimStore`: one process, at most `max_entries`. Completed entries are evicted
  least recently used first; a claim in flight is never evicted: when every entry is in
  flight, a new claim raises `StoreFull`. Thread-safe (one lock), never blocks the loop.
- `RedisClaimStore`: shared by every replica through `redis.asyncio` on the running loop
  (asyncio only). Each operation is one server-side script: one round trip, atomic, pipelined
  with the other requests' scripts of the same turn of the loop (`_redis.py`).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import SecretStr

from ._exceptions import HTTPException
from ._redis import RedisPool, redis_url

State = Literal["claimed", "replay", "reused", "in_flight"]


@dataclass(frozen=True, slots=True)
class Claim:
    """What the store says about a key: `claimed` (go ahead, as `owner`), `replay`
    (`answer` is the stored one), `reused` (another fingerprint) or `in_flight`."""

    state: State
    answer: dict[str, Any] | None = None
    owner: str = ""


class StoreFull(Exception):
    """Every entry of a memory store is a claim in flight: none may be evicted."""


class ClaimStore(Protocol):
    """Where claims live. `fingerprint` names what was asked (another one: `reused`).

    `complete` stores `answer` for `keep` seconds unless another owner holds the key;
    `release` frees the key only while `owner` still holds its claim.
    """

    async def claim(self, key: str, fingerprint: str, lease: float, owner: str = "") -> Claim: ...

    async def complete(
        self, key: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None: ...

    async def release(self, key: str, owner: str) -> None: ...


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    owner: str
    deadline: float  # time.monotonic()
    answer: dict[str, Any] | None = None  # None while in flight


class MemoryClaimStore:
    """In-process claims: at most `max_entries`; completed ones evicted LRU, claims never.

    For example:

    ```python
    store = MemoryClaimStore(max_entries=10_000)
    claim = await store.claim("k1", "fingerprint", lease=60)
    ```
    """

    def __init__(self, *, max_entries: int = 10_000, setting: str = "max_entries") -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"{setting} must be an int >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._pending: OrderedDict[str, _Entry] = OrderedDict()  # oldest claim first
        self._done: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        # One app may serve several event loops (threads): updates must not interleave.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending) + len(self._done)

    def _make_room(self, now: float) -> None:
        pending, done = self._pending, self._done
        while pending and next(iter(pending.values())).deadline <= now:
            pending.popitem(last=False)  # an abandoned claim whose lease has passed
        while len(pending) + len(done) >= self.max_entries:
            if not done:
                raise StoreFull(f"{len(pending)} claims in flight")
            done.popitem(last=False)

    async def claim(self, key: str, fingerprint: str, lease: float, owner: str = "") -> Claim:
        now = time.monotonic()
        with self._lock:
            entry = self._done.get(key)
            if entry is not None:
                if entry.deadline > now:
                    self._done.move_to_end(key)
                    if entry.fingerprint != fingerprint:
                        return Claim("reused")
                    return Claim("replay", dict(entry.answer or {}))
                del self._done[key]
            entry = self._pending.get(key)
            if entry is not None:
                if entry.deadline > now:
                    return Claim("reused" if entry.fingerprint != fingerprint else "in_flight")
                del self._pending[key]
            self._make_room(now)
            owner = owner or secrets.token_hex(8)
            self._pending[key] = _Entry(fingerprint, owner, now + lease)
            return Claim("claimed", owner=owner)

    async def complete(
        self, key: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None:
        now = time.monotonic()
        with self._lock:
            entry = self._pending.get(key) or self._done.get(key)
            if entry is not None and entry.owner != owner and entry.deadline > now:
                return  # another worker holds it now
            self._pending.pop(key, None)
            self._done.pop(key, None)
            if keep <= 0:
                return
            try:
                self._make_room(now)
            except StoreFull:
                return  # only when this claim had already lapsed and others fill the store
            self._done[key] = _Entry(fingerprint, owner, now + keep, dict(answer))

    async def release(self, key: str, owner: str) -> None:
        with self._lock:
            entry = self._pending.get(key)
            if entry is not None and entry.owner == owner:
                del self._pending[key]


# KEYS[1]: the key. ARGV: the claim's value, its lease in ms. Returns nil when claimed, else
# the stored value (a JSON object; "done" / "busy:..." from de-duplication stores of 0.1).
_CLAIM = """
local v = redis.call('get', KEYS[1])
if v then return v end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""
# After a precondition pre(n) on KEYS[1..n] (its ARGV first): the claim of _CLAIM on the last key,
# whose value and lease are the last two ARGV. {stop, detail, ''} when pre said stop; else
# {0, '0', ''} when claimed, {0, '0', value} when the key was taken.
_CLAIM_AFTER = """
local n = #KEYS - 1
local r = pre(n)
if r[1] ~= 0 then return {r[1], r[2], ''} end
local v = redis.call('get', KEYS[n + 1])
if v then return {0, '0', v} end
redis.call('set', KEYS[n + 1], ARGV[#ARGV - 1], 'PX', ARGV[#ARGV])
return {0, '0', ''}
"""
# ARGV: owner, the answer's value, keep in ms. Stores it unless another owner holds the key.
_COMPLETE = """
local v = redis.call('get', KEYS[1])
if v then
  local ok, d = pcall(cjson.decode, v)
  if not ok or type(d) ~= 'table' or d['owner'] ~= ARGV[1] then return 0 end
end
if tonumber(ARGV[3]) > 0 then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
redis.call('del', KEYS[1])
return 1
"""
# ARGV: owner. Deletes the key only while it is that owner's claim, not yet completed.
_RELEASE = """
local v = redis.call('get', KEYS[1])
if not v then return 0 end
local ok, d = pcall(cjson.decode, v)
if ok and type(d) == 'table' and d['owner'] == ARGV[1] and d['answer'] == nil then
  return redis.call('del', KEYS[1])
end
return 0
"""


def _read(value: bytes | str, fingerprint: str) -> Claim:
    text = value.decode() if isinstance(value, bytes) else value
    if text == "done":
        return Claim("replay", {})
    try:
        stored = json.loads(text)
    except ValueError:
        return Claim("in_flight")  # "busy:<owner>"
    if not isinstance(stored, dict):
        return Claim("in_flight")
    if stored.get("fp") != fingerprint:
        return Claim("reused")
    answer = stored.get("answer")
    return Claim("replay", answer) if isinstance(answer, dict) else Claim("in_flight")


class RedisClaimStore:
    """Claims shared by every replica through Redis: one script (one round trip) per call.

    `redis` is a URL (a client per running loop, on a bounded pool) or a
    `redis.asyncio.Redis` client of the caller's, used as given. Asyncio only:

    ```python
    store = RedisClaimStore("redis://127.0.0.1:6379/0", prefix="myapp:claims:")
    ```
    """

    needs_asyncio = "The Redis claim store needs asyncio (redis.asyncio)"

    def __init__(self, redis: Any, *, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("prefix must be a non-empty string")
        self.prefix = prefix
        self._pool: RedisPool | None = None
        self._client: Any = None
        self._shared = False  # a pool its owner closes
        self.url: SecretStr | None = None  # the Redis it opened itself, if any
        if isinstance(redis, str | SecretStr):
            self.url = redis_url(redis)
            self._pool = RedisPool(self.url)
        elif isinstance(redis, RedisPool):  # a pool shared with its owner (TenantPoller's)
            self._pool, self._shared = redis, True
        else:
            self._client = redis

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self.prefix!r})"  # the URL may hold a password

    async def _eval(self, script: str, keys: list[str], args: list[Any]) -> Any:
        if self._pool is None:
            return await self._client.eval(script, len(keys), *keys, *args)
        try:
            result = self._pool.eval(script, keys, args)
        except RuntimeError:  # trio
            raise HTTPException("not_configured", self.needs_asyncio) from None
        return await result

    async def claim(self, key: str, fingerprint: str, lease: float, owner: str = "") -> Claim:
        owner = owner or secrets.token_hex(8)
        pending = json.dumps({"fp": fingerprint, "owner": owner})
        value = await self._eval(_CLAIM, [self.prefix + key], [pending, max(1, int(lease * 1000))])
        return Claim("claimed", owner=owner) if value is None else _read(value, fingerprint)

    async def claim_after(
        self, pre: str, keys: list[str], args: list[Any], key: str, fingerprint: str, lease: float
    ) -> tuple[int, str, Claim | None]:
        """One script: `pre` (Lua defining `pre(n)` over `keys` and `args`), then the
        claim of `key` unless `pre` said stop: (stop, its detail, None) or (0, "0", claim)."""
        owner = secrets.token_hex(8)
        pending = json.dumps({"fp": fingerprint, "owner": owner})
        stop, detail, value = await self._eval(
            pre + _CLAIM_AFTER, [*keys, self.prefix + key],
            [*args, pending, max(1, int(lease * 1000))],
        )
        detail = detail.decode() if isinstance(detail, bytes) else str(detail)
        if stop:
            return int(stop), detail, None
        claim = _read(value, fingerprint) if value else Claim("claimed", owner=owner)
        return 0, detail, claim

    async def complete(
        self, key: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None:
        value = json.dumps({"fp": fingerprint, "owner": owner, "answer": answer})
        await self._eval(_COMPLETE, [self.prefix + key], [owner, value, int(keep * 1000)])

    async def release(self, key: str, owner: str) -> None:
        await self._eval(_RELEASE, [self.prefix + key], [owner])

    async def aclose(self) -> None:
        """Close the running loop's connections, if this store opened them."""
        if self._pool is not None and not self._shared:
            await self._pool.aclose()
