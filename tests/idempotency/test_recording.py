"""An answer the store refused is recorded again in the background: when each attempt comes,
what it stores, and when recording gives up.

The schedule spans seconds to minutes, so most tests here run on a virtual clock
(``tests/_clock.py``): the loop's time jumps to each timer instead of waiting for it, so the
whole schedule runs in milliseconds and the times asserted are exactly those the loop saw.
The store is the package's memory store refusing ``complete`` a set number of times, as a Redis
that is down and then back would: an exact number of failed attempts, which a real server
stopped and started again cannot be made to give (``test_edges.py`` does that with a real
redis-server, on the real clock).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import pytest

from assessment_asgi import HTTPException, Idempotency, Recruiter
from assessment_asgi._idempotency import MemoryIdempotencyStore
from tests._clock import virtual_clock_backend
from tests._fake import USERS

BODY = {"users": USERS[:2]}
RECRUITER = Recruiter(id="rec_42", email="rita@hire.example")
SESSION = {"token": "tok_1", "expiresAt": "2999-01-01T00:00:00Z"}
VIRTUAL_CLOCK = [virtual_clock_backend()]

# When the store is asked to record the answer, in seconds after the first attempt (the
# request's own): RECORD_RETRY_DELAYS (0.05, 0.2, 0.5, 1, 2 s apart), then every 5 s.
SCHEDULE = [0.0, 0.05, 0.25, 0.75, 1.75, 3.75, 8.75, 13.75, 18.75, 23.75, 28.75]


class StoreDownFor(MemoryIdempotencyStore):
    """A memory store whose first `failures` calls to `complete` fail, as a Redis that is down
    and then back would. `attempts` notes each call: (loop time, retention asked for)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts: list[tuple[float, float]] = []

    async def complete(
        self, key: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None:
        self.attempts.append((asyncio.get_running_loop().time(), keep))
        if len(self.attempts) <= self.failures:
            raise ConnectionError("the store is down")
        await super().complete(key, owner, fingerprint, answer, keep)

    def times(self) -> list[float]:
        """When each attempt came, in seconds after the first."""
        return [when - self.attempts[0][0] for when, _ in self.attempts]


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "assessment_asgi"]


REFUSED = ("ERROR", "could not store an idempotent answer (ConnectionError): retrying in the background")
FAILED_AGAIN = ("DEBUG", "recording an idempotent answer failed again: ConnectionError")
GAVE_UP = ("ERROR", "gave up recording an idempotent answer: its token has expired")


async def created_once(idempotency: Idempotency, answer: dict[str, Any]) -> list[int]:
    """Runs the key's first request (its answer the store refuses); returns the creations."""
    created: list[int] = []

    async def create() -> dict[str, Any]:
        created.append(1)
        return dict(answer)

    assert await idempotency.run("k1", RECRUITER, BODY, create) == (answer, False)
    return created


async def retry(idempotency: Idempotency) -> tuple[dict[str, Any], bool]:
    async def create() -> dict[str, Any]:
        raise AssertionError("a retry with the key must not create a second session")

    return await idempotency.run("k1", RECRUITER, BODY, create)


async def sleep_until(moment: float) -> None:
    """Sleep until the loop's clock reads `moment` (seconds since the loop started)."""
    await asyncio.sleep(moment - asyncio.get_running_loop().time())


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", VIRTUAL_CLOCK)
async def test_attempts_follow_the_documented_schedule_and_the_answer_is_replayed_once_taken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused by the request itself and by the next nine attempts: the attempts come 0.05,
    0.2, 0.5, 1 and 2 s apart, then every 5 s (the sixth and later too), each keeping the
    answer for what is left of its hour; the eleventh is taken, and from then on the key
    replays the answer. Until then a retry is told the key is in flight."""
    store = StoreDownFor(failures=10)
    idempotency = Idempotency(store, ttl=3600.0, lease=600.0)
    assert asyncio.get_running_loop().time() == 0.0
    created = await created_once(idempotency, SESSION)

    await sleep_until(1.0)
    with pytest.raises(HTTPException) as in_flight:
        await retry(idempotency)
    assert (in_flight.value.status_code, in_flight.value.code) == (409, "idempotency_key_in_flight")
    await sleep_until(28.7)  # the last refused attempt was at 23.75 s; the next comes at 28.75 s
    with pytest.raises(HTTPException, match="idempotency_key_in_flight"):
        await retry(idempotency)
    await sleep_until(28.8)
    assert await retry(idempotency) == (SESSION, True)

    assert store.times() == pytest.approx(SCHEDULE)
    assert [keep for _, keep in store.attempts] == pytest.approx([3600.0 - t for t in SCHEDULE])
    assert created == [1]
    assert messages(caplog) == [
        REFUSED,
        *[FAILED_AGAIN] * 9,
        ("WARNING", "recorded an idempotent answer after 11 attempt(s)"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", VIRTUAL_CLOCK)
async def test_recording_gives_up_once_the_retention_has_run_out_and_not_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An answer replayable for 9.5 s, which the store never takes: the attempt at 8.75 s
    still comes (0.75 s of retention left); the next one, at 13.75 s, gives up instead."""
    store = StoreDownFor(failures=10**9)
    idempotency = Idempotency(store, ttl=9.5, lease=600.0)
    await created_once(idempotency, SESSION)

    await sleep_until(13.7)
    assert store.times() == pytest.approx(SCHEDULE[:7])
    assert store.attempts[-1][1] == pytest.approx(0.75)
    assert GAVE_UP not in messages(caplog)
    await sleep_until(13.8)
    assert messages(caplog) == [REFUSED, *[FAILED_AGAIN] * 6, GAVE_UP]
    await sleep_until(120.0)  # and nothing after
    assert len(store.attempts) == 7
    assert messages(caplog) == [REFUSED, *[FAILED_AGAIN] * 6, GAVE_UP]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", VIRTUAL_CLOCK)
async def test_a_retention_ending_just_as_an_attempt_comes_gives_up_there(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Replayable for exactly 8.75 s: the attempt due at 8.75 s finds no time left and gives
    up; it does not ask the store to keep the answer for 0 s."""
    store = StoreDownFor(failures=10**9)
    idempotency = Idempotency(store, ttl=8.75, lease=600.0)
    await created_once(idempotency, SESSION)

    await sleep_until(8.7)
    assert GAVE_UP not in messages(caplog)
    await sleep_until(8.8)
    assert store.times() == pytest.approx(SCHEDULE[:6])
    assert all(keep > 0 for _, keep in store.attempts)
    assert messages(caplog) == [REFUSED, *[FAILED_AGAIN] * 5, GAVE_UP]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", VIRTUAL_CLOCK)
async def test_an_answer_with_less_than_a_second_left_is_still_recorded_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Replayable for half a second more: the attempt 0.05 s later stores it for the 0.45 s
    left, and a retry meanwhile replays it."""
    store = StoreDownFor(failures=1)
    idempotency = Idempotency(store, ttl=0.5, lease=600.0)
    await created_once(idempotency, SESSION)

    await sleep_until(0.1)
    assert await retry(idempotency) == (SESSION, True)
    assert store.times() == pytest.approx(SCHEDULE[:2])
    assert store.attempts[-1][1] == pytest.approx(0.45)
    assert messages(caplog) == [REFUSED, ("WARNING", "recorded an idempotent answer after 2 attempt(s)")]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", VIRTUAL_CLOCK)
async def test_an_answer_whose_token_had_already_expired_is_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing is worth keeping: no attempt after the request's own, and the log says so
    (not "retrying"). The key stays claimed until its lease ends."""
    store = StoreDownFor(failures=10**9)
    idempotency = Idempotency(store, ttl=3600.0, lease=600.0)
    await created_once(idempotency, {"token": "tok_1", "expiresAt": "2000-01-01T00:00:00Z"})

    await sleep_until(60.0)
    assert len(store.attempts) == 1
    with pytest.raises(HTTPException, match="idempotency_key_in_flight"):
        await retry(idempotency)
    assert messages(caplog) == [
        (
            "ERROR",
            "could not store an idempotent answer (ConnectionError): not retried; "
            "the key stays claimed until its lease ends",
        ),
    ]


# -- on the real clock and the standard loop --------------------------------------------------


async def _wait_for(condition: Any) -> None:
    with anyio.fail_after(30):
        while not condition():
            await anyio.sleep(0.01)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # recording again is asyncio's only
async def test_on_the_real_clock_an_answer_is_recorded_on_a_later_attempt_and_the_log_counts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = StoreDownFor(failures=4)  # the answer's own attempt, then three in the background
    idempotency = Idempotency(store, ttl=3600.0, lease=60.0)
    with caplog.at_level(logging.DEBUG, logger="assessment_asgi"):
        created = await created_once(idempotency, SESSION)
        await _wait_for(lambda: "recorded an idempotent answer" in caplog.text)
        assert await retry(idempotency) == (SESSION, True)
    assert created == [1]
    assert messages(caplog) == [
        REFUSED,
        *[FAILED_AGAIN] * 3,
        ("WARNING", "recorded an idempotent answer after 5 attempt(s)"),
    ]
    # The pauses were waited on the real clock: 0.05 + 0.2 + 0.5 s at least.
    assert store.times()[-1] >= 0.7499


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_on_trio_an_answer_the_store_refused_is_still_given(caplog: pytest.LogCaptureFixture) -> None:
    """Recording again in the background is asyncio's only: on trio the answer is given and
    the failure logged as not retried, nothing more (the key stays claimed until its lease
    runs out)."""
    idempotency = Idempotency(StoreDownForOnTrio(), ttl=3600.0, lease=60.0)

    async def create() -> dict[str, Any]:
        return dict(SESSION)

    assert await idempotency.run("k1", RECRUITER, BODY, create) == (SESSION, False)
    assert messages(caplog) == [
        (
            "ERROR",
            "could not store an idempotent answer (ConnectionError): not retried; "
            "the key stays claimed until its lease ends",
        ),
    ]


class StoreDownForOnTrio(MemoryIdempotencyStore):
    """A memory store that refuses every `complete` (no asyncio clock to note on trio)."""

    async def complete(
        self, key: str, owner: str, fingerprint: str, answer: dict[str, Any], keep: float
    ) -> None:
        raise ConnectionError("the store is down")
