"""Nothing jams the results poller: poison events, slow or failing handlers, unknown types.

The queue here is the recording stand-in, the only platform that can serve an event the
real one could send but the sandbox never does (a field of the wrong type).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

from assessment_asgi.platform import (
    Credentials,
    Event,
    InvalidEvent,
    ResultsPoller,
    RetryPolicy,
    SmartAIClient,
)
from tests._fake import API_KEY, SECRET, FakeAPI, build_app, completed_event
from tests._servers import serve

PERSONAL = "jane.doe.private@example.com"


@pytest.fixture
def standin() -> Iterator[tuple[FakeAPI, str]]:
    state = FakeAPI()
    with serve(build_app(state)) as base:
        yield state, f"{base}/api/v1"


def client_for(base_url: str) -> SmartAIClient:
    return SmartAIClient(
        base_url=base_url,
        credentials=Credentials(API_KEY, SECRET),
        retry=RetryPolicy(attempts=2, backoff=0.01),
    )


def poison(n: int) -> dict[str, object]:
    return completed_event(n, score="n/a", candidateEmail=PERSONAL)


@pytest.mark.anyio
async def test_one_malformed_event_does_not_hide_the_rest_of_its_batch(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [completed_event(1), poison(2), completed_event(3)]
    async with client_for(base_url) as client:
        batch = await client.poll_events()
    assert [e.event_id for e in batch.events] == ["evt_1", "evt_3"]
    assert [(bad.event_id, bad.type, bad.fields) for bad in batch.invalid] == [
        ("evt_2", "assessment.completed", ("score",))
    ]
    assert "n/a" not in repr(batch)
    assert PERSONAL not in repr(batch)


@pytest.mark.anyio
async def test_a_poison_event_is_reported_acknowledged_and_never_blocks_the_queue(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = standin
    state.queue = [completed_event(1), poison(2), completed_event(3)]
    handled: list[str] = []
    async with client_for(base_url) as client:
        poller = ResultsPoller(client, {"assessment.completed": lambda e: handled.append(e.event_id)})
        with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
            report = await poller.poll_once()
        again = await poller.poll_once()
    assert handled == ["evt_1", "evt_3"]
    assert (report.handled, report.invalid, report.acknowledged) == (2, 1, 3)
    assert sorted(state.acked) == ["evt_1", "evt_2", "evt_3"]  # it would never parse: acknowledged
    assert again.received == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("evt_2" in w and "score" in w for w in warnings)
    assert "n/a" not in caplog.text
    assert PERSONAL not in caplog.text


@pytest.mark.anyio
async def test_an_on_invalid_hook_gets_the_event_as_sent(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [poison(7)]
    dead_letters: list[InvalidEvent] = []

    async def on_invalid(bad: InvalidEvent) -> None:
        dead_letters.append(bad)

    async with client_for(base_url) as client:
        report = await ResultsPoller(client, lambda e: None, on_invalid=on_invalid).poll_once()
    assert report.invalid == 1
    assert [bad.payload["score"] for bad in dead_letters] == ["n/a"]
    assert PERSONAL not in repr(dead_letters[0])
    assert state.acked == ["evt_7"]


@pytest.mark.anyio
async def test_a_sync_handler_runs_off_the_event_loop(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [completed_event(1)]
    started, release = threading.Event(), threading.Event()
    released_in_time: list[bool] = []

    def blocking(event: Event) -> None:
        started.set()
        # Only a task on the event loop sets this: a handler run on the loop would wait in vain.
        released_in_time.append(release.wait(10))

    async def loop_task() -> None:
        await anyio.to_thread.run_sync(started.wait, 10)
        release.set()

    async with client_for(base_url) as client, anyio.create_task_group() as tg:
        tg.start_soon(loop_task)
        report = await ResultsPoller(client, blocking).poll_once()
    assert released_in_time == [True]
    assert report.handled == report.acknowledged == 1


@pytest.mark.anyio
async def test_a_sync_handler_that_overruns_its_timeout_is_not_acknowledged(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = standin
    state.queue = [completed_event(1)]
    release = threading.Event()
    try:
        async with client_for(base_url) as client:
            poller = ResultsPoller(client, lambda e: release.wait(10), handler_timeout=0.2)
            report = await poller.poll_once()
    finally:
        release.set()
    assert (report.failed, report.acknowledged) == (1, 0)
    assert state.acked == []
    assert "timed out after 0.2s on event evt_1" in caplog.text


@pytest.mark.anyio
async def test_handlers_run_concurrently_and_only_what_succeeded_is_acknowledged(
    standin: tuple[FakeAPI, str],
) -> None:
    state, base_url = standin
    state.queue = [completed_event(n) for n in range(5)]
    all_in = anyio.Event()
    running = 0

    async def together(event: Event) -> None:
        nonlocal running
        running += 1
        if running == 4:
            all_in.set()
        await all_in.wait()  # one at a time, the first would wait until its timeout
        if event.event_id == "evt_4":
            raise RuntimeError("this one fails")

    async with client_for(base_url) as client:
        poller = ResultsPoller(client, together, concurrency=4, handler_timeout=5)
        report = await poller.poll_once()
    assert (report.handled, report.failed, report.acknowledged) == (4, 1, 4)
    assert sorted(state.acked) == [f"evt_{n}" for n in range(4)]
    with pytest.raises(ValueError, match="concurrency"):
        ResultsPoller(client, together, concurrency=0)


@pytest.mark.anyio
async def test_events_without_a_handler_are_counted_and_logged_once_per_type(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = standin
    state.queue = [
        {"eventId": "d1", "event": "assessment.disqualified"},
        {"eventId": "g1", "event": "campaign.generated"},
        {"eventId": "d2", "event": "assessment.disqualified"},
        completed_event(1),
    ]
    async with client_for(base_url) as client:
        poller = ResultsPoller(client, {"assessment.completed": lambda e: None})
        report = await poller.poll_once()
        state.queue = [{"eventId": "d3", "event": "assessment.disqualified"}]
        later = await poller.poll_once()
    assert (report.handled, report.unhandled, report.acknowledged) == (1, 3, 4)
    assert later.unhandled == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "assessment.disqualified" in w]) == 1
    assert len([w for w in warnings if "campaign.generated" in w]) == 1


@pytest.mark.anyio
async def test_a_failing_handler_is_logged_by_type_and_event_id_only(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = standin
    state.queue = [completed_event(1)]

    def fails(event: Event) -> None:
        raise RuntimeError(f"could not save the result of {PERSONAL}")

    async with client_for(base_url) as client:
        report = await ResultsPoller(client, fails).poll_once()
    assert report.failed == 1
    assert "evt_1" in caplog.text
    assert "RuntimeError" in caplog.text
    for record in caplog.records:
        assert PERSONAL not in f"{record.getMessage()} {record.exc_text or ''}"


@pytest.mark.anyio
async def test_a_failing_handler_is_logged_by_type_with_a_redacted_traceback_at_debug(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    """What an operator greps for when a handler fails: which hook, which event type and id,
    the exception's type; the message (it may quote a candidate) never."""
    state, base_url = standin
    state.queue = [completed_event(1)]

    address = "jane.private" + "@example.com"  # a value at run time, not in the source shown

    def failing(event: object) -> None:
        raise RuntimeError(f"could not mail {address}")

    with caplog.at_level(logging.DEBUG, logger="assessment_asgi.platform"):
        async with client_for(base_url) as client:
            report = await ResultsPoller(client, failing).poll_once()
    assert (report.failed, report.acknowledged) == (1, 0)
    records = [r for r in caplog.records if r.name == "assessment_asgi.platform"]
    errors = [r.getMessage() for r in records if r.levelno == logging.ERROR]
    assert errors == [
        "the handler for assessment.completed failed on event evt_1 (RuntimeError); it stays queued"
    ]
    (trace,) = [r.getMessage() for r in records if r.getMessage().startswith("traceback of that failure")]
    assert trace.startswith("traceback of that failure:\nTraceback (most recent call last):\n")
    assert "builtins.RuntimeError" in trace
    assert "jane.private" not in caplog.text


@pytest.mark.anyio
async def test_a_sync_handler_still_running_after_its_timeout_is_not_started_a_second_time(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Its thread cannot be stopped: the event keeps its claim, so the next poll skips it
    instead of running a second copy of the handler beside the first."""
    state, base_url = standin
    state.queue = [completed_event(1)]
    release = threading.Event()
    calls: list[str] = []

    def blocking(event: Event) -> None:
        calls.append(event.event_id)
        release.wait(10)

    try:
        async with client_for(base_url) as client:
            poller = ResultsPoller(client, blocking, handler_timeout=0.2)
            with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
                first = await poller.poll_once()
                second = await poller.poll_once()  # the first call is still blocked in its thread
    finally:
        release.set()
    assert (first.failed, first.acknowledged) == (1, 0)
    assert (second.skipped, second.handled, second.failed) == (1, 0, 0)
    assert calls == ["evt_1"]
    assert state.acked == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "the handler for assessment.completed timed out after 0.2s on event evt_1; it stays queued"
    ]


class AsyncCallable:
    """A handler object whose `__call__` is a coroutine function (a class-based handler)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, event: Event) -> None:
        self.calls.append(event.event_id)
        if len(self.calls) == 1:
            await anyio.sleep(60)  # the first call hangs: cut short by handler_timeout


def async_function() -> tuple[list[str], Any]:
    calls: list[str] = []

    async def handler(event: Event) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:
            await anyio.sleep(60)

    return calls, handler


def async_object() -> tuple[list[str], Any]:
    handler = AsyncCallable()
    return handler.calls, handler


@pytest.mark.anyio
@pytest.mark.parametrize("make", [async_function, async_object], ids=["function", "object-with-async-call"])
async def test_an_async_handler_that_timed_out_is_handled_on_the_next_poll(
    standin: tuple[FakeAPI, str], make: Callable[[], tuple[list[str], Any]]
) -> None:
    """An async handler is cancelled at its timeout, so its claim is released at once: the next
    poll hands the event over again (unlike a sync one, whose thread runs on)."""
    state, base_url = standin
    state.queue = [completed_event(1)]
    calls, handler = make()
    async with client_for(base_url) as client:
        poller = ResultsPoller(client, handler, handler_timeout=0.2)
        first = await poller.poll_once()
        second = await poller.poll_once()
    assert (first.failed, first.acknowledged) == (1, 0)
    assert (second.handled, second.skipped, second.acknowledged) == (1, 0, 1)
    assert calls == ["evt_1", "evt_1"]
    assert state.acked == ["evt_1"]
