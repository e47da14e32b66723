"""The in-memory rate-limit storage against a model of `limits`' own rules, on a clock the
test moves (often to the very instant a window ends): every answer is the model's, every
call returns, and no key outlives its window."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field

from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from limits import RateLimitItemPerSecond
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from assessment_asgi._ratestore import BoundedMemoryStorage

START = 1_900_000_000.25  # a Unix time, as `time.time()` returns them
#: Each key's limit and window (seconds): a key is always used with one limit, as the
#: limiter's keys are (they name the limit).
KEYS = {"a": (2, 1), "b": (1, 60), "c": (3, 60)}


@dataclass
class Model:
    """`limits`' rules, written plainly: a moving-window hit counts while `now <= hit +
    window`; a fixed window's count starts again once `now >= its end`."""

    now: float = START
    hits: dict[str, list[float]] = field(default_factory=dict)
    counters: dict[str, tuple[int, float]] = field(default_factory=dict)

    def live_hits(self, key: str) -> list[float]:
        window = KEYS[key][1]
        return [hit for hit in self.hits.get(key, []) if hit + window >= self.now]

    def hit_moving(self, key: str, cost: int) -> bool:
        limit = KEYS[key][0]
        live = self.live_hits(key)
        if len(live) + cost > limit:
            return False
        self.hits[key] = [*live, *[self.now] * cost]
        return True

    def hit_fixed(self, key: str) -> bool:
        limit, window = KEYS[key]
        count, ends = self.counters.get(key, (0, 0.0))
        if ends <= self.now:
            count, ends = 0, self.now + window
        self.counters[key] = (count + 1, ends)
        return count + 1 <= limit

    def fixed_count(self, key: str) -> tuple[int, float]:
        """The count of `key`'s fixed window and when it ends (now, when none is running)."""
        count, ends = self.counters.get(key, (0, 0.0))
        return (count, ends) if ends > self.now else (0, self.now)

    def moving_stats(self, key: str) -> tuple[float, int]:
        live = self.live_hits(key)
        return (min(live), len(live)) if live else (self.now, 0)

    def ends(self, key: str) -> list[float]:
        """The instants at which something of `key` ends."""
        window = KEYS[key][1]
        instants = [hit + window for hit in self.hits.get(key, [])]
        if key in self.counters:
            instants.append(self.counters[key][1])
        return [at for at in instants if at >= self.now]

    def live_keys(self) -> int:
        moving = sum(1 for key in self.hits if self.live_hits(key))
        fixed = sum(1 for _, ends in self.counters.values() if ends >= self.now)
        return moving + fixed


@contextlib.contextmanager
def _returns_within(seconds: float) -> Iterator[None]:
    """`TimeoutError` in this thread if the block is still running after `seconds`: a call that
    went round in circles fails its example (hypothesis then shrinks it, each try with its own
    alarm) instead of hanging the suite. The suite's own per-test alarm is given back after."""

    def hung(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"a storage call did not return within {seconds} s")

    handler = signal.signal(signal.SIGALRM, hung)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, handler)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, outer)


_key = st.sampled_from(sorted(KEYS))
_step = st.one_of(
    st.tuples(st.just("moving"), _key, st.integers(1, 2)),
    st.tuples(st.just("fixed"), _key),
    st.tuples(st.just("stats"), _key),
    st.tuples(st.just("fixed_stats"), _key),
    st.tuples(st.just("tick"), st.sampled_from([0.25, 1.0, 59.0, 60.0, 61.0])),
    st.tuples(st.just("to_end"), _key, st.integers(0, 3)),
    st.tuples(st.just("clear"), _key),
)


# A call that hangs costs its example 2 s: no "explain" phase (it re-runs the failure many
# times over), one failure reported, shrunk.
@settings(
    max_examples=300, deadline=None, database=None, report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)
@given(st.lists(_step, max_size=40))
# The instants that matter, always tried: a hit's window ends as another key is hit (the sweep
# that went round in circles), and each kind of window is asked at the very instant it ends.
@example([("moving", "b", 1), ("to_end", "b", 0), ("moving", "c", 1)])
@example([("moving", "b", 1), ("to_end", "b", 0), ("stats", "b"), ("moving", "b", 1)])
@example([("fixed", "b"), ("to_end", "b", 0), ("fixed_stats", "b"), ("fixed", "b")])
@example([("moving", "b", 1), ("fixed", "b"), ("clear", "b"), ("moving", "b", 1), ("fixed", "b")])
# Two hits a second apart: the first one's window ends, the key moves on to the second's end,
# then that ends too.
@example([("moving", "c", 1), ("tick", 1.0), ("moving", "c", 1), ("tick", 59.0), ("tick", 0.25),
          ("stats", "c"), ("tick", 61.0), ("stats", "c")])
def test_the_storage_counts_as_limits_rules_say_and_frees_every_key(steps: list[tuple]) -> None:
    with _returns_within(2.0):
        _run(steps)


def _run(steps: list[tuple]) -> None:
    model = Model()
    storage = BoundedMemoryStorage(clock=lambda: model.now)
    moving, fixed = MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage)

    def item(key: str) -> RateLimitItemPerSecond:
        limit, window = KEYS[key]
        return RateLimitItemPerSecond(limit, window)

    for step in steps:
        kind, *args = step
        if kind == "moving":
            key, cost = args
            assert moving.hit(item(key), "moving", key, cost=cost) == model.hit_moving(key, cost), step
        elif kind == "fixed":
            assert fixed.hit(item(args[0]), "fixed", args[0]) == model.hit_fixed(args[0]), step
        elif kind == "stats":
            key = args[0]
            start, count = model.moving_stats(key)
            stats = moving.get_window_stats(item(key), "moving", key)
            assert stats.remaining == KEYS[key][0] - count, step
            assert stats.reset_time == start + KEYS[key][1], step
        elif kind == "fixed_stats":
            key = args[0]
            count, ends = model.fixed_count(key)
            stats = fixed.get_window_stats(item(key), "fixed", key)
            assert stats.remaining == max(0, KEYS[key][0] - count), step
            assert stats.reset_time == ends, step
        elif kind == "clear":  # both of the key's windows forgotten, as limiters' clear() does
            key = args[0]
            moving.clear(item(key), "moving", key)
            fixed.clear(item(key), "fixed", key)
            model.hits.pop(key, None)
            model.counters.pop(key, None)
        elif kind == "tick":
            model.now += args[0]
        else:  # to the very instant one of a key's windows ends
            ends = sorted(model.ends(args[0]))
            if ends:
                model.now = ends[min(args[1], len(ends) - 1)]
        assert storage.expire() == model.live_keys(), step


def test_reset_forgets_every_key_and_says_how_many() -> None:
    storage = BoundedMemoryStorage(clock=lambda: START)
    moving, fixed = MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(1, 60)
    assert storage.check()  # healthy: nothing to reach, nothing to fail
    assert moving.hit(item, "moving", "b")
    assert fixed.hit(item, "fixed", "b")
    assert not moving.hit(item, "moving", "b")
    assert storage.reset() == 2
    assert storage.expire() == 0
    assert moving.hit(item, "moving", "b")  # the budget is whole again
    assert fixed.hit(item, "fixed", "b")
