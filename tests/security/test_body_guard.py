"""The body guard answered over plain ASGI, message by message: exact answers (the ``error``
text is what a frontend shows), limits at their exact edge, a declared size refused before the
body is sent, and a client that went away gets nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from assessment_asgi import AssessmentApp, AuthError
from tests._fake import JWT_SECRET

pytestmark = pytest.mark.anyio

LIMIT = 1024


def refuse_everyone(request: Any) -> Any:
    """Reached only once the body passed the guard: a 401 proves the body was accepted."""
    raise AuthError("who are you")


APP = AssessmentApp(authenticate=refuse_everyone, max_body_bytes=LIMIT, body_timeout=0.5,
                    jwt_secret=JWT_SECRET, rate_limit="")

Receive = Callable[[], Awaitable[dict[str, Any]]]


def receiving(*messages: dict[str, Any]) -> Receive:
    """Hands out ``messages``, then waits as a client that sends nothing more would."""
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return receive


async def raw_answer(
    receive: Receive, *, headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes | None = b"application/json", app: Any = APP,
) -> list[dict[str, Any]]:
    """The ASGI messages the app sends."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/session", "raw_path": b"/session", "root_path": "",
        "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
        "headers": [*([(b"content-type", content_type)] if content_type else []), *(headers or [])],
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(10):  # a regression that waits forever fails instead of hanging
        await app(scope, receive, send)
    return sent


async def answer(
    receive: Receive, *, headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes | None = b"application/json",
) -> tuple[int | None, dict[bytes, bytes], Any]:
    sent = await raw_answer(receive, headers=headers, content_type=content_type)
    if not sent:
        return None, {}, None
    start, body = sent
    return start["status"], dict(start["headers"]), json.loads(body["body"])


def problem(code: str, error: str) -> dict[str, Any]:
    return {"success": False, "error": error, "code": code}


async def test_a_declared_size_over_the_limit_is_refused_before_the_body_arrives() -> None:
    status, _, body = await answer(receiving(), headers=[(b"content-length", str(LIMIT + 1).encode())])
    assert (status, body) == (413, problem("payload_too_large", f"The request body exceeds {LIMIT} bytes"))


@pytest.mark.parametrize("declared", [b"12a", b"-5", b"10000000000000000000", b""])
async def test_a_malformed_content_length_is_a_400(declared: bytes) -> None:
    status, _, body = await answer(receiving(), headers=[(b"content-length", declared)])
    assert (status, body) == (400, problem("invalid_body", "Invalid Content-Length"))


async def test_the_longest_well_formed_content_length_is_read_as_a_size() -> None:
    status, _, body = await answer(receiving(), headers=[(b"content-length", b"1" * 19)])
    assert (status, body["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "streamed"])
async def test_a_body_of_exactly_the_limit_is_accepted(declare: bool) -> None:
    content = b'{"users": []}'.ljust(LIMIT)
    headers = [(b"content-length", str(LIMIT).encode())] if declare else []
    half = LIMIT // 2
    status, _, body = await answer(
        receiving({"type": "http.request", "body": content[:half], "more_body": True},
                  {"type": "http.request", "body": content[half:], "more_body": False}),
        headers=headers,
    )
    assert (status, body["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("pieces", [1, 2, 5])
async def test_one_byte_over_the_limit_while_streaming_is_a_413(pieces: int) -> None:
    content = b'{"users": []}'.ljust(LIMIT + 1)
    size = len(content) // pieces + 1
    chunks = [content[i:i + size] for i in range(0, len(content), size)]
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    messages[-1]["more_body"] = False
    status, _, body = await answer(receiving(*messages))
    assert (status, body) == (413, problem("payload_too_large", f"The request body exceeds {LIMIT} bytes"))


async def test_a_last_message_may_leave_out_body_and_more_body() -> None:
    status, _, body = await answer(receiving({"type": "http.request"}))
    assert (status, body) == (400, problem("invalid_json", "The request body is empty"))


async def test_a_client_gone_before_its_body_gets_no_answer() -> None:
    status, _, _ = await answer(receiving({"type": "http.request", "body": b"{", "more_body": True},
                                          {"type": "http.disconnect"}))
    assert status is None


async def test_a_body_that_stops_arriving_is_a_408_that_closes_the_connection() -> None:
    status, headers, body = await answer(
        receiving({"type": "http.request", "body": b'{"users": ', "more_body": True})
    )
    assert (status, body) == (408, problem("request_timeout", "The request body was not received in time"))
    assert headers[b"connection"] == b"close"


async def test_duplicate_keys_are_refused_with_their_reason() -> None:
    status, _, body = await answer(
        receiving({"type": "http.request", "body": b'{"users": [], "users": []}'})
    )
    assert (status, body) == (400, problem("invalid_json", "Duplicate keys in a JSON object"))


@pytest.mark.parametrize("number", [b"1.5", b"-2.5e3", b"1e308"])
async def test_numbers_with_a_fraction_or_an_exponent_pass_the_json_check(number: bytes) -> None:
    status, _, body = await answer(receiving({"type": "http.request", "body": b'{"users": ' + number + b"}"}))
    assert (status, body["code"]) == (401, "unauthorized")  # past the guard


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"1" * 400 + b".5"])
async def test_numbers_too_large_for_a_float_are_not_json(number: bytes) -> None:
    # Python would read them as infinity (or -infinity), a value JSON does not have.
    status, _, body = await answer(receiving({"type": "http.request", "body": b'{"users": ' + number + b"}"}))
    assert (status, body) == (400, problem("invalid_json", "The request body is not valid JSON"))


@pytest.mark.parametrize(
    ("content_type", "error"),
    [(None, "Content-Type must be application/json"),
     (b"text/plain", "Content-Type must be application/json"),
     (b"application/json; charset=latin-1", "Only UTF-8 JSON is accepted"),
     (b'application/json; charset="UTF-16"', "Only UTF-8 JSON is accepted"),
     (b"application/json;foo=bar;charset=latin-1", "Only UTF-8 JSON is accepted"),
     (b"application/json; charset=utf-8=x", "Only UTF-8 JSON is accepted"),
     (b"application/json; charset=utf-8X", "Only UTF-8 JSON is accepted")],
)
async def test_content_types_are_refused_with_their_reason(content_type: bytes | None, error: str) -> None:
    status, _, body = await answer(receiving({"type": "http.request", "body": b"{}"}),
                                   content_type=content_type)
    assert (status, body) == (415, problem("unsupported_media_type", error))


@pytest.mark.parametrize(
    "content_type",
    [b"application/json", b"Application/JSON", b" application/json ; charset=utf-8",
     b'application/json; charset="UTF8"', b"application/json; foo=bar; charset=utf-8"],
)
async def test_json_content_types_pass(content_type: bytes) -> None:
    status, _, body = await answer(receiving({"type": "http.request", "body": b"{}"}),
                                   content_type=content_type)
    assert (status, body["code"]) == (401, "unauthorized")


async def test_the_envelope_is_compact_utf8_json_with_lowercase_header_names() -> None:
    def refuse_in_french(request: Any) -> Any:
        raise AuthError("Accès refusé")

    app = AssessmentApp(authenticate=refuse_in_french, jwt_secret=JWT_SECRET, rate_limit="")
    start, body = await raw_answer(receiving({"type": "http.request", "body": b'{"users": []}'}), app=app)
    assert body["body"] == '{"success":false,"error":"Accès refusé","code":"unauthorized"}'.encode()
    names = [name for name, _ in start["headers"]]
    assert all(name == name.lower() for name in names)  # the ASGI spec asks for lower case
    assert dict(start["headers"])[b"content-length"] == str(len(body["body"])).encode()


def arriving_late(*messages: dict[str, Any]) -> Receive:
    """Each message comes after a short wait, as a body sent after its headers does."""
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        await anyio.sleep(0.01)
        if queue:
            return queue.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return receive


@pytest.mark.parametrize("pieces", [1, 3])
async def test_a_body_that_arrives_after_a_wait_is_read_whole(pieces: int) -> None:
    content = json.dumps({"users": [{"name": "Ada", "email": "ada@example.com"}]}).encode()
    size = len(content) // pieces + 1
    messages = [{"type": "http.request", "body": content[i:i + size], "more_body": True}
                for i in range(0, len(content), size)]
    messages[-1]["more_body"] = False
    status, _, body = await answer(arriving_late(*messages))
    assert (status, body) == (401, problem("unauthorized", "who are you"))  # past the guard


async def test_a_body_that_never_starts_arriving_is_a_408() -> None:
    status, headers, body = await answer(arriving_late())
    assert (status, body) == (408, problem("request_timeout", "The request body was not received in time"))
    assert headers[b"connection"] == b"close"


async def test_a_client_gone_while_the_first_receive_waits_gets_no_answer() -> None:
    status, _, _ = await answer(arriving_late({"type": "http.disconnect"}))
    assert status is None


def polling(*messages: dict[str, Any]) -> Receive:
    """Hands out ``messages``, then polls for more as a server with no wake-up to wait on
    might: it checks, yields to the event loop (no future to wait for) and checks again."""
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        give_up = time.monotonic() + 5  # a bound on the test, not a timing assertion
        while not queue:
            assert time.monotonic() < give_up, "the body deadline never ended the wait"
            await anyio.lowlevel.checkpoint()
        return queue.pop(0)

    return receive


async def test_a_receive_that_waits_by_polling_still_ends_at_the_body_deadline() -> None:
    # The deadline's cancellation reaches the receive call even when it is not waiting on a
    # future but merely yielding to the loop between checks. Plain ASGI: no server the suite
    # runs waits for a body that way (uvicorn waits on an event, hypercorn on a queue).
    status, headers, body = await answer(polling())
    assert (status, body) == (408, problem("request_timeout", "The request body was not received in time"))
    assert headers[b"connection"] == b"close"
