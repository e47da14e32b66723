"""create_session against a real stand-in server: wire format, results, errors, lifecycle."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import pytest

from assessment_asgi import _exceptions
from assessment_asgi.platform import (
    Credentials,
    SessionToken,
    SmartAIAuthError,
    SmartAIClient,
    SmartAIValidationError,
)
from tests._fake import API_KEY, SECRET, FakeAPI, build_app
from tests._servers import serve

from ._engine_runs import pytest_generate_tests  # noqa: F401 - runs engine_name tests per engine

CREDS = Credentials(API_KEY, SECRET)


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[FakeAPI, str]]:
    state = FakeAPI()
    with serve(build_app(state)) as base:
        yield state, f"{base}/api/v1"


@pytest.fixture
def state(standin: tuple[FakeAPI, str]) -> FakeAPI:
    standin[0].seen.clear()
    standin[0].script.clear()
    return standin[0]


@pytest.fixture
def base_url(standin: tuple[FakeAPI, str]) -> str:
    return standin[1]


@dataclass
class Person:
    name: str
    email: str


@pytest.mark.anyio
async def test_bulk_session_sends_the_contract_and_returns_a_hidden_token(
    state: FakeAPI, base_url: str, engine_name: str
) -> None:
    async with SmartAIClient(base_url=base_url, credentials=CREDS, engine=engine_name) as client:
        tok = await client.create_session(
            users=[{"name": "Ada", "email": "ada@example.com"}, Person("Bob", "bob@example.com")],
            recruiter_id="r-1",
            recruiter_email="rec@example.com",
        )
    assert isinstance(tok, SessionToken)
    assert tok.token.startswith("eyJ")
    assert tok.expires_at == "2030-01-01T00:00:00Z"
    assert tok.model_extra == {"sessionKind": "bulk"}  # unknown fields are kept
    assert tok.token not in repr(tok)
    assert tok.token not in str(tok)
    (seen,) = state.calls("/sessions")
    assert seen.method == "POST"
    assert seen.path == "/api/v1/sessions"
    assert seen.headers["x-api-key"] == API_KEY
    assert seen.headers["x-secret-key"] == SECRET
    assert seen.headers["content-type"] == "application/json"
    assert seen.json() == {
        "users": [
            {"name": "Ada", "email": "ada@example.com"},
            {"name": "Bob", "email": "bob@example.com"},
        ],
        "recruiterId": "r-1",
        "recruiterEmail": "rec@example.com",
    }


@pytest.mark.anyio
async def test_single_mode_never_sends_null_fields(state: FakeAPI, base_url: str) -> None:
    async with SmartAIClient(base_url=base_url, credentials=CREDS) as client:
        await client.create_session(name="Ada", email="ada@example.com", recruiter_email="r@x.io")
        await client.create_session(
            name="Ada",
            email="ada@example.com",
            candidate_id="c-9",
            recruiter_id="r",
            workflow_id="wf",
        )
    first, second = state.calls("/sessions")
    assert first.json() == {"name": "Ada", "email": "ada@example.com", "recruiterEmail": "r@x.io"}
    assert b"null" not in first.body
    assert second.json() == {
        "name": "Ada",
        "email": "ada@example.com",
        "candidateId": "c-9",
        "recruiterId": "r",
        "workflowId": "wf",
    }


@pytest.mark.anyio
async def test_per_call_credentials_override_the_default(state: FakeAPI, base_url: str) -> None:
    rotated = Credentials("wc_ak_test_rotated", "wc_sk_test_rotated")
    async with SmartAIClient(base_url=base_url, credentials=rotated) as client:
        with pytest.raises(SmartAIAuthError) as caught:
            await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
        tok = await client.create_session(
            users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r", credentials=CREDS
        )
    assert tok.token
    assert caught.value.status_code == 401
    assert caught.value.operation == "create_session"
    assert caught.value.platform_message == "Invalid API key"
    assert [s.headers["x-api-key"] for s in state.calls("/sessions")] == [
        "wc_ak_test_rotated",
        API_KEY,
    ]


@pytest.mark.anyio
async def test_validation_error_carries_status_message_and_request_id(
    state: FakeAPI, base_url: str, engine_name: str
) -> None:
    state.script["/sessions"] = [
        (400, {"success": False, "error": "users must not be empty"}, {"x-request-id": "abc-123"})
    ]
    async with SmartAIClient(base_url=base_url, credentials=CREDS, engine=engine_name) as client:
        with pytest.raises(SmartAIValidationError) as caught:
            await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
    error = caught.value
    assert (error.status_code, error.request_id) == (400, "abc-123")
    assert error.platform_message == "users must not be empty"
    assert "abc-123" in str(error)


@pytest.mark.anyio
async def test_bad_arguments_fail_before_any_request(state: FakeAPI, base_url: str) -> None:
    client = SmartAIClient(base_url=base_url, credentials=CREDS)
    with pytest.raises(ValueError, match="users must not be empty"):
        await client.create_session(users=[], recruiter_id="r")
    with pytest.raises(ValueError, match="recruiter_id or recruiter_email"):
        await client.create_session(users=[{"name": "A", "email": "a@x.io"}])
    with pytest.raises(ValueError, match=r"users\[0\]\.email"):
        await client.create_session(users=[{"name": "A", "email": ""}], recruiter_id="r")
    with pytest.raises(ValueError, match="not both"):
        await client.create_session(users=[{"name": "A", "email": "a@x.io"}], name="A", recruiter_id="r")
    no_keys = SmartAIClient(base_url=base_url)
    with pytest.raises(_exceptions.ConfigurationError) as caught:
        await no_keys.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
    assert caught.value.setting == "credentials"
    assert state.seen == []


def test_configuration_is_validated_at_construction() -> None:
    with pytest.raises(ValueError, match="base_url"):
        SmartAIClient(base_url="ftp://example.com")
    with pytest.raises(ValueError, match="base_url must not carry credentials"):
        SmartAIClient(base_url="http://user:pw@127.0.0.1/api/v1")
    with pytest.raises(TypeError, match="credentials"):
        SmartAIClient(base_url="http://127.0.0.1/api/v1", credentials="key")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        SmartAIClient(base_url="http://127.0.0.1/api/v1", timeout=-1)
    with pytest.raises(ValueError, match=r"retry\.attempts"):
        SmartAIClient(base_url="http://127.0.0.1/api/v1", retry=0)
    client = SmartAIClient(base_url="http://127.0.0.1/api/v1/", credentials=CREDS)
    assert client.base_url == client.queue_base_url == "http://127.0.0.1/api/v1"
    assert API_KEY not in repr(client)
    assert SECRET not in repr(client)


def test_one_client_serves_many_event_loops_without_leaks(state: FakeAPI, base_url: str) -> None:
    """Test suites run a fresh loop per test: the client must follow, and leak nothing."""
    client = SmartAIClient(base_url=base_url, credentials=CREDS)

    async def one() -> str:
        tok = await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
        return tok.token

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokens = [anyio.run(one, backend=backend) for backend in ("asyncio", "trio", "asyncio")]
        import gc

        gc.collect()
    assert len(set(tokens)) == 3


@pytest.mark.anyio
async def test_a_closed_client_is_rebuilt_on_next_use(state: FakeAPI, base_url: str) -> None:
    client = SmartAIClient(base_url=base_url, credentials=CREDS)
    await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
    await client.aclose()
    tok = await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
    await client.aclose()
    await client.aclose()  # idempotent
    assert tok.token
    assert len(state.calls("/sessions")) == 2


def test_loops_running_side_by_side_in_threads_each_get_a_pool(state: FakeAPI, base_url: str) -> None:
    import threading

    client = SmartAIClient(base_url=base_url, credentials=CREDS)
    barrier = threading.Barrier(2)
    tokens: list[str] = []

    async def several(backend_label: str) -> None:
        for round_ in range(3):
            tok = await client.create_session(users=[{"name": "A", "email": "a@x.io"}], recruiter_id="r")
            tokens.append(tok.token)
            if round_ == 0:
                await anyio.to_thread.run_sync(barrier.wait)  # both loops now hold a pool

    threads = [
        threading.Thread(target=anyio.run, args=(several, backend), kwargs={"backend": backend})
        for backend in ("asyncio", "trio")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        import gc

        gc.collect()
    assert len(set(tokens)) == 6
    assert client._pool.active == 0  # each loop closed its own pool on shutdown
