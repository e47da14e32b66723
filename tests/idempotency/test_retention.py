"""Stored answers: kept no longer than the token is valid, in Redis under hashed names only."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from pathlib import Path

import redis.asyncio as redis_asyncio

from assessment_asgi import ERROR_CODES, openapi_document
from tests._features import assessment_app, running_sandbox, served
from tests._platform import USERS, auth


def test_a_token_that_has_already_expired_is_never_replayed(redis_url: str) -> None:
    # The sandbox's clock is an hour behind: the token it issues expired before it arrives.
    with running_sandbox(clock=lambda: time.time() - 3600, token_ttl=60) as sandbox:
        for store in ({}, {"redis_url": redis_url}):
            k = str(uuid.uuid4())
            with served(assessment_app(sandbox, **store)) as (client, url):
                first = client.post(url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": k})
                again = client.post(url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": k})
            assert first.status_code == again.status_code == 200
            assert "idempotent-replayed" not in again.headers
            assert again.json()["data"]["token"] != first.json()["data"]["token"]
        assert sandbox.sessions() == 4


def _stored(redis_url: str) -> dict[bytes, tuple[int, bytes]]:
    async def read() -> dict[bytes, tuple[int, bytes]]:
        client = redis_asyncio.Redis.from_url(redis_url)
        try:
            found = {}
            async for name in client.scan_iter(match="assessment_asgi:idem:*"):
                found[name] = (await client.pttl(name), await client.get(name))
            return found
        finally:
            await client.aclose()

    return asyncio.run(read())


def test_redis_holds_the_answer_under_a_hash_until_the_token_expires_at_the_latest(redis_url: str) -> None:
    k = "checkout-" + str(uuid.uuid4())
    with running_sandbox(token_ttl=120) as sandbox:
        with served(assessment_app(sandbox, redis_url=redis_url)) as (client, url):
            before = set(_stored(redis_url))
            response = client.post(url, json={"users": USERS}, headers={**auth(), "Idempotency-Key": k})
        assert response.status_code == 200
        (name,) = set(_stored(redis_url)) - before
        ttl_ms, _value = _stored(redis_url)[name]
    # 24 h retention, cut to the token's two minutes.
    assert 0 < ttl_ms <= 120_000
    # Neither the key nor the recruiter is readable in the name.
    assert k.encode() not in name
    assert b"rita" not in name
    assert b"rec_42" not in name


def test_the_openapi_document_describes_the_header_and_the_codes() -> None:
    operation = openapi_document()["paths"]["/session"]["post"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["in"] == "header"
    assert parameter["required"] is False
    assert parameter["schema"]["maxLength"] == 255
    assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
    assert "idempotency_key_in_flight" in operation["responses"]["409"]["description"]
    assert "idempotency_key_reused" in operation["responses"]["422"]["description"]
    assert "invalid_idempotency_key" in operation["responses"]["400"]["description"]
    assert ERROR_CODES["idempotency_key_in_flight"][0] == 409
    assert ERROR_CODES["idempotency_key_reused"][0] == 422


def test_every_error_code_has_its_row_in_the_readme_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", readme, re.M))
    assert {code: int(rows[code]) for code in ERROR_CODES if code in rows} == {
        code: status for code, (status, _) in ERROR_CODES.items()
    }
