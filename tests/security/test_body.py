"""Hostile bodies and transport abuse: each a clear 4xx, and nothing reaches the platform."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from tests._fake import USERS, FakePlatform

from .conftest import bearer, hs_token, make_app, mounted

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def url(_served_platform: tuple[FakePlatform, str]) -> Iterator[str]:
    app = make_app(_served_platform[1], rate_limit="", body_timeout=1.0, max_users=100)
    with mounted(app) as session_url:
        yield session_url


@pytest.fixture
def token() -> str:
    return hs_token()


def send_raw(client: httpx2.Client, url: str, token: str, content: bytes,
             content_type: str | None = "application/json") -> httpx2.Response:
    headers = bearer(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.post(url, content=content, headers=headers)


def assert_refused(response: httpx2.Response, platform: FakePlatform, status: int,
                   code: str | None = None) -> None:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["success"] is False
    if code is not None:
        assert payload["code"] == code
    assert platform.calls == []


def test_a_valid_body_is_accepted(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str
) -> None:
    response = send_raw(checked_client, url, token, json.dumps({"users": USERS}).encode())
    assert response.status_code == 200
    assert len(platform.calls) == 1


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/json-patch+json", "application/jsonx", "application/json; charset=latin-1",
     "application/json; charset=utf-16", "text/json"],
)
def test_wrong_or_missing_content_type(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str,
    content_type: str | None,
) -> None:
    response = send_raw(checked_client, url, token, json.dumps({"users": USERS}).encode(),
                        content_type)
    assert_refused(response, platform, 415, "unsupported_media_type")


INVALID_JSON = {
    "empty": b"",
    "truncated": b'{"users": [',
    "single quotes": b"{'users': []}",
    "trailing comma": b'{"users": [],}',
    "not utf-8": b'{"users": "\xff\xfe"}',
    "utf-16": json.dumps({"users": USERS}).encode("utf-16"),
    "NaN": b'{"users": NaN}',
    "Infinity": b'{"users": [{"name": "A", "email": "a@b.co", "x": Infinity}]}',
    "-Infinity": b'{"users": -Infinity}',
    # Numbers too large for a float: Python would read them as infinity, which JSON has not.
    "number overflowing to infinity": b'{"users": [{"name": "A", "email": "a@b.co", "x": 1e999}]}',
    "number overflowing to -infinity": b'{"users": -1e999}',
    "lone high surrogate": b'{"users": [{"name": "\\ud800", "email": "ada@example.com"}]}',
    "lone low surrogate": b'{"users": [{"name": "A\\udfff", "email": "ada@example.com"}]}',
    "deeply nested arrays": b'{"users": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    "deeply nested objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "duplicate top-level key": (
        b'{"users": [{"name": "A", "email": "a@example.com"}], '
        b'"users": [{"name": "B", "email": "b@example.com"}]}'
    ),
    "duplicate recruiterId": (
        b'{"users": [{"name": "A", "email": "a@example.com"}], '
        b'"recruiterId": "rec_42", "recruiterId": "rec_99"}'
    ),
    "duplicate candidate key": b'{"users": [{"name": "A", "name": "B", "email": "a@example.com"}]}',
    "two documents": b'{"users": []} {"users": []}',
    "comment": b'{"users": [] /* hi */}',
    "NUL byte": b'{"users": []}\x00',
}


@pytest.mark.parametrize("content", list(INVALID_JSON.values()), ids=list(INVALID_JSON))
def test_malformed_json(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str,
    content: bytes,
) -> None:
    assert_refused(send_raw(checked_client, url, token, content), platform, 400, "invalid_json")


BAD_BODIES: dict[str, Any] = {
    "array": [USERS],
    "string": "users",
    "number": 1,
    "null": None,
    "true": True,
    "users missing": {"candidates": USERS},
    "users an object": {"users": {"name": "A", "email": "a@example.com"}},
    "users a string": {"users": "ada@example.com"},
    "candidate a string": {"users": ["ada@example.com"]},
    "candidate null": {"users": [None]},
    "unknown top-level field": {"users": USERS, "callbackUrl": "https://evil.example"},
    "unknown candidate field": {"users": [{**USERS[0], "role": "admin"}]},
    "name missing": {"users": [{"email": "a@example.com"}]},
    "email missing": {"users": [{"name": "A"}]},
    "name a number": {"users": [{"name": 7, "email": "a@example.com"}]},
    "email a list": {"users": [{"name": "A", "email": ["a@example.com"]}]},
    "name blank": {"users": [{"name": "   ", "email": "a@example.com"}]},
    "name with CR/LF": {"users": [{"name": "Ada\r\nBcc: all@example.com", "email": "a@example.com"}]},
    "name with NUL": {"users": [{"name": "Ada\x00", "email": "a@example.com"}]},
    "name with line separator": {"users": [{"name": "Ada\u2028X", "email": "a@example.com"}]},
    "name too long": {"users": [{"name": "A" * 201, "email": "a@example.com"}]},
    "email too long": {"users": [{"name": "A", "email": "a" * 64 + "@" + "b" * 190 + ".com"}]},
    "recruiterId too long": {"users": USERS, "recruiterId": "r" * 129},
    "recruiterId with newline": {"users": USERS, "recruiterId": "rec_42\nX-Admin: 1"},
    "recruiterId a number": {"users": USERS, "recruiterId": 42},
    "recruiterEmail invalid": {"users": USERS, "recruiterEmail": "rita"},
}


@pytest.mark.parametrize("payload", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_invalid_bodies(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str, payload: Any
) -> None:
    response = send_raw(checked_client, url, token, json.dumps(payload).encode())
    assert_refused(response, platform, 400)
    assert response.json()["code"] in {"invalid_body", "users_required"}
    # Field errors never echo what was sent.
    assert "Bcc" not in response.text
    assert "evil.example" not in response.text


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com\r\nBcc: everyone@example.com",
        "ada@example.com\nX-Injected: 1",
        "ada@example.com\r",
        "ada@example.com, eve@example.com",
        "ada@example.com,eve@example.com",
        "ada@example.com;eve@example.com",
        "Ada <ada@example.com>",
        "<ada@example.com>",
        " ada@example.com",
        "ada@example.com ",
        "ada @example.com",
        "ada@example.com\x00",
        "ada@@example.com",
        "ada",
        "@example.com",
        "ada@",
        "",
    ],
)
def test_emails_with_line_breaks_commas_or_display_names(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str, email: str
) -> None:
    payload = {"users": [{"name": "Ada", "email": email}]}
    response = send_raw(checked_client, url, token, json.dumps(payload).encode())
    assert_refused(response, platform, 400, "invalid_body")
    assert response.json()["details"][0]["loc"] == ["users", 0, "email"]


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("\u200b\u200b", "must contain a visible character"),  # zero-width spaces
        ("\u2060", "must contain a visible character"),  # word joiner
        ("\ufeff\u200c\u200d", "must contain a visible character"),  # BOM, ZWNJ, ZWJ
        ("\u3164", "must contain a visible character"),  # Hangul filler: a blank "letter"
        ("\u0301", "must contain a visible character"),  # a combining accent on nothing
        *[(f"Ada{char}gpj.exe", "must not contain bidirectional override or isolate characters")
          for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"],
    ],
    ids=["zero-width-spaces", "word-joiner", "bom-zwnj-zwj", "hangul-filler", "lone-accent",
         "LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"],
)
def test_names_with_nothing_visible_or_with_bidi_controls(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str, name: str,
    rule: str,
) -> None:
    payload = {"users": [{"name": name, "email": "ada@example.com"}]}
    response = send_raw(checked_client, url, token, json.dumps(payload).encode())
    assert_refused(response, platform, 400, "invalid_body")
    assert response.json()["details"] == [
        {"loc": ["users", 0, "name"], "msg": rule, "type": "value_error"}
    ]


@pytest.mark.parametrize("name", ["Zoë Ångström", "李雷", "Jose\u0301", "محمد", "A\u200bB", "Ada 👩‍💻"])
def test_names_in_any_script_still_reach_the_platform(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str, name: str
) -> None:
    payload = {"users": [{"name": name, "email": "ada@example.com"}]}
    response = send_raw(checked_client, url, token, json.dumps(payload).encode())
    assert response.status_code == 200, response.text
    assert platform.calls[-1]["body"]["users"][0]["name"] == name


@pytest.mark.parametrize(
    "content_types",
    [("application/json", "text/plain"), ("text/plain", "application/json"),
     ("application/json", "application/json")],
    ids=["json-then-text", "text-then-json", "json-twice"],
)
def test_two_content_type_headers_are_refused(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str,
    content_types: tuple[str, str],
) -> None:
    headers = [*bearer(token).items(), *(("Content-Type", value) for value in content_types)]
    response = checked_client.post(url, content=json.dumps({"users": USERS}).encode(), headers=headers)
    assert_refused(response, platform, 400, "duplicate_content_type")
    assert response.json()["error"] == "Send exactly one Content-Type header"


def test_too_many_users(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str
) -> None:
    users = [{"name": f"C{i}", "email": f"c{i}@example.com"} for i in range(101)]
    response = send_raw(checked_client, url, token, json.dumps({"users": users}).encode())
    assert_refused(response, platform, 400, "too_many_users")


def test_empty_users(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str
) -> None:
    response = send_raw(checked_client, url, token, b'{"users": []}')
    assert_refused(response, platform, 400, "users_required")


def test_body_over_the_cap_with_content_length(
    checked_client: httpx2.Client, platform: FakePlatform, url: str, token: str
) -> None:
    users = [{"name": "N" * 150, "email": f"c{i}@example.com"} for i in range(500)]
    content = json.dumps({"users": users}).encode()
    assert len(content) > MAX_BODY
    assert_refused(send_raw(checked_client, url, token, content), platform, 413, "payload_too_large")


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The whole HTTP answer: status, headers (lower-case names) and its Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed without a complete answer: {data[:100]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "the server closed in the middle of its answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def _raw_request(url: str, token: str, head_extra: str, chunks: list[bytes]) -> tuple[int, Any]:
    """Send the head and ``chunks`` (stopping early if the server has answered); the status and
    JSON answer. The chunks stop right after the limit is crossed, so the server has read all
    that was sent when it answers and hangs up: a clean close, never a reset."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=15) as sock:
        head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"{head_extra}\r\n"
        )
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered already
            sock.sendall(chunk)
        status, _, body = _read_answer(sock)
        return status, json.loads(body)


def _chunked(sizes: list[int]) -> list[bytes]:
    return [f"{size:x}\r\n".encode() + b" " * size + b"\r\n" for size in sizes]


def test_body_over_the_cap_without_content_length(
    platform: FakePlatform, url: str, token: str
) -> None:
    # One chunk one byte over the cap, no terminating chunk: nothing left unread.
    status, answer = _raw_request(url, token, "Transfer-Encoding: chunked\r\n", _chunked([MAX_BODY + 1]))
    assert status == 413
    assert answer["code"] == "payload_too_large"
    assert platform.calls == []


def test_a_streamed_body_is_counted_not_trusted(platform: FakePlatform, url: str, token: str) -> None:
    # Nothing declared, then small chunks until just past the cap: refused while streaming.
    sizes = [10_000] * (MAX_BODY // 10_000 + 1)
    assert sum(sizes) > MAX_BODY
    status, answer = _raw_request(url, token, "Transfer-Encoding: chunked\r\n", _chunked(sizes))
    assert status == 413
    assert answer["code"] == "payload_too_large"
    assert platform.calls == []


def test_a_slowly_trickled_body_is_cut_off(platform: FakePlatform, url: str, token: str) -> None:
    """One byte every 0.2 s of a declared 500-byte body: a 408 answer, then the server hangs up."""
    _trickle_is_cut_off(platform, url, token)


def test_a_slowly_trickled_body_is_cut_off_on_trio(
    platform_url: str, platform: FakePlatform, token: str
) -> None:
    """The slow-body deadline is asyncio's own timeout on asyncio, anyio's on trio: both hold."""
    app = make_app(platform_url, rate_limit="", body_timeout=1.0, max_users=100)
    with mounted(app, server="hypercorn-trio") as trio_url:
        _trickle_is_cut_off(platform, trio_url, token)


def _trickle_is_cut_off(platform: FakePlatform, url: str, token: str) -> None:
    parts = urlsplit(url)
    body = json.dumps({"users": USERS}).encode().ljust(500)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=15) as sock:
        sock.sendall(
            (
                f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
        )
        give_up = time.monotonic() + 15  # a bound on the test, not a timing assertion
        for byte in body:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                break  # the server answered: read it below
            sock.sendall(bytes([byte]))
            assert time.monotonic() < give_up, "the server kept waiting for the trickled body"
        else:
            pytest.fail("the whole body was trickled in without the server cutting it off")
        status, headers, content = _read_answer(sock)
    assert status == 408
    assert json.loads(content)["code"] == "request_timeout"
    assert headers["connection"] == "close"
    assert platform.calls == []


def test_an_empty_chunked_body_sent_after_its_headers_is_answered_at_once_on_hypercorn(
    platform_url: str, platform: FakePlatform, token: str
) -> None:
    """hypercorn (asyncio) hands the body to the app through a queue that wakes one waiting
    ``receive()`` per message: the call that was already waiting when the body came must be
    the one that is awaited. An empty chunked body is a single message there (its end), so a
    lost wake-up would leave the client waiting for a 408 instead of the empty-body 400.

    A raw socket: the test decides when the body goes out (after the headers, once the app
    waits for it), which an HTTP client does not let a caller choose."""
    app = make_app(platform_url, rate_limit="", body_timeout=1.0, max_users=100)
    with mounted(app, server="hypercorn") as hypercorn_url:
        parts = urlsplit(hypercorn_url)
        with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=15) as sock:
            sock.sendall(
                (
                    f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                ).encode()
            )
            # Give the app the time to start waiting for the body (not a timing assertion).
            readable, _, _ = select.select([sock], [], [], 0.3)
            assert not readable, "the server answered before the body was sent"
            sock.sendall(b"0\r\n\r\n")
            status, _, content = _read_answer(sock)
    assert (status, json.loads(content)) == (
        400, {"success": False, "error": "The request body is empty", "code": "invalid_json"}
    )
    assert platform.calls == []
