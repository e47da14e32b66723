"""Impersonation and abuse: recruiter mismatch 403, per-recruiter rate limits (memory and a
real Redis), and the cap on concurrent platform calls."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import anyio
import httpx2
import pytest

from assessment_asgi import AssessmentApp, ConfigurationError, Recruiter
from assessment_asgi._ratelimit import PlatformCallLimiter, RecruiterRateLimiter
from assessment_asgi._responses import HTTPProblem
from tests._platform import USERS, PlatformStandIn
from tests._servers import Server, free_port

from .conftest import assert_clean, bearer, body, hs_token, make_app, mounted

# -- impersonation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "token_claims"),
    [
        ({"recruiterId": "rec_99"}, {}),
        ({"recruiterId": "REC_42"}, {}),
        ({"recruiterId": "rec_\uff14\uff12"}, {}),  # full-width digits that look the same
        ({"recruiterId": "rec_42 "}, {"sub": "rec_4"}),
        ({"recruiterEmail": "ceo@hire.example"}, {}),
        ({"recruiterEmail": "rita@hire.example.evil"}, {}),
        ({"recruiterId": "rec_42", "recruiterEmail": "ceo@hire.example"}, {}),
        ({"recruiterEmail": "rita@hire.example"}, {"email": None}),
        ({"recruiterId": "rec_42"}, {"sub": None}),
    ],
    ids=lambda v: str(v)[:40],
)
def test_a_recruiter_cannot_act_in_another_recruiters_name(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str,
    extra: dict[str, str], token_claims: dict[str, Any],
) -> None:
    with mounted(make_app(platform_url)) as url:
        response = checked_client.post(
            url, json=body(**extra), headers=bearer(hs_token(**token_claims))
        )
    assert response.status_code == 403
    assert response.json()["code"] == "recruiter_mismatch"
    assert platform.calls == []


# -- per-recruiter rate limits ----------------------------------------------------------------


def _burst(client: httpx2.Client, url: str, token: str, count: int) -> list[httpx2.Response]:
    return [client.post(url, json=body(), headers=bearer(token)) for _ in range(count)]


def assert_rate_limited(response: httpx2.Response) -> None:
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
def test_per_recruiter_rate_limit_in_memory(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str, strategy: str
) -> None:
    app = make_app(platform_url, rate_limit="3/minute", rate_limit_strategy=strategy)
    rita, bob = hs_token(), hs_token(sub="rec_7", email="bob@hire.example")
    with mounted(app) as url:
        responses = _burst(checked_client, url, rita, 5)
        assert [r.status_code for r in responses[:3]] == [200, 200, 200]
        for response in responses[3:]:
            assert_rate_limited(response)
        # Another recruiter has a budget of their own.
        assert checked_client.post(url, json=body(), headers=bearer(bob)).status_code == 200
    assert len(platform.calls) == 4  # nothing over the limit was forwarded


def test_refused_requests_do_not_spend_the_budget(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str
) -> None:
    app = make_app(platform_url, rate_limit="2/minute")
    token = hs_token()
    with mounted(app) as url:
        for _ in range(5):
            bad = checked_client.post(url, json={"users": []}, headers=bearer(token))
            assert bad.status_code == 400
        statuses = [r.status_code for r in _burst(checked_client, url, token, 3)]
    assert statuses == [200, 200, 429]


def test_the_default_limit_is_30_per_minute(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ASSESSMENT_RATE_LIMIT", raising=False)
    app = make_app(platform_url)
    assert repr(app.rate_limiter) == (
        "RecruiterRateLimiter(limit='30/minute', strategy='moving-window', backend='memory')"
    )
    with mounted(app) as url:
        statuses = [r.status_code for r in _burst(checked_client, url, hs_token(), 31)]
    assert statuses == [200] * 30 + [429]


def test_rate_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_RATE_LIMIT", "5/second;100/hour")
    monkeypatch.setenv("ASSESSMENT_RATE_LIMIT_STRATEGY", "fixed-window")
    app = AssessmentApp(jwt_secret="x" * 32)
    assert app.rate_limiter is not None
    assert [str(i) for i in app.rate_limiter.items] == ["5 per 1 second", "100 per 1 hour"]
    assert app.rate_limiter.strategy == "fixed-window"
    monkeypatch.setenv("ASSESSMENT_RATE_LIMIT", "")
    assert AssessmentApp(jwt_secret="x" * 32).rate_limiter is None


@pytest.mark.parametrize("limit", ["lots", "0/minute", "30/fortnight", "-1/second", "30 per"])
def test_invalid_rate_limits_are_refused_at_construction(limit: str) -> None:
    with pytest.raises(ConfigurationError, match="ASSESSMENT_RATE_LIMIT"):
        AssessmentApp(jwt_secret="x" * 32, rate_limit=limit)


def test_invalid_strategy_or_storage_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="ASSESSMENT_RATE_LIMIT_STRATEGY"):
        AssessmentApp(jwt_secret="x" * 32, rate_limit_strategy="leaky-bucket")
    with pytest.raises(ConfigurationError, match="ASSESSMENT_REDIS_URL"):
        AssessmentApp(jwt_secret="x" * 32, redis_url="http://127.0.0.1:6379")


@pytest.mark.redis
def test_replicas_share_one_budget_through_redis(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str, fresh_redis: str
) -> None:
    import redis

    replica_a = make_app(platform_url, rate_limit="3/minute", redis_url=fresh_redis)
    replica_b = make_app(platform_url, rate_limit="3/minute", redis_url=fresh_redis)
    assert replica_a.rate_limiter is not None
    assert replica_a.rate_limiter.backend == "redis"
    token = hs_token()
    with mounted(replica_a) as url_a, mounted(replica_b) as url_b:
        statuses = [r.status_code for r in _burst(checked_client, url_a, token, 2)]
        statuses += [r.status_code for r in _burst(checked_client, url_b, token, 1)]
        assert statuses == [200, 200, 200]
        assert_rate_limited(checked_client.post(url_b, json=body(), headers=bearer(token)))
        assert_rate_limited(checked_client.post(url_a, json=body(), headers=bearer(token)))
        other = hs_token(sub="rec_7", email="bob@hire.example")
        assert checked_client.post(url_b, json=body(), headers=bearer(other)).status_code == 200
    assert len(platform.calls) == 4
    client = redis.Redis.from_url(fresh_redis)
    keys = [k.decode() for k in client.keys("*")]
    client.close()
    assert keys
    assert all(k.startswith("assessment_asgi") for k in keys)
    # Opaque keys: no recruiter id or email (personal data) is written to Redis.
    assert not any("rec_42" in k or "rita" in k or "hire.example" in k for k in keys)


@pytest.mark.redis
@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
def test_redis_strategies_limit_per_recruiter(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str, fresh_redis: str,
    strategy: str,
) -> None:
    app = make_app(platform_url, rate_limit="2/minute", redis_url=fresh_redis,
                   rate_limit_strategy=strategy)
    with mounted(app) as url:
        responses = _burst(checked_client, url, hs_token(), 3)
    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert_rate_limited(responses[2])


def test_unreachable_redis_fails_closed_without_leaking_its_password(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str
) -> None:
    password = "CANARY-REDIS-PASSWORD-5e1"
    redis_url = f"redis://:{password}@127.0.0.1:{free_port()}/0"  # nothing listens there
    app = make_app(platform_url, redis_url=redis_url)
    with mounted(app) as url:
        response = checked_client.post(url, json=body(), headers=bearer(hs_token()))
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert platform.calls == []
    for text in (repr(app), repr(app.rate_limiter), repr(app.settings), str(app.settings),
                 response.text, str(response.headers)):
        assert password not in text


# -- the cap on concurrent platform calls -----------------------------------------------------


def _concurrent(url: str, count: int) -> list[httpx2.Response]:
    limits = httpx2.Limits(max_connections=count)
    with httpx2.Client(timeout=30, limits=limits) as client:

        def one(i: int) -> httpx2.Response:
            token = hs_token(sub=f"rec_{i}", email=f"r{i}@hire.example")
            return client.post(url, json={"users": USERS[:1]}, headers=bearer(token))

        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, range(count)))


def test_a_slow_platform_cannot_exhaust_the_host(
    platform: PlatformStandIn, platform_url: str
) -> None:
    platform.mode, platform.delay = "slow", 2.0
    app = make_app(platform_url, max_concurrent_calls=2, queue_timeout=0.2)
    with mounted(app) as url:
        responses = _concurrent(url, 6)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503, 503]
    for response in responses:
        assert_clean(response.text, allow_session_token=response.status_code == 200)
        if response.status_code == 503:
            assert response.json()["code"] == "service_unavailable"
            assert response.headers["retry-after"] == "1"
    assert len(platform.calls) == 2  # the refused ones never reached the platform


def test_requests_over_the_cap_wait_their_turn_within_the_bound(
    platform: PlatformStandIn, platform_url: str
) -> None:
    platform.mode, platform.delay = "slow", 0.2
    app = make_app(platform_url, max_concurrent_calls=1, queue_timeout=20)
    with mounted(app) as url:
        responses = _concurrent(url, 4)
    assert [r.status_code for r in responses] == [200] * 4
    assert len(platform.calls) == 4


@pytest.mark.parametrize(("setting", "value"), [("max_concurrent_calls", 0),
                                                ("queue_timeout", -1)])
def test_invalid_concurrency_settings_are_refused(setting: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"ASSESSMENT_{setting.upper()}") as info:
        AssessmentApp(jwt_secret="x" * 32, **{setting: value})
    assert info.value.setting == f"ASSESSMENT_{setting.upper()}"


@pytest.mark.redis
@pytest.mark.parametrize("server", ["hypercorn", "hypercorn-trio"])
def test_limits_hold_on_asyncio_and_trio_servers(
    checked_client: httpx2.Client, platform: PlatformStandIn, platform_url: str, fresh_redis: str,
    server: Server,
) -> None:
    memory = make_app(platform_url, rate_limit="2/minute", max_concurrent_calls=1)
    shared = make_app(platform_url, rate_limit="2/minute", redis_url=fresh_redis)
    token = hs_token()
    for app in (memory, shared):
        with mounted(app, server=server) as url:
            statuses = [r.status_code for r in _burst(checked_client, url, token, 3)]
        assert statuses == [200, 200, 429]
    assert len(platform.calls) == 4


@pytest.mark.anyio
async def test_the_call_cap_frees_its_slots_on_asyncio_and_trio() -> None:
    limiter = PlatformCallLimiter(max_concurrent=2, queue_timeout=0.05)
    async with limiter.slot(), limiter.slot():
        assert limiter.in_use == 2
        with pytest.raises(HTTPProblem) as info:
            async with limiter.slot():
                pytest.fail("a third slot was handed out")
        assert info.value.status == 503
        assert info.value.headers == {"Retry-After": "1"}
    assert limiter.in_use == 0
    with pytest.raises(RuntimeError, match="platform failed"):
        async with limiter.slot():
            raise RuntimeError("platform failed")
    assert limiter.in_use == 0  # a failing call gives its slot back


def test_memory_counts_are_not_swept_on_every_hit() -> None:
    """Stock ``limits`` re-arms a sweep of every key 10 ms after each hit; ours waits 5 s.

    This pins the override in ``_ratelimit.py`` against a ``limits`` upgrade that renames the
    method it replaces: the stock storage would start several sweeps during this burst.
    """
    limiter = RecruiterRateLimiter(limit="1000/minute")
    storage = limiter._get_limiter().storage
    first_timer = storage.timer  # type: ignore[attr-defined]

    async def burst() -> None:
        for i in range(40):
            await limiter.check(Recruiter(id=f"rec_{i}"))
            await anyio.sleep(0.003)

    anyio.run(burst)
    assert storage.timer is first_timer  # type: ignore[attr-defined]


def test_expired_memory_counts_are_freed_by_the_background_sweep() -> None:
    limiter = RecruiterRateLimiter(limit="5/second")
    storage = limiter._get_limiter().storage
    storage.sweep_interval = 0.0  # type: ignore[attr-defined]

    async def hits(ids: range) -> None:
        for i in ids:
            await limiter.check(Recruiter(id=f"rec_{i}"))

    def entries() -> int:
        return sum(len(events) for events in storage.events.values())  # type: ignore[attr-defined]

    anyio.run(hits, range(20))
    assert entries() == 20
    time.sleep(1.1)  # every count is now older than its one-second window
    anyio.run(hits, range(20, 21))  # a hit re-arms the sweep
    storage.timer.join(5)  # type: ignore[attr-defined]
    assert entries() == 1
