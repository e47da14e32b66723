"""The ``on_call`` observer: one report per operation, with no personal data or secret."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from assessment_asgi.platform import (
    Credentials,
    PlatformCall,
    RetryPolicy,
    SmartAIClient,
    SmartAIServerError,
    SmartAITimeoutError,
    Timeout,
)
from tests._fake import API_KEY, SECRET, FakeAPI, build_app
from tests._servers import serve

CREDS = Credentials(API_KEY, SECRET)


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[FakeAPI, str]]:
    state = FakeAPI()
    with serve(build_app(state)) as base:
        yield state, f"{base}/api/v1"


@pytest.mark.anyio
async def test_a_successful_create_reports_one_call_with_its_request_id(
    standin: tuple[FakeAPI, str],
) -> None:
    state, base_url = standin
    state.script.clear()
    state.script["/sessions"] = [
        (200, {"success": True, "data": {"token": "tok", "expiresAt": "2030-01-01T00:00:00Z"}},
         {"x-request-id": "req-42"}),
    ]
    seen: list[PlatformCall] = []
    async with SmartAIClient(base_url=base_url, credentials=CREDS, on_call=seen.append) as client:
        await client.create_session(users=[{"name": "Ada", "email": "ada@example.com"}], recruiter_id="r-1")
    assert len(seen) == 1
    call = seen[0]
    assert (call.operation, call.attempts, call.status_code, call.request_id, call.error) == (
        "create_session", 1, 200, "req-42", None,
    )
    assert call.engine in {"aiohttp", "httpx2"}
    assert call.duration > 0
    assert "Ada" not in repr(call)
    assert "ada@example.com" not in repr(call)


@pytest.mark.anyio
async def test_a_failing_read_reports_its_attempts_and_error(standin: tuple[FakeAPI, str]) -> None:
    state, base_url = standin
    state.script.clear()
    state.script["/assessments"] = [(503, {"success": False, "error": "busy"}, {})] * 3
    seen: list[PlatformCall] = []
    retry = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.01)
    async with SmartAIClient(
        base_url=base_url, credentials=CREDS, retry=retry, on_call=seen.append
    ) as client:
        with pytest.raises(SmartAIServerError):
            await client.list_assessments()
    assert [(c.operation, c.attempts, c.status_code, c.request_id, c.error) for c in seen] == [
        ("list_assessments", 3, 503, None, "SmartAIServerError"),
    ]


@pytest.mark.anyio
async def test_a_cancelled_call_reports_nothing(standin: tuple[FakeAPI, str]) -> None:
    """No outcome, no report: a cancelled call never reached an answer or an error."""
    state, base_url = standin
    state.script.clear()
    state.sandbox.clear_script()
    state.sandbox.script("GET", "/assessments", delay=30)
    seen: list[PlatformCall] = []
    async with SmartAIClient(base_url=base_url, credentials=CREDS, on_call=seen.append) as client:
        with anyio.move_on_after(0.3) as scope:
            await client.list_assessments()
    assert scope.cancelled_caught
    assert seen == []
    state.sandbox.clear_script()
    state.script.clear()


@pytest.mark.anyio
async def test_a_failing_observer_never_fails_the_call(
    standin: tuple[FakeAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = standin
    state.script.clear()

    def broken(call: PlatformCall) -> None:
        raise RuntimeError("observer bug")

    async with SmartAIClient(base_url=base_url, credentials=CREDS, on_call=broken) as client:
        assets = await client.list_assessments()
    assert isinstance(assets, list)
    assert any("observer failed: RuntimeError" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_a_timeout_with_no_answer_reports_no_request_id(standin: tuple[FakeAPI, str]) -> None:
    """The whole-call deadline passes before any answer (each read may wait longer): no
    answer, no request id, and the observer sees None, not an empty string."""
    state, base_url = standin
    state.script.clear()
    state.sandbox.clear_script()
    state.sandbox.script("GET", "/assessments", delay=30)
    seen: list[PlatformCall] = []
    async with SmartAIClient(
        base_url=base_url, credentials=CREDS, timeout=Timeout(connect=1.0, read=5.0, deadline=0.5),
        retry=RetryPolicy(attempts=1), on_call=seen.append,
    ) as client:
        with pytest.raises(SmartAITimeoutError):
            await client.list_assessments()
    state.sandbox.clear_script()
    assert [(c.operation, c.status_code, c.request_id, c.error) for c in seen] == [
        ("list_assessments", None, None, "SmartAITimeoutError"),
    ]
