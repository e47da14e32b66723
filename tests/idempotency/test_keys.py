"""Idempotency-Key on POST /session: real uvicorn, the real sandbox, memory and real Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from assessment_asgi import Credentials
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY, USERS, auth, make_token
from tests._features import Sandbox, assessment_app, served

BODY = {"users": USERS[:2]}


def key() -> str:
    return str(uuid.uuid4())


def post(client: Any, url: str, idempotency_key: str | bytes | None, body: Any = None,
         token: str | None = None) -> Any:
    headers = auth(token)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key  # type: ignore[assignment]
    return client.post(url, json=BODY if body is None else body, headers=headers)


def test_a_retry_with_the_same_key_replays_the_answer_and_creates_nothing(
    sandbox: Sandbox, store: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    k = key()
    with served(assessment_app(sandbox, **store)) as (client, url):
        first = post(client, url, k)
        again = post(client, url, k)
        # The same body with other key order and spacing is the same request.
        reordered = client.post(
            url, content=b'{ "users" : [%s, %s] }' % tuple(
                f'{{"email": "{u["email"]}", "name": "{u["name"]}"}}'.encode() for u in USERS[:2]
            ),
            headers={**auth(), "Idempotency-Key": k, "Content-Type": "application/json"},
        )
    assert first.status_code == again.status_code == reordered.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert reordered.headers["idempotent-replayed"] == "true"
    assert again.json() == reordered.json() == first.json()
    assert again.headers["cache-control"] == "no-store"
    assert sandbox.sessions() == 1
    token = first.json()["data"]["token"]
    assert all(token not in record.getMessage() for record in caplog.records)


def test_without_a_key_every_request_creates_a_session(sandbox: Sandbox) -> None:
    with served(assessment_app(sandbox)) as (client, url):
        tokens = {post(client, url, None).json()["data"]["token"] for _ in range(2)}
    assert len(tokens) == 2
    assert sandbox.sessions() == 2


def test_the_same_key_with_another_body_is_refused(sandbox: Sandbox, store: dict[str, str]) -> None:
    k = key()
    with served(assessment_app(sandbox, **store)) as (client, url):
        assert post(client, url, k).status_code == 200
        other = post(client, url, k, body={"users": USERS[2:]})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert sandbox.sessions() == 1


def test_keys_are_scoped_per_recruiter(sandbox: Sandbox, store: dict[str, str]) -> None:
    k = key()
    other_recruiter = make_token(sub="rec_77", email="otto@hire.example")
    with served(assessment_app(sandbox, **store)) as (client, url):
        mine = post(client, url, k)
        theirs = post(client, url, k, token=other_recruiter)
    assert mine.status_code == theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["data"]["token"] != theirs.json()["data"]["token"]
    assert sandbox.sessions() == 2


def test_while_the_first_request_is_in_flight_a_second_gets_409(
    sandbox: Sandbox, store: dict[str, str]
) -> None:
    entered, release = threading.Event(), threading.Event()

    def keys() -> Credentials:  # a sync hook: runs in a worker thread, may block
        entered.set()
        assert release.wait(30)
        return Credentials(API_KEY, SECRET_KEY)

    k = key()
    results: list[Any] = []
    with served(assessment_app(sandbox, keys=keys, **store)) as (client, url):
        first = threading.Thread(target=lambda: results.append(post(client, url, k)))
        first.start()
        assert entered.wait(30)
        second = post(client, url, k)
        release.set()
        first.join(30)
        third = post(client, url, k)
    assert second.status_code == 409
    assert second.json()["code"] == "idempotency_key_in_flight"
    assert second.headers["retry-after"] == "1"
    assert results[0].status_code == 200
    assert third.headers["idempotent-replayed"] == "true"
    assert third.json() == results[0].json()
    assert sandbox.sessions() == 1


def test_a_failure_leaves_the_key_free_to_retry(sandbox: Sandbox, store: dict[str, str]) -> None:
    attempts: list[int] = []

    async def keys() -> Credentials:
        attempts.append(1)
        if len(attempts) == 1:  # the platform refuses these keys: 502
            return Credentials("wc_ak_test_wrong", "wc_sk_test_wrong")
        if len(attempts) == 2:  # a failing key provider: 503 keys_unavailable
            raise RuntimeError("secrets manager down")
        return Credentials(API_KEY, SECRET_KEY)

    k = key()
    with served(assessment_app(sandbox, keys=keys, **store)) as (client, url):
        refused = post(client, url, k)
        failed = post(client, url, k)
        created = post(client, url, k)
        replayed = post(client, url, k)
    assert (refused.status_code, refused.json()["code"]) == (502, "platform_auth_failed")
    assert (failed.status_code, failed.json()["code"]) == (503, "keys_unavailable")
    assert created.status_code == 200
    assert "idempotent-replayed" not in created.headers
    assert replayed.headers["idempotent-replayed"] == "true"
    assert sandbox.sessions() == 1


@pytest.mark.parametrize(
    "value",
    ["x" * 256, b"caf\xe9", "tab\there", b"a\x7fb", ""],
    ids=["256-chars", "not-ascii", "control-char", "delete-char", "empty"],
)
def test_an_unusable_key_is_a_400_before_anything_happens(sandbox: Sandbox, value: str | bytes) -> None:
    with served(assessment_app(sandbox)) as (client, url):
        response = post(client, url, value)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert sandbox.sessions() == 0


def h2_post(
    url: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One POST over HTTP/2 in clear text (prior knowledge): (status, headers, body). Header
    values go out exactly as given (h2's client would strip them, vertical tab included). h2
    is hypercorn's own HTTP/2 library, installed with it."""
    import h2.config
    import h2.connection
    import h2.events

    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None
    assert port is not None
    connection = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding=None,
        normalize_outbound_headers=False, validate_outbound_headers=False,
    ))
    connection.initiate_connection()
    connection.send_headers(1, [(b":method", b"POST"), (b":path", urlsplit(url).path.encode()),
                                (b":scheme", b"http"), (b":authority", f"{host}:{port}".encode()),
                                *headers])
    connection.send_data(1, body, end_stream=True)
    answer: dict[bytes, bytes] = {}
    data = b""
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(connection.data_to_send())
        while chunk := sock.recv(65536):
            for event in connection.receive_data(chunk):
                if isinstance(event, h2.events.ResponseReceived):
                    answer = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    data += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    return int(answer[b":status"]), answer, data
                elif isinstance(event, h2.events.StreamReset | h2.events.ConnectionTerminated):
                    raise AssertionError(f"the server ended the stream: {event}")
            sock.sendall(connection.data_to_send())
    raise AssertionError("the server closed the connection before answering")


@pytest.mark.parametrize("end", [b"\x0b", b"\x0c"], ids=["vertical-tab", "form-feed"])
def test_a_key_ending_in_a_vertical_tab_or_form_feed_is_refused_not_trimmed(
    sandbox: Sandbox, end: bytes
) -> None:
    """HTTP/1.1 servers refuse such a header value themselves (uvicorn with h11 or httptools,
    hypercorn: 400 before any app runs), but HTTP/2 allows it (RFC 9113 forbids NUL, CR and LF,
    and a space or tab at either end) and hypercorn passes it on. The app refuses the key: it
    does not trim it into another key, here one that was already used."""
    headers = [(b"authorization", auth()["Authorization"].encode()),
               (b"content-type", b"application/json")]
    body = json.dumps(BODY).encode()
    with served(assessment_app(sandbox), server="hypercorn") as (_, url):
        first = h2_post(url, [*headers, (b"idempotency-key", b"k1")], body)
        odd = h2_post(url, [*headers, (b"idempotency-key", b"k1" + end)], body)
    assert first[0] == 200
    assert b"idempotent-replayed" not in odd[1]
    assert (odd[0], json.loads(odd[2])["code"]) == (400, "invalid_idempotency_key")
    assert sandbox.sessions() == 1


def test_two_key_headers_are_refused(sandbox: Sandbox) -> None:
    with served(assessment_app(sandbox)) as (client, url):
        headers = [*auth().items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
        response = client.post(url, json=BODY, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_idempotency_key")
    assert response.json()["error"] == "Send one Idempotency-Key header, not several"


def test_any_printable_ascii_key_is_one_intent_of_its_own(sandbox: Sandbox) -> None:
    """One character, inner spaces, the ends of the printable range: each key is accepted
    and is its own intent (keys that differ never share an answer)."""
    keys = ["k", "my key 1", "a~b!", "Xk1X", "k1"]
    with served(assessment_app(sandbox)) as (client, url):
        first = [post(client, url, k) for k in keys]
        again = [post(client, url, k) for k in keys]
    assert [r.status_code for r in first + again] == [200] * 10
    assert ["idempotent-replayed" in r.headers for r in first] == [False] * 5
    assert [r.headers.get("idempotent-replayed") for r in again] == ["true"] * 5
    assert [r.json() for r in again] == [r.json() for r in first]
    assert sandbox.sessions() == 5


def test_a_255_character_key_is_accepted(sandbox: Sandbox) -> None:
    with served(assessment_app(sandbox)) as (client, url):
        k = "k" * 255
        assert post(client, url, k).status_code == 200
        assert post(client, url, k).headers["idempotent-replayed"] == "true"
    assert sandbox.sessions() == 1


def test_the_memory_store_keeps_at_most_the_configured_number_of_keys(sandbox: Sandbox) -> None:
    first, second, third = key(), key(), key()
    with served(assessment_app(sandbox, idempotency_max_keys=2)) as (client, url):
        for k in (first, second, third):
            assert post(client, url, k).status_code == 200
        assert post(client, url, third).headers["idempotent-replayed"] == "true"
        evicted = post(client, url, first)  # the least recently used key went first
    assert evicted.status_code == 200
    assert "idempotent-replayed" not in evicted.headers
    assert sandbox.sessions() == 4


def test_on_trio_the_memory_store_and_the_audit_hooks_work(sandbox: Sandbox) -> None:
    created: list[Any] = []
    reported = threading.Event()

    def on_created(event: Any) -> None:
        created.append(event)
        reported.set()

    app = assessment_app(sandbox, on_session_created=on_created)
    k = key()
    with served(app, server="hypercorn-trio") as (client, url):
        first = post(client, url, k)
        again = post(client, url, k)
        assert reported.wait(30)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert sandbox.sessions() == 1
    assert len(created) == 1


def test_on_trio_the_redis_store_says_it_needs_asyncio(sandbox: Sandbox, redis_url: str) -> None:
    with served(assessment_app(sandbox, redis_url=redis_url), server="hypercorn-trio") as (client, url):
        response = post(client, url, key())
    assert response.status_code == 500
    assert response.json() == {"success": False, "code": "not_configured",
                               "error": "The Redis idempotency store needs asyncio (redis.asyncio)"}
    assert sandbox.sessions() == 0


def test_a_recruiter_id_holding_a_lone_surrogate_is_served_with_a_key_and_without(
    sandbox: Sandbox, store: dict[str, str]
) -> None:
    """A signed `sub` may hold any JSON string, "\\ud800" included (not encodable as UTF-8):
    with an Idempotency-Key the request is served and replayed, as it is without one."""
    odd = _signed({"sub": "rec_\ud800", "email": "odd@hire.example",
                   "exp": int(time.time()) + 300})
    k = key()
    with served(assessment_app(sandbox, **store)) as (client, url):
        plain = post(client, url, None, token=odd)
        first = post(client, url, k, token=odd)
        again = post(client, url, k, token=odd)
    assert plain.status_code == first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


def _signed(claims: dict[str, Any]) -> str:
    """An HS256 JWT whose JSON escapes a lone surrogate (joserfc will not write one, but a
    recruiter's issuer may, and joserfc reads it)."""
    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing = part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(json.dumps(claims).encode())
    mac = hmac.new(JWT_SECRET.encode(), signing, hashlib.sha256).digest()
    return (signing + b"." + part(mac)).decode()


def test_a_recruiter_id_holding_a_lone_surrogate_is_counted_by_the_rate_limit(
    sandbox: Sandbox,
) -> None:
    odd = _signed({"sub": "rec_\ud800", "email": "odd@hire.example", "exp": int(time.time()) + 300})
    with served(assessment_app(sandbox, rate_limit="1/minute")) as (client, url):
        first = post(client, url, None, token=odd)
        second = post(client, url, None, token=odd)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.json()["code"] == "rate_limited"
