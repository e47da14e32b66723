"""Events the poller cannot acknowledge, against the real sandbox: they are reported, never
crash the poller, never hide the events behind them, and respect what the caller takes."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from assessment_asgi.platform import Event, InvalidEvent, ResultsPoller, SmartAIClient
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

PERSONAL = "jane.doe.private@example.com"


class Clock:
    """The sandbox's clock, moved on by the test so events get distinct ``storedAt`` times.

    The sandbox stores whole milliseconds (``int(now * 1000)``). The clock starts half a
    millisecond past one, so steps of 0.001 s land one millisecond apart however float
    rounding goes (from an arbitrary start, about 1 run in 125 of a 130-step test put two
    events in the same millisecond: identical events, reported once)."""

    def __init__(self) -> None:
        self.now = int(time.time()) + 0.0005

    def __call__(self) -> float:
        return self.now


def completed(event_id: object, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "event": "assessment.completed",
        "assessmentId": "as_1",
        "candidateId": f"c{n}",
        "candidateEmail": PERSONAL if n < 0 else f"cand{n}@example.com",
        "score": 80,
        **extra,
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def queue(clock: Clock) -> AsyncIterator[tuple[SandboxApp, SmartAIClient]]:
    app = SandboxApp(clock=clock)
    with serve(app) as url:
        base_url = SandboxApp.platform_url(url)
        async with SmartAIClient(base_url=base_url, credentials=app.credentials) as client:
            yield app, client


def ids_pending(app: SandboxApp) -> list[object]:
    return [e.get("eventId", "<missing>") for e in app.pending_events()]


async def wait_until(condition: Callable[[], bool]) -> None:
    while not condition():
        await anyio.sleep(0.01)


BAD_IDS = [pytest.param("", id="empty"), pytest.param("   ", id="blank"), pytest.param(None, id="null"),
           pytest.param(17, id="integer"), pytest.param(["evt"], id="list")]


@pytest.mark.anyio
@pytest.mark.parametrize("bad_id", BAD_IDS)
async def test_an_event_without_a_usable_id_is_reported_and_the_rest_of_its_batch_acknowledged(
    queue: tuple[SandboxApp, SmartAIClient], bad_id: object, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = queue
    app.enqueue(completed("good_1", 1))
    app.enqueue(completed(bad_id, -1))
    app.enqueue(completed("good_2", 2))
    handled: list[str] = []
    reported: list[InvalidEvent] = []
    poller = ResultsPoller(client, lambda e: handled.append(e.event_id), on_invalid=reported.append)
    report = await poller.poll_once()  # before the fix: ValueError out of poll_once
    assert sorted(handled) == ["good_1", "good_2"]
    assert (report.received, report.handled, report.invalid, report.acknowledged) == (3, 2, 1, 2)
    assert sorted(app.acknowledged_events()) == ["good_1", "good_2"]
    assert ids_pending(app) == [bad_id]  # never acknowledged by an id it lacks
    assert [(bad.event_id, bad.type, bad.fields) for bad in reported] == [
        (None, "assessment.completed", ("eventId",))
    ]
    assert reported[0].payload["candidateEmail"] == PERSONAL
    assert PERSONAL not in repr(reported) + caplog.text


@pytest.mark.anyio
async def test_a_missing_id_or_an_event_that_is_not_an_object_is_reported_not_dropped(
    queue: tuple[SandboxApp, SmartAIClient], caplog: pytest.LogCaptureFixture
) -> None:
    app, client = queue
    app.enqueue(completed("good_1", 1))
    pending = app.pending_events()
    # The sandbox always stores an id: the poll answer itself is scripted to lack one.
    events = [{k: v for k, v in completed("x", -1).items() if k != "eventId"}, "not an event", *pending]
    app.script("GET", "/webhook/events", status=200, body={"success": True, "data": {"events": events}})
    handled: list[str] = []
    with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
        report = await ResultsPoller(client, lambda e: handled.append(e.event_id)).drain()
    assert handled == ["good_1"]
    assert (report.invalid, report.acknowledged) == (2, 1)
    assert app.acknowledged_events() == ["good_1"]
    assert caplog.text.count("has no usable eventId") == 2
    assert PERSONAL not in caplog.text


@pytest.mark.anyio
async def test_a_blank_id_never_stops_a_background_poller(queue: tuple[SandboxApp, SmartAIClient]) -> None:
    app, client = queue
    app.enqueue(completed("", -1))
    app.enqueue(completed("good_1", 1))
    handled: list[str] = []
    poller = ResultsPoller(client, lambda e: handled.append(e.event_id), interval=5)
    with anyio.fail_after(10):
        async with poller:  # before the fix: the ValueError ended the poller and this block
            await wait_until(lambda: app.acknowledged_events() == ["good_1"])
            await anyio.sleep(0.2)
            assert poller.running
    assert handled == ["good_1"]


@pytest.mark.anyio
@pytest.mark.parametrize("distinct_times", [True, False], ids=["paged-by-since", "same-millisecond"])
async def test_events_that_cannot_be_acknowledged_never_hide_the_ones_behind_them(
    queue: tuple[SandboxApp, SmartAIClient], clock: Clock, distinct_times: bool
) -> None:
    app, client = queue
    for n in range(5):
        app.enqueue(completed(None if n % 2 else n * 1000, -1))
        clock.now += 0.001 * distinct_times
    for n in range(3):
        app.enqueue(completed(f"good_{n}", n))
        clock.now += 0.001 * distinct_times
    handled: list[str] = []
    poller = ResultsPoller(client, lambda e: handled.append(e.event_id), limit=5)
    report = await poller.drain()  # before the fix: received 0, acknowledged 0, forever
    assert handled == ["good_0", "good_1", "good_2"]
    assert report.acknowledged == 3
    assert len(app.pending_events()) == 5
    again = await poller.drain()  # a new pass starts at the front: nothing handled twice
    assert (again.handled, again.acknowledged) == (0, 0)


@pytest.mark.anyio
async def test_more_stuck_events_than_a_page_are_paged_past(
    queue: tuple[SandboxApp, SmartAIClient], clock: Clock
) -> None:
    app, client = queue
    for _ in range(130):
        app.enqueue(completed(None, -1))
        clock.now += 0.001
    app.enqueue(completed("good_1", 1))
    handled: list[str] = []
    reported: list[InvalidEvent] = []
    poller = ResultsPoller(client, lambda e: handled.append(e.event_id), on_invalid=reported.append)
    report = await poller.drain()
    assert handled == ["good_1"]
    assert app.acknowledged_events() == ["good_1"]
    assert report.invalid == len(reported) == 130  # each reported once in the pass


@pytest.mark.anyio
async def test_a_failed_event_does_not_block_the_rest_and_is_retried_on_the_next_pass(
    queue: tuple[SandboxApp, SmartAIClient], clock: Clock
) -> None:
    app, client = queue
    for n in range(4):
        app.enqueue(completed(f"evt_{n}", n))
        clock.now += 0.001
    calls: list[str] = []

    def handler(event: Event) -> None:
        calls.append(event.event_id)
        if event.event_id == "evt_0" and calls.count("evt_0") == 1:
            raise RuntimeError("database is down")

    poller = ResultsPoller(client, handler, limit=1)
    first = await poller.drain()
    assert (first.handled, first.failed) == (3, 1)
    assert calls == ["evt_0", "evt_1", "evt_2", "evt_3"]  # evt_0 tried once in this pass
    second = await poller.drain()
    assert (second.handled, second.acknowledged) == (1, 1)
    assert app.pending_events() == []


@pytest.mark.anyio
async def test_invalid_events_of_types_not_taken_stay_queued_when_asked(
    queue: tuple[SandboxApp, SmartAIClient], caplog: pytest.LogCaptureFixture
) -> None:
    app, client = queue
    app.enqueue({"eventId": "dq_1", "event": "assessment.disqualified", "score": "n/a"})
    app.enqueue({"eventId": "dq_2", "event": "assessment.disqualified", "score": 10})
    app.enqueue({"eventId": "bad_1", "event": "assessment.completed", "score": "n/a"})
    app.enqueue(completed("good_1", 1))
    reported: list[InvalidEvent] = []
    poller = ResultsPoller(
        client, {"assessment.completed": lambda e: None}, ack_unhandled=False, on_invalid=reported.append
    )
    with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
        report = await poller.drain()
    assert sorted(app.acknowledged_events()) == ["bad_1", "good_1"]  # before the fix: dq_1 too
    assert ids_pending(app) == ["dq_1", "dq_2"]
    assert [bad.event_id for bad in reported] == ["bad_1"]
    assert (report.invalid, report.skipped) == (2, 2)
    assert "no handler for 'assessment.disqualified' events: left queued" in caplog.text


@pytest.mark.anyio
async def test_an_on_invalid_hook_that_fails_leaves_the_event_queued(
    queue: tuple[SandboxApp, SmartAIClient],
) -> None:
    app, client = queue
    app.enqueue({"eventId": "bad_1", "event": "assessment.completed", "score": "n/a"})

    def on_invalid(bad: InvalidEvent) -> None:
        raise RuntimeError("dead-letter table is down")

    report = await ResultsPoller(client, lambda e: None, on_invalid=on_invalid).poll_once()
    assert (report.invalid, report.failed, report.acknowledged) == (1, 1, 0)
    assert ids_pending(app) == ["bad_1"]


@pytest.mark.anyio
async def test_an_event_without_an_id_is_reported_once_not_on_every_pass(
    queue: tuple[SandboxApp, SmartAIClient], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = queue
    app.enqueue(completed(None, 1))
    clock.now += 0.001
    app.enqueue(completed("", 2))
    reported: list[InvalidEvent] = []
    poller = ResultsPoller(client, lambda e: None, on_invalid=reported.append)
    first = await poller.drain()
    second = await poller.drain()  # the same two events, still queued: counted, not reported again
    assert (first.invalid, second.invalid) == (2, 2)
    assert len(reported) == 2
    default = ResultsPoller(client, lambda e: None)
    with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
        await default.drain()
        await default.drain()
    assert caplog.text.count("has no usable eventId") == 2


@pytest.mark.anyio
async def test_a_drain_over_several_batches_reports_what_all_of_them_did(
    queue: tuple[SandboxApp, SmartAIClient], clock: Clock
) -> None:
    """Three pages of two: the report of `drain()` is the sum over every batch, counter by
    counter, as an operator reading one line per drain expects."""
    app, client = queue
    events = [completed("good_1", 1), completed("", 2), completed("good_2", 3),
              {**completed("dq_1", 4), "event": "assessment.disqualified"},
              completed("boom_1", 5), completed("good_3", 6)]
    for event in events:
        app.enqueue(event)
        clock.now += 1  # distinct storedAt: the pages follow each other by `since`
    handled: list[str] = []

    def handle(event: Event) -> None:
        if event.event_id == "boom_1":
            raise RuntimeError("the handler failed")
        handled.append(event.event_id)

    report = await ResultsPoller(client, {"assessment.completed": handle}, limit=2).drain()
    assert handled == ["good_1", "good_2", "good_3"]
    assert (report.received, report.handled, report.acknowledged) == (6, 3, 4)
    assert (report.invalid, report.unhandled, report.failed) == (1, 1, 1)
    assert (report.duplicates, report.skipped) == (0, 0)
    assert app.acknowledged_events() == ["good_1", "good_2", "dq_1", "good_3"]
    assert ids_pending(app) == ["", "boom_1"]


@pytest.mark.anyio
async def test_the_default_on_invalid_logs_the_id_type_and_field_names_never_a_value(
    queue: tuple[SandboxApp, SmartAIClient], caplog: pytest.LogCaptureFixture
) -> None:
    app, client = queue
    app.enqueue(completed("evt_misfit", -1, score="eighty", assessmentId=["as_1"]))
    app.enqueue(completed("", -2))
    with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
        await ResultsPoller(client, lambda e: None).poll_once()
    lines = [r.getMessage() for r in caplog.records if r.name == "assessment_asgi.platform"]
    assert lines == [
        "event evt_misfit (assessment.completed) does not fit the Event model (fields: assessmentId, "
        "score): "
        "acknowledged without handling",
        "an event (assessment.completed) has no usable eventId: it cannot be acknowledged; "
        "later polls page past it",
    ]
    assert PERSONAL not in caplog.text
    assert "eighty" not in caplog.text


@pytest.mark.anyio
async def test_the_default_on_invalid_says_no_type_for_an_event_without_one(
    queue: tuple[SandboxApp, SmartAIClient], caplog: pytest.LogCaptureFixture
) -> None:
    app, client = queue
    app.enqueue({**completed("evt_typeless", 1), "event": 5})  # a type that is not a string
    app.enqueue({k: v for k, v in completed("", 2).items() if k != "event"})  # no type, no id
    with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
        await ResultsPoller(client, lambda e: None).poll_once()
    lines = [r.getMessage() for r in caplog.records if r.name == "assessment_asgi.platform"]
    assert lines == [
        "event evt_typeless (no type) does not fit the Event model (fields: event): "
        "acknowledged without handling",
        "an event (no type) has no usable eventId: it cannot be acknowledged; later polls page past it",
    ]
    assert app.acknowledged_events() == ["evt_typeless"]


@pytest.mark.anyio
async def test_a_drain_stopped_by_a_full_page_in_one_millisecond_reports_what_waits_behind_it(
    queue: tuple[SandboxApp, SmartAIClient], caplog: pytest.LogCaptureFixture
) -> None:
    """A whole page of events left queued, all stored in the same millisecond, cannot be paged
    past (`since` moves by milliseconds): the drain stops there, says so once, and its report
    still counts the events that wait behind the page."""
    app, client = queue
    for n in range(100):  # the clock stands still: one storedAt for all
        app.enqueue({"eventId": f"sent_{n}", "event": "assessment.sent"})
    app.enqueue(completed("good_1", 1))
    app.enqueue(completed("good_2", 2))
    handled: list[str] = []
    poller = ResultsPoller(
        client, {"assessment.completed": lambda e: handled.append(e.event_id)}, ack_unhandled=False
    )
    with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"):
        report = await poller.drain()
    assert handled == []
    assert (report.received, report.unhandled, report.skipped, report.acknowledged) == (100, 100, 100, 0)
    assert report.pending_count == 2
    assert caplog.text.count("fill a whole page stored in one millisecond") == 1
    assert len(app.pending_events()) == 102
