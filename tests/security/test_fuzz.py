"""Fuzzing: schemathesis against the served OpenAPI document, hypothesis on the body model
and on the signing canonicaliser.

Schemathesis drives the app in-process (ASGI) with the platform stand-in behind it:
positive cases must never be a server error, negative cases (anything the document
forbids) must be refused with a 4xx and must not reach the platform.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection
from starlette.applications import Starlette
from starlette.routing import Mount

from assessment_asgi import SessionRequest
from assessment_asgi._email import MAX_EMAIL_LENGTH
from assessment_asgi._models import MAX_NAME_LENGTH
from assessment_asgi._types import ASGIApp, Receive, Scope, Send
from assessment_asgi.platform._signing import canonical_json, signature
from tests._fake import FakePlatform

from .conftest import assert_clean, bearer, hs_token, make_app

FUZZ = settings(
    max_examples=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def host(_served_platform: tuple[FakePlatform, str]) -> ASGIApp:
    app = make_app(_served_platform[1], rate_limit="", max_users=20)
    starlette = Starlette(routes=[Mount("/assessment", app=app)])

    async def one_loop_per_request(scope: Scope, receive: Receive, send: Send) -> None:
        # Schemathesis runs each in-process request on a fresh event loop: close the
        # platform pool before that loop goes away.
        try:
            await starlette(scope, receive, send)
        finally:
            await app.aclose()

    return one_loop_per_request


@pytest.fixture(scope="module")
def operation(host: ASGIApp) -> Any:
    schema = schemathesis.openapi.from_asgi("/assessment/openapi.json", host)
    return schema["/session"]["POST"]


def _body_is_negative(case: Any) -> bool:
    component = case.meta.components.get(ParameterLocation.BODY)
    return component is not None and component.mode == GenerationMode.NEGATIVE


def _run(operation: Any, platform: FakePlatform, mode: GenerationMode) -> set[int]:
    token = hs_token()
    statuses: set[int] = set()

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        before = len(platform.calls)
        headers = bearer(token)
        if mode == GenerationMode.NEGATIVE and not _body_is_negative(case):
            # The mutation is in the headers (the bearer token itself): send it as generated.
            headers = {}
        response = case.call(headers=headers)
        statuses.add(response.status_code)
        assert_clean(response.text, allow_session_token=response.status_code == 200)
        checks = [not_a_server_error]
        if mode == GenerationMode.NEGATIVE:
            checks.append(negative_data_rejection)
        case.validate_response(response, checks=checks, headers=headers)
        if response.status_code != 200:
            assert len(platform.calls) == before  # refused input never reached the platform

    fuzz()
    return statuses


def test_schemathesis_positive_cases_never_fail_the_server(
    operation: Any, platform: FakePlatform
) -> None:
    statuses = _run(operation, platform, GenerationMode.POSITIVE)
    assert 200 in statuses  # the fuzzer did get through to the platform


def test_schemathesis_negative_cases_are_all_refused(
    operation: Any, platform: FakePlatform
) -> None:
    statuses = _run(operation, platform, GenerationMode.NEGATIVE)
    assert statuses
    assert all(400 <= s < 500 for s in statuses)


# -- hypothesis: the body model -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                        max_size=4),
    max_leaves=12,
)
names = st.text(min_size=1, max_size=MAX_NAME_LENGTH + 20)
emails = st.one_of(
    st.emails(),
    st.text(max_size=40),
    st.builds(lambda e, junk: e + junk, st.emails(),
              st.sampled_from(["\r\n", "\n", ",", ";", " ", "<", ">", "\x00"])),
)


@FUZZ
@given(users=st.lists(st.fixed_dictionaries({"name": names, "email": emails}), max_size=5),
       extra=st.dictionaries(st.text(max_size=12), json_values, max_size=2))
def test_session_request_accepts_only_clean_candidates(
    users: list[dict[str, str]], extra: dict[str, Any]
) -> None:
    data = {"users": users, **extra}
    try:
        request = SessionRequest.model_validate(data)
    except ValidationError as exc:
        # Refusals never echo the submitted values: the messages the app sends as details
        # (see AssessmentApp._validate) must not quote a candidate's name or email. Values of
        # 12+ characters only, so a short value that happens to be a word of a message is not
        # taken for an echo.
        messages = [d["msg"] for d in exc.errors(include_url=False, include_input=False)]
        assert messages
        submitted = {value for user in users for value in user.values() if len(value.strip()) >= 12}
        echoed = {value for value in submitted for message in messages if value.strip() in message}
        assert not echoed
        return
    assert set(extra) <= {"recruiterId", "recruiterEmail"}
    for candidate in request.users:
        assert 1 <= len(candidate.name) <= MAX_NAME_LENGTH
        assert candidate.name == candidate.name.strip()
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in candidate.name)
        assert len(candidate.email) <= MAX_EMAIL_LENGTH
        assert candidate.email.count("@") == 1
        assert not any(c in candidate.email for c in "\r\n,;<> \x00")
    # What is forwarded serialises to JSON and back unchanged.
    dumped = request.model_dump(by_alias=True, exclude_none=True)
    assert SessionRequest.model_validate(json.loads(json.dumps(dumped))) == request


@FUZZ
@given(data=json_values)
def test_session_request_never_crashes_on_arbitrary_json(data: Any) -> None:
    with contextlib.suppress(ValidationError):
        SessionRequest.model_validate(data)


# -- hypothesis: the signing canonicaliser ----------------------------------------------------

finite_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=16),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)


def _shuffled(value: Any, seed: int) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        items = items[seed % len(items):] + items[: seed % len(items)] if items else items
        return {k: _shuffled(v, seed + 1) for k, v in reversed(items)}
    if isinstance(value, list):
        return [_shuffled(v, seed + 1) for v in value]
    return value


@FUZZ
@given(body=finite_json, seed=st.integers(min_value=0, max_value=50))
def test_canonical_json_is_stable_ascii_and_round_trips(body: Any, seed: int) -> None:
    encoded = canonical_json(body)
    assert encoded == canonical_json(_shuffled(body, seed))  # key order does not matter
    assert encoded.isascii()
    assert b"\n" not in encoded
    assert json.loads(encoded) == body  # the bytes sent mean exactly the body
    assert canonical_json(json.loads(encoded)) == encoded  # idempotent


@FUZZ
@given(value=st.sampled_from([math.nan, math.inf, -math.inf]), path=st.lists(st.text(max_size=4), max_size=3))
def test_canonical_json_refuses_non_finite_numbers(value: float, path: list[str]) -> None:
    body: Any = value
    for key in path:
        body = {key: body}
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json(body)


@FUZZ
@given(secret=st.text(min_size=1, max_size=40), method=st.sampled_from(["post", "GET", "Post"]),
       path=st.text(max_size=30), timestamp=st.integers(min_value=0, max_value=2**40).map(str),
       body=finite_json)
def test_signature_is_hmac_sha256_of_the_canonical_bytes(
    secret: str, method: str, path: str, timestamp: str, body: Any
) -> None:
    sent = canonical_json(body)
    sig = signature(secret, method, path, timestamp, sent)
    message = f"{method.upper()}:{path}:{timestamp}:".encode() + sent
    assert sig == hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    assert len(sig) == 64
    assert sig == sig.lower()
    assume(len(sent) > 2)
    # Any change to the bytes sent changes the signature.
    assert signature(secret, method, path, timestamp, sent + b" ") != sig
