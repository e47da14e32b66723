"""The results poller against the sandbox (candidates really finish) and the stand-in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import anyio.from_thread
import pytest

from assessment_asgi._exceptions import ConfigurationError
from assessment_asgi.platform import (
    Credentials,
    Event,
    MemoryDedupStore,
    PollReport,
    ResultsPoller,
    RetryPolicy,
    SmartAIClient,
)
from assessment_asgi.sandbox import SandboxApp
from tests._fake import API_KEY, SECRET, FakeAPI, build_app, completed_event
from tests._servers import serve

from . import _faulty
from ._portal import candidates_finish


async def wait_until(condition: Callable[[], bool]) -> None:
    """Wait for a state change the test cannot await directly (bounded by the caller)."""
    while not condition():
        await anyio.sleep(0.01)


PEOPLE = [{"name": f"Candidate {n}", "email": f"cand{n}@example.com"} for n in range(3)]


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = SandboxApp()
    with serve(app) as url:
        yield app, url


@pytest.fixture
async def sandbox_client(sandbox: tuple[SandboxApp, str]) -> AsyncIterator[SmartAIClient]:
    app, url = sandbox
    async with SmartAIClient(base_url=SandboxApp.platform_url(url), credentials=app.credentials) as client:
        yield client


@pytest.mark.anyio
async def test_each_finished_candidate_reaches_the_handler_once(
    sandbox: tuple[SandboxApp, str], sandbox_client: SmartAIClient
) -> None:
    app, url = sandbox
    finished = await candidates_finish(sandbox_client, url, PEOPLE)
    received: list[Event] = []

    async def on_completed(event: Event) -> None:
        received.append(event)

    poller = ResultsPoller(sandbox_client, {"assessment.completed": on_completed})
    first = await poller.drain()
    second = await poller.drain()
    assert sorted(e.candidate_email or "" for e in received) == sorted(finished)
    assert first.handled == first.acknowledged == 3
    assert second == PollReport()  # nothing delivered twice
    assert app.pending_events() == []


@pytest.mark.anyio
async def test_a_failing_handler_gets_its_event_again(
    sandbox: tuple[SandboxApp, str], sandbox_client: SmartAIClient, caplog: pytest.LogCaptureFixture
) -> None:
    app, url = sandbox
    await candidates_finish(sandbox_client, url, PEOPLE[:1])
    calls: list[str] = []

    async def flaky(event: Event) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:
            raise RuntimeError("database is down")

    poller = ResultsPoller(sandbox_client, flaky)
    with caplog.at_level(logging.ERROR, logger="assessment_asgi.platform"):
        first = await poller.poll_once()
    assert (first.failed, first.acknowledged) == (1, 0)
    assert len(app.pending_events()) == 1  # not acknowledged: still queued
    assert "stays queued" in caplog.text
    second = await poller.poll_once()
    assert (second.handled, second.acknowledged) == (1, 1)
    assert calls[0] == calls[1]
    assert app.pending_events() == []


@pytest.mark.anyio
async def test_background_polling_in_a_lifespan_and_a_prompt_stop(
    sandbox: tuple[SandboxApp, str], sandbox_client: SmartAIClient
) -> None:
    _, url = sandbox
    await candidates_finish(sandbox_client, url, PEOPLE)
    got = anyio.Event()
    received: list[str] = []

    def on_any(event: Event) -> None:  # sync handlers work too, in a worker thread
        received.append(event.event_id)
        if len(received) == len(PEOPLE):
            anyio.from_thread.run_sync(got.set)

    poller = ResultsPoller(sandbox_client, on_any, interval=30)
    with anyio.fail_after(10):  # the 30 s interval wait is cut short by the stop
        async with poller:
            assert poller.running
            await got.wait()
    assert not poller.running
    assert len(set(received)) == len(PEOPLE)


@pytest.mark.anyio
async def test_run_and_stop_without_a_context_manager(sandbox_client: SmartAIClient) -> None:
    poller = ResultsPoller(sandbox_client, lambda event: None)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(poller.run)
            await wait_until(lambda: poller.running)
            poller.stop()
    assert not poller.running


# ── against the stand-in: draining, de-duplication, errors ─────────────────────


@pytest.fixture
def standin() -> Iterator[tuple[FakeAPI, str]]:
    state = FakeAPI()
    with serve(build_app(state)) as base:
        yield state, f"{base}/api/v1"


def standin_client(base_url: str) -> SmartAIClient:
    return SmartAIClient(
        base_url=base_url,
        credentials=Credentials(API_KEY, SECRET),
        retry=RetryPolicy(attempts=2, backoff=0.01),
    )


@pytest.mark.anyio
async def test_draining_follows_pending_count(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [completed_event(n) for n in range(250)]
    seen: list[str] = []
    async with standin_client(base_url) as client:
        report = await ResultsPoller(client, lambda e: seen.append(e.event_id)).drain()
    assert len(seen) == 250
    assert report.acknowledged == 250
    assert report.pending_count == 0
    assert len(state.calls("/webhook/events")) == 3


@pytest.mark.anyio
async def test_a_lost_ack_does_not_mean_a_second_handling(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [completed_event(1)]
    state.script["/ack"] = [(503, {"message": "busy"}, {})] * 2  # both attempts of the first ack
    handled: list[str] = []
    async with standin_client(base_url) as client:
        poller = ResultsPoller(client, lambda e: handled.append(e.event_id))
        first = await poller.poll_once()
        second = await poller.poll_once()
    assert (first.handled, first.acknowledged) == (1, 0)
    assert (second.handled, second.duplicates, second.acknowledged) == (0, 1, 1)
    assert handled == ["evt_1"]
    assert state.acked == ["evt_1"]


@pytest.mark.anyio
async def test_replicas_sharing_a_store_handle_each_event_once(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [completed_event(n) for n in range(5)]
    state.script["/ack"] = [(503, {}, {})] * 2  # replica A's ack is lost
    store = MemoryDedupStore()
    handled: list[str] = []
    async with standin_client(base_url) as client:
        replica_a = ResultsPoller(client, lambda e: handled.append(e.event_id), dedup=store)
        replica_b = ResultsPoller(client, lambda e: handled.append(e.event_id), dedup=store)
        await replica_a.poll_once()
        report_b = await replica_b.poll_once()
    assert sorted(handled) == [f"evt_{n}" for n in range(5)]
    assert report_b.duplicates == 5
    assert sorted(state.acked) == sorted(handled)


@pytest.mark.anyio
async def test_a_drain_over_several_pages_counts_every_duplicate(standin: tuple[FakeAPI, str]) -> None:
    """Replica A handled three events but its acknowledgement was lost; replica B drains them
    two by two: its report counts the duplicates of every page, not only the last."""
    state, base_url = standin
    state.queue = [completed_event(n) for n in range(3)]
    state.script["/ack"] = [(503, {}, {})] * 2  # replica A's ack is lost
    store = MemoryDedupStore()
    handled: list[str] = []
    async with standin_client(base_url) as client:
        replica_a = ResultsPoller(client, lambda e: handled.append(e.event_id), dedup=store)
        replica_b = ResultsPoller(client, lambda e: handled.append(e.event_id), dedup=store, limit=2)
        await replica_a.poll_once()
        report = await replica_b.drain()
    assert handled == ["evt_0", "evt_1", "evt_2"]  # by replica A, once each
    assert (report.received, report.duplicates, report.handled, report.acknowledged) == (3, 3, 0, 3)
    assert len(state.calls("/webhook/events")) == 3  # replica A's poll and replica B's two pages
    assert sorted(state.acked) == ["evt_0", "evt_1", "evt_2"]


@pytest.mark.anyio
async def test_unhandled_types_are_acknowledged_or_left_as_configured(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [{"eventId": "sent_1", "event": "assessment.sent"}, completed_event(1)]
    async with standin_client(base_url) as client:
        keep = ResultsPoller(client, {"assessment.completed": lambda e: None}, ack_unhandled=False)
        kept = await keep.poll_once()
        assert state.acked == ["evt_1"]
        assert kept.skipped == 1
        default = ResultsPoller(client, {"assessment.completed": lambda e: None})
        await default.poll_once()
    assert state.acked == ["evt_1", "sent_1"]


@pytest.mark.anyio
async def test_a_hung_handler_times_out_and_stays_queued(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.queue = [completed_event(1)]

    async def hangs(event: Event) -> None:
        await anyio.sleep(60)

    async with standin_client(base_url) as client:
        report = await ResultsPoller(client, hangs, handler_timeout=0.2).poll_once()
    assert report.failed == 1
    assert state.acked == []


@pytest.mark.anyio
async def test_platform_errors_are_survived_and_stop_still_works(caplog: pytest.LogCaptureFixture) -> None:
    with _faulty.refusing() as base_url:
        client = SmartAIClient(base_url=base_url, credentials=Credentials(API_KEY, SECRET), retry=1)
        poller = ResultsPoller(client, lambda e: None, interval=5)
        with anyio.fail_after(10):
            async with poller:
                await wait_until(lambda: "polling failed (SmartAIConnectionError" in caplog.text)
        await client.aclose()


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="credentials"):
        ResultsPoller(SmartAIClient(base_url="http://127.0.0.1:9/api/v1"), lambda e: None)
    client = SmartAIClient(base_url="http://127.0.0.1:9/api/v1", credentials=Credentials(API_KEY, SECRET))
    with pytest.raises(ValueError, match="interval must be at least 5"):
        ResultsPoller(client, lambda e: None, interval=1)
    with pytest.raises(TypeError, match="handlers"):
        ResultsPoller(client, {})
    with pytest.raises(TypeError, match="handlers"):
        ResultsPoller(client, {"assessment.completed": "not callable"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="limit"):
        ResultsPoller(client, lambda e: None, limit=500)
    with pytest.raises(TypeError, match="dedup"):
        ResultsPoller(client, lambda e: None, dedup="redis")  # type: ignore[arg-type]


def test_each_refused_setting_is_named_with_the_rule_it_broke() -> None:
    client = SmartAIClient(base_url="http://127.0.0.1:9/api/v1", credentials=Credentials(API_KEY, SECRET))

    def handler(event: Event) -> None:
        return None

    refused: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"handlers": {}}, TypeError, "handlers must be a callable or a non-empty mapping of callables"),
        ({"handlers": {"": handler}}, TypeError, "handlers must map event type names to callables"),
        ({"handlers": {1: handler}}, TypeError, "handlers must map event type names to callables"),
        ({"limit": 0}, ValueError, "limit must be an int from 1 to 100"),
        ({"limit": 101}, ValueError, "limit must be an int from 1 to 100"),
        ({"limit": True}, ValueError, "limit must be an int from 1 to 100"),
        ({"limit": 50.0}, ValueError, "limit must be an int from 1 to 100"),
        ({"credentials": "ak:sk"}, TypeError, "credentials must be a Credentials instance"),
        ({"dedup": "redis"}, TypeError, "dedup must be True, False or a DedupStore"),
        ({"handler_timeout": 0}, ValueError, "handler_timeout must be a finite number of seconds > 0, got 0"),
        ({"max_backoff": 4}, ValueError, "max_backoff must be at least 5 seconds, got 4"),
        ({"stop_timeout": 0}, ValueError, "stop_timeout must be a finite number of seconds > 0, got 0"),
        ({"concurrency": 0}, ValueError, "concurrency must be an int from 1 to 100, got 0"),
        ({"concurrency": 101}, ValueError, "concurrency must be an int from 1 to 100, got 101"),
        ({"concurrency": True}, ValueError, "concurrency must be an int from 1 to 100, got True"),
        ({"on_invalid": "log it"}, TypeError, "on_invalid must be a callable taking an InvalidEvent"),
    ]
    for options, error, message in refused:
        handlers = options.pop("handlers", handler)
        with pytest.raises(error) as caught:
            ResultsPoller(client, handlers, **options)  # type: ignore[arg-type]
        assert str(caught.value) == message, options
    with pytest.raises(TypeError) as caught:
        ResultsPoller("https://platform.example", handler)  # type: ignore[arg-type]
    assert str(caught.value) == "client must be a SmartAIClient"
    with pytest.raises(ConfigurationError) as missing:
        ResultsPoller(SmartAIClient(base_url="http://127.0.0.1:9/api/v1"), handler)
    assert str(missing.value) == "the poller needs credentials: pass credentials= here or to SmartAIClient"
    assert missing.value.setting == "credentials"
    # The edges are accepted.
    for limit in (1, 100):
        assert ResultsPoller(client, handler, limit=limit).limit == limit
    for concurrency in (1, 100):
        assert ResultsPoller(client, handler, concurrency=concurrency).concurrency == concurrency


def test_the_defaults_are_the_documented_ones() -> None:
    client = SmartAIClient(base_url="http://127.0.0.1:9/api/v1", credentials=Credentials(API_KEY, SECRET))
    poller = ResultsPoller(client, lambda e: None)
    assert (poller.interval, poller.handler_timeout) == (30.0, 60.0)  # docs/results.md
    assert (poller.limit, poller.max_backoff, poller.stop_timeout) == (100, 300.0, 10.0)
    assert poller.concurrency == 1
    assert poller.ack_unhandled is True
    assert isinstance(poller.dedup, MemoryDedupStore)
    assert poller.running is False
    assert repr(poller) == "ResultsPoller(types=['*'], interval=30.0, running=False)"
    unbounded = ResultsPoller(client, {"b.type": lambda e: None, "a.type": lambda e: None},
                              handler_timeout=None, dedup=False, ack_unhandled=False)
    assert (unbounded.handler_timeout, unbounded.dedup, unbounded.ack_unhandled) == (None, None, False)
    assert repr(unbounded) == "ResultsPoller(types=['a.type', 'b.type'], interval=30.0, running=False)"


@pytest.mark.anyio
async def test_the_poller_s_own_credentials_serve_a_client_that_has_none(
    standin: tuple[FakeAPI, str],
) -> None:
    state, base_url = standin
    state.queue = [completed_event(1)]
    handled: list[str] = []
    async with SmartAIClient(base_url=base_url, retry=RetryPolicy(attempts=2, backoff=0.01)) as client:
        poller = ResultsPoller(client, lambda e: handled.append(e.event_id),
                               credentials=Credentials(API_KEY, SECRET))
        report = await poller.drain()
    assert (report.handled, report.acknowledged) == (1, 1)
    assert handled == ["evt_1"]
    assert state.acked == ["evt_1"]


@pytest.mark.anyio
async def test_an_unreachable_platform_is_logged_once_per_failure_with_the_next_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With `interval` and `max_backoff` both 5 (the floor), the backoff is exactly 5 s."""
    with _faulty.refusing() as base_url:
        client = SmartAIClient(base_url=base_url, credentials=Credentials(API_KEY, SECRET), retry=1)
        poller = ResultsPoller(client, lambda e: None, interval=5, max_backoff=5)
        with caplog.at_level(logging.INFO, logger="assessment_asgi.platform"), anyio.fail_after(10):
            async with poller:
                await wait_until(lambda: "polling failed" in caplog.text)
        await client.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == "assessment_asgi.platform"]
    # The poller's own lines (the client logs its failed call too).
    assert [line for line in lines if line.startswith(("results poller", "polling"))] == [
        "results poller started (every 5s)",
        "polling failed (SmartAIConnectionError, status None); next poll in 5.0s",
        "results poller stopped",
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(("retry_after", "wait"), [("1", "5.0"), ("900", "300.0")])
async def test_a_retry_after_is_obeyed_within_the_minimum_interval_and_max_backoff(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture, retry_after: str, wait: str
) -> None:
    state, base_url = standin
    state.script["/webhook/events"] = [(429, {"message": "too fast"}, {"Retry-After": retry_after})] * 10
    credentials = Credentials(API_KEY, SECRET)
    async with SmartAIClient(base_url=base_url, credentials=credentials, retry=1) as client:  # no retry
        poller = ResultsPoller(client, lambda e: None, interval=5)
        with anyio.fail_after(10):
            async with poller:
                await wait_until(lambda: "polling was rate limited" in caplog.text)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("polling")]
    assert lines == [f"polling was rate limited; next poll in {wait}s"]
    assert len(state.calls("/webhook/events")) == 1


@pytest.mark.anyio
async def test_a_rate_limited_poller_waits_instead_of_hammering(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = standin
    state.script["/webhook/events"] = [(429, {"message": "too fast"}, {"Retry-After": "120"})] * 10
    async with standin_client(base_url) as client:
        poller = ResultsPoller(client, lambda e: None, interval=5)
        with anyio.fail_after(10):
            async with poller:
                await wait_until(lambda: "polling was rate limited; next poll in 120.0s" in caplog.text)
    assert len(state.calls("/webhook/events")) == 1  # then it waits the 120 s it was told


@pytest.mark.anyio
async def test_a_poller_runs_once_at_a_time(standin: tuple[FakeAPI, str]) -> None:
    _, base_url = standin
    async with standin_client(base_url) as client:
        poller = ResultsPoller(client, lambda e: None, interval=30)
        with anyio.fail_after(10):
            async with poller:
                with pytest.raises(RuntimeError) as refused:
                    await poller.run()
                assert poller.running  # the first run goes on
    assert str(refused.value) == "this ResultsPoller is already running"
    assert not poller.running


@pytest.mark.anyio
async def test_running_pages_through_a_full_queue_without_waiting_the_interval(
    standin: tuple[FakeAPI, str],
) -> None:
    """Five events, two a page, a 30 s interval: a page that says more are queued is followed
    at once, so all five are handled well within the interval."""
    state, base_url = standin
    state.queue = [completed_event(n) for n in range(5)]
    handled: list[str] = []
    async with standin_client(base_url) as client:
        poller = ResultsPoller(client, lambda e: handled.append(e.event_id), interval=30, limit=2)
        with anyio.fail_after(10):
            async with poller:
                await wait_until(lambda: len(handled) == 5)
    assert sorted(handled) == [f"evt_{n}" for n in range(5)]
    assert sorted(state.acked) == sorted(handled)


class _FailingFirstClaims(MemoryDedupStore):
    """A de-duplication store that cannot be reached for its first `failures` claims."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def claim(self, event_id: str) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unreachable")
        return await super().claim(event_id)


@pytest.mark.anyio
async def test_an_unreachable_dedup_store_is_backed_off_logged_and_survived(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The store fails the first poll's claims: nothing is handled or acknowledged, the poller
    says it backs off (interval and max_backoff both 5, the floor: exactly 5 s) and runs on."""
    state, base_url = standin
    state.queue = [completed_event(1)]
    handled: list[str] = []
    async with standin_client(base_url) as client:
        poller = ResultsPoller(
            client, lambda e: handled.append(e.event_id), interval=5, max_backoff=5,
            dedup=_FailingFirstClaims(1),
        )
        with caplog.at_level(logging.WARNING, logger="assessment_asgi.platform"), anyio.fail_after(10):
            async with poller:
                await wait_until(lambda: "backing off" in caplog.text)
                assert poller.running
    assert handled == []
    assert state.acked == []
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("backing off")]
    assert lines == ["backing off for the de-duplication store: next poll in 5.0s"]
