"""A bounded in-memory storage for `limits`: an idle recruiter costs nothing.

`limits`' own `MemoryStorage` keeps an empty list for every key the moving window has
ever seen (50,000 recruiters → 50,001 entries for the life of the process) and re-arms a
sweeping thread after each hit that walks every key holding the GIL. This one implements
`limits`' public storage interface (`Storage` + `MovingWindowSupport`) with a heap of
expiry times instead: each live key has one entry in it, every call first drops the keys
whose window has passed (O(log n) each), and no thread is ever started.
"""

from __future__ import annotations

import heapq
import threading
import time
from array import array
from collections.abc import Callable, Sequence

from limits.storage import MovingWindowSupport, Storage


class BoundedMemoryStorage(Storage, MovingWindowSupport):
    """Fixed and moving windows in memory, each key freed once its window has passed.

    `clock` returns Unix seconds (`time.time`); tests may pass their own:

    ```python
    limiter = MovingWindowRateLimiter(BoundedMemoryStorage())
    ```
    """

    STORAGE_SCHEME = None  # not registered as a URI scheme: built directly

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[int, float]] = {}  # fixed window: count, expires at
        # Moving window: per key ``[expiry, hit times...]`` in one `array` of floats: one object
        # per recruiter (not a tuple and a deque), holding no reference for the collector to follow.
        self._windows: dict[str, array[float]] = {}
        self._heap: list[tuple[float, str]] = []  # (when the key may expire, key)
        self._scheduled: dict[str, float] = {}  # the heap entry that is current, per key

    def __repr__(self) -> str:
        return f"BoundedMemoryStorage(keys={self._held()})"

    def _held(self) -> int:
        """The keys this storage holds memory for."""
        return len(self._counters) + len(self._windows)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    # ── expiry ───────────────────────────────────────────────────────────────────

    def _schedule(self, key: str, when: float) -> None:
        self._scheduled[key] = when
        heapq.heappush(self._heap, (when, key))

    def _expire(self, now: float) -> None:
        # Strictly before `now`: a key put back below is due at `now` at the earliest, so
        # every turn of this loop either drops an entry or moves it past this sweep.
        while self._heap and self._heap[0][0] < now:
            when, key = heapq.heappop(self._heap)
            if self._scheduled.get(key) != when:
                continue  # superseded or cleared
            # A fixed window is due exactly when its count ends (it is scheduled at each new
            # count); a moving window when its first hit ends, and it moves on while hits remain.
            window = self._windows.get(key)
            if window is not None and self._prune(window, now):
                self._schedule(key, window[-1] + window[0])
            else:
                self._counters.pop(key, None)
                self._windows.pop(key, None)
                del self._scheduled[key]

    @staticmethod
    def _prune(window: array[float], now: float) -> int:
        """Drop the hits whose window has passed; the number of hits left.

        A hit counts until `now` is past `hit + expiry` (`limits`' own rule), computed as
        the expiry sweep computes a key's due time, never as `now - expiry`: the two roundings
        could disagree, keeping a hit whose key is already due, for ever."""
        expiry = window[0]
        end = 1
        while end < len(window) and window[end] + expiry < now:
            end += 1
        if end > 1:
            del window[1:end]
        return len(window) - 1

    def expire(self) -> int:
        """Drop every key whose window has passed; returns how many keys are left."""
        with self._lock:
            self._expire(self.clock())
            return self._held()

    # ── fixed window (Storage) ───────────────────────────────────────────────────

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self._lock:
            now = self.clock()
            self._expire(now)
            return self._incr(key, expiry, amount, now)

    def _incr(self, key: str, expiry: int, amount: int, now: float) -> int:
        """`incr` with the lock held and expired keys dropped."""
        count, expires_at = self._counters.get(key, (0, 0.0))
        if expires_at <= now:
            count, expires_at = 0, now + expiry
            self._schedule(key, expires_at)
        count += amount
        self._counters[key] = (count, expires_at)
        return count

    def get(self, key: str) -> int:
        with self._lock:
            now = self.clock()
            self._expire(now)
            count, expires_at = self._counters.get(key, (0, 0.0))
            return count if expires_at > now else 0

    def get_expiry(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            self._expire(now)
            return self._counters.get(key, (0, now))[1]

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = self._held()
            self._counters.clear()
            self._windows.clear()
            self._heap.clear()
            self._scheduled.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)
            self._windows.pop(key, None)
            self._scheduled.pop(key, None)

    # ── moving window (MovingWindowSupport) ──────────────────────────────────────

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        with self._lock:
            now = self.clock()
            self._expire(now)
            return self._acquire(key, limit, expiry, amount, now)

    def _acquire(self, key: str, limit: int, expiry: int, amount: int, now: float) -> bool:
        """`acquire_entry` with the lock held and expired keys dropped."""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = array("d", (expiry,))
        elif self._prune(window, now) + amount > limit:
            return False
        # At most ``limit`` hits are ever kept: the memory of a key is bounded too.
        for _ in range(amount):
            window.append(now)
        if key not in self._scheduled:
            # One heap entry per live key, not per hit: when it comes due, `_expire`
            # moves it to the last hit's expiry while hits remain.
            self._schedule(key, now + expiry)
        return True

    def hit_all(self, items: Sequence[tuple[str, int, int]], moving: bool) -> int:
        """Count one hit on each `(key, limit, expiry)` in turn, as `limits`' strategies
        count one item after another, under one lock and one reading of the clock: the
        index of the first item over its limit (the later ones are not counted), or -1."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            for index, (key, limit, expiry) in enumerate(items):
                if moving:
                    allowed = self._acquire(key, limit, expiry, 1, now)
                else:
                    allowed = self._incr(key, expiry, 1, now) <= limit
                if not allowed:
                    return index
            return -1

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        with self._lock:
            now = self.clock()
            self._expire(now)
            window = self._windows.get(key)
            if window is None or not self._prune(window, now):
                return now, 0
            return window[1], len(window) - 1
