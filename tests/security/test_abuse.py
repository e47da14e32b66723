"""Impersonation and abuse: recruiter mismatch 403, per-recruiter rate limits (memory and a
real Redis), and the cap on concurrent platform calls."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assessment_asgi import AssessmentApp, ConfigurationError, Credentials, Recruiter
from assessment_asgi._exceptions import HTTPException
from assessment_asgi._ratelimit import PlatformCallLimiter, RecruiterRateLimiter
from assessment_asgi._ratestore import BoundedMemoryStorage
from tests._fake import STANDIN_TOKEN, USERS, FakePlatform
from tests._servers import Server, free_port, serve

from .conftest import API_KEY, SECRET_KEY, assert_clean, bearer, body, hs_token, make_app, mounted

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
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
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
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str, strategy: str
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


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
def test_every_item_of_a_limit_counts_in_memory(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str, strategy: str
) -> None:
    # The hour's budget runs out before the minute's: its window sets Retry-After.
    app = make_app(platform_url, rate_limit="5/minute;3/hour", rate_limit_strategy=strategy)
    token = hs_token()
    with mounted(app) as url:
        responses = _burst(checked_client, url, token, 4)
        other = checked_client.post(
            url, json=body(), headers=bearer(hs_token(sub="rec_7", email="bob@hire.example"))
        )
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[3].json()["code"] == "rate_limited"
    assert 60 < int(responses[3].headers["retry-after"]) <= 3600
    assert other.status_code == 200
    assert len(platform.calls) == 4


def test_refused_requests_do_not_spend_the_budget(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str
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
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
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
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str, fresh_redis: str
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
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str, fresh_redis: str,
    strategy: str,
) -> None:
    app = make_app(platform_url, rate_limit="2/minute", redis_url=fresh_redis,
                   rate_limit_strategy=strategy)
    with mounted(app) as url:
        responses = _burst(checked_client, url, hs_token(), 3)
    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert_rate_limited(responses[2])


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_the_budget_belongs_to_the_recruiters_id_not_to_the_email(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str,
    request: pytest.FixtureRequest, backend: str,
) -> None:
    shared = {} if backend == "memory" else {"redis_url": request.getfixturevalue("fresh_redis")}
    app = make_app(platform_url, rate_limit="2/minute", **shared)
    rita = hs_token(sub="rec_42", email="team@hire.example")
    colleague = hs_token(sub="rec_43", email="team@hire.example")  # the same shared mailbox
    with mounted(app) as url:
        assert [r.status_code for r in _burst(checked_client, url, rita, 2)] == [200, 200]
        # Two recruiters sharing an email have a budget each.
        assert [r.status_code for r in _burst(checked_client, url, colleague, 2)] == [200, 200]
        assert_rate_limited(checked_client.post(url, json=body(), headers=bearer(colleague)))
        # A recruiter whose email changed keeps the budget already spent.
        renamed = hs_token(sub="rec_42", email="rita.new@hire.example")
        assert_rate_limited(checked_client.post(url, json=body(), headers=bearer(renamed)))
    assert len(platform.calls) == 4


@pytest.mark.redis
def test_with_redis_the_limit_answers_while_every_worker_thread_is_busy(
    platform: FakePlatform, platform_url: str, fresh_redis: str
) -> None:
    """The Redis hit runs on the event loop: a busy thread pool (sync hooks) never delays it."""
    from starlette.routing import Mount

    entered, release, calls = threading.Event(), threading.Event(), []

    def keys() -> Credentials:  # a sync hook: the second call holds the server's only thread
        calls.append(1)
        if len(calls) == 2:
            entered.set()
            assert release.wait(30)
        return Credentials(API_KEY, SECRET_KEY)

    app = make_app(platform_url, rate_limit="1/minute", redis_url=fresh_redis, keys=keys,
                   api_key=None, secret_key=None)

    @contextlib.asynccontextmanager
    async def one_thread(host: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        async with app.lifespan(host):
            yield

    rita, bob = hs_token(), hs_token(sub="rec_7", email="bob@hire.example")
    host = Starlette(routes=[Mount("/assessment", app=app)], lifespan=one_thread)
    with serve(host) as base, httpx2.Client(timeout=30) as client:
        url = f"{base}/assessment/session"
        assert client.post(url, json=body(), headers=bearer(rita)).status_code == 200
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            held = pool.submit(client.post, url, json=body(), headers=bearer(bob))
            try:
                assert entered.wait(30)
                # Refused at once: not queued behind the held thread (5 s is a generous bound).
                over = client.post(url, json=body(), headers=bearer(rita), timeout=5)
            finally:
                release.set()
            assert held.result(30).status_code == 200
    assert_rate_limited(over)


def test_unreachable_redis_fails_closed_without_leaking_its_password(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str
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


class HeldPlatform:
    """A platform whose session calls wait until the test lets them go (bounded to 20 s)."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()

    def app(self) -> Starlette:
        async def sessions(request: Request) -> Response:
            self.calls += 1
            await anyio.to_thread.run_sync(self.release.wait, 20)
            return JSONResponse(
                {"success": True, "data": {"token": STANDIN_TOKEN, "expiresAt": "2030-01-01T00:00:00Z"}}
            )

        return Starlette(routes=[Route("/api/v1/sessions", sessions, methods=["POST"])])


def test_a_slow_platform_cannot_exhaust_the_host() -> None:
    held = HeldPlatform()
    with serve(held.app()) as platform_base:
        app = make_app(f"{platform_base}/api/v1", max_concurrent_calls=2, queue_timeout=0.2)
        with mounted(app) as url, concurrent.futures.ThreadPoolExecutor(6) as pool:
            client = httpx2.Client(timeout=30, limits=httpx2.Limits(max_connections=6))

            def one(i: int) -> httpx2.Response:
                token = hs_token(sub=f"rec_{i}", email=f"r{i}@hire.example")
                return client.post(url, json={"users": USERS[:1]}, headers=bearer(token))

            futures = [pool.submit(one, i) for i in range(6)]
            try:
                # Two calls hold both slots until released: the other four must be refused.
                deadline = time.monotonic() + 20
                while sum(f.done() for f in futures) < 4 and time.monotonic() < deadline:
                    pending = [f for f in futures if not f.done()]
                    concurrent.futures.wait(pending, timeout=1, return_when="FIRST_COMPLETED")
                refused = [f.result() for f in futures if f.done()]
            finally:
                held.release.set()
            responses = [f.result(timeout=20) for f in futures]
            client.close()
    assert [r.status_code for r in refused] == [503] * 4
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503, 503]
    for response in responses:
        assert_clean(response.text, allow_session_token=response.status_code == 200)
        if response.status_code == 503:
            assert response.json()["code"] == "service_unavailable"
            assert response.headers["retry-after"] == "1"
    assert held.calls == 2  # the refused ones never reached the platform


def test_requests_over_the_cap_wait_their_turn_within_the_bound(
    platform: FakePlatform, platform_url: str
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
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str, fresh_redis: str,
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


@pytest.mark.redis
def test_a_concurrent_burst_through_redis_gets_exactly_its_budget(
    platform: FakePlatform, platform_url: str, fresh_redis: str
) -> None:
    # Hits arriving together leave in one pipeline: each still gets its own, exact answer.
    app = make_app(platform_url, rate_limit="5/minute", redis_url=fresh_redis)
    tokens = [hs_token(sub=f"rec_{i % 2}", email=f"r{i % 2}@hire.example") for i in range(24)]
    with mounted(app) as url, httpx2.Client(
        timeout=30, limits=httpx2.Limits(max_connections=24)
    ) as client, concurrent.futures.ThreadPoolExecutor(24) as pool:
        responses = list(pool.map(
            lambda token: client.post(url, json=body(), headers=bearer(token)), tokens
        ))
    for recruiter in (0, 1):
        mine = responses[recruiter::2]
        assert sorted(r.status_code for r in mine) == [200] * 5 + [429] * 7
    assert len(platform.calls) == 10


@pytest.mark.redis
@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
def test_replicas_on_asyncio_and_on_trio_share_one_budget_through_redis(
    checked_client: httpx2.Client, platform: FakePlatform, platform_url: str, fresh_redis: str,
    strategy: str,
) -> None:
    on_asyncio = make_app(platform_url, rate_limit="3/minute;50/hour", redis_url=fresh_redis,
                          rate_limit_strategy=strategy)
    on_trio = make_app(platform_url, rate_limit="3/minute;50/hour", redis_url=fresh_redis,
                       rate_limit_strategy=strategy)
    token = hs_token()
    with mounted(on_asyncio) as url_a, mounted(on_trio, server="hypercorn-trio") as url_t:
        statuses = [r.status_code for r in _burst(checked_client, url_a, token, 2)]
        statuses += [r.status_code for r in _burst(checked_client, url_t, token, 1)]
        assert statuses == [200, 200, 200]
        assert_rate_limited(checked_client.post(url_t, json=body(), headers=bearer(token)))
        assert_rate_limited(checked_client.post(url_a, json=body(), headers=bearer(token)))
    assert len(platform.calls) == 3


@pytest.mark.anyio
async def test_the_call_cap_frees_its_slots_on_asyncio_and_trio() -> None:
    limiter = PlatformCallLimiter(max_concurrent=2, queue_timeout=0.05)
    async with limiter.slot(), limiter.slot():
        assert limiter.in_use == 2
        with pytest.raises(HTTPException) as info:
            async with limiter.slot():
                pytest.fail("a third slot was handed out")
        assert info.value.status_code == 503
        assert info.value.headers == {"Retry-After": "1"}
    assert limiter.in_use == 0
    with pytest.raises(RuntimeError, match="platform failed"):
        async with limiter.slot():
            raise RuntimeError("platform failed")
    assert limiter.in_use == 0  # a failing call gives its slot back


def on_a_test_clock(
    limit: str, strategy: str, start: float
) -> tuple[RecruiterRateLimiter, BoundedMemoryStorage, list[float]]:
    """A limiter whose in-memory storage reads `now[0]`: minutes pass without the test waiting."""
    limiter = RecruiterRateLimiter(limit=limit, strategy=strategy)  # type: ignore[arg-type]
    storage = limiter._get_limiter().storage
    assert isinstance(storage, BoundedMemoryStorage)
    now = [start]
    storage.clock = lambda: now[0]
    return limiter, storage, now


async def check_status(limiter: RecruiterRateLimiter, recruiter: str) -> int:
    """The status the limiter gives one request of `recruiter`: 200, or its refusal's."""
    try:
        await limiter.check(Recruiter(id=recruiter))
    except HTTPException as problem:
        return problem.status_code
    return 200


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
def test_an_idle_recruiter_costs_no_memory_once_the_window_has_passed(strategy: str) -> None:
    limiter, storage, now = on_a_test_clock("30/minute", strategy, 1_900_000_000.0)

    async def one_each(ids: range) -> None:
        for i in ids:
            await limiter.check(Recruiter(id=f"rec_{i}"))

    anyio.run(one_each, range(50_000))
    assert storage.expire() == 50_000
    now[0] += 61
    assert storage.expire() == 0  # back to nothing: no entry left per recruiter ever seen

    async def thirty_one() -> list[int]:
        return [await check_status(limiter, "rec_1") for _ in range(31)]

    assert anyio.run(thirty_one) == [200] * 30 + [429]  # and the limit still holds afterwards


@pytest.mark.timeout(10)  # the sweep that went round in circles never returned: fail, not hang
@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
def test_a_request_at_the_very_instant_a_window_ends_is_answered(strategy: str) -> None:
    """A clock reading exactly one window after a recruiter's hit (under steady load one comes
    sooner or later; a benchmark run met one in its third round) used to send the expiry sweep
    round in circles: the hit was still counted, so its key was put back due at that same
    instant, for ever. The server's event loop then spun at full CPU and answered nobody."""
    limiter, storage, now = on_a_test_clock("1/minute", strategy, 1_900_000_000.25)
    assert anyio.run(check_status, limiter, "rec_1") == 200
    now[0] += 60  # exactly the hit plus the window, as a float: the instant it ends
    assert anyio.run(check_status, limiter, "rec_2") == 200  # answered: the sweep came back
    if strategy == "moving-window":
        # `limits`' rule: the instant a window ends is still inside it.
        assert anyio.run(check_status, limiter, "rec_1") == 429
    now[0] += 1e-6
    assert storage.expire() == 1  # rec_1's window has passed and its key is gone; rec_2's is left
    assert anyio.run(check_status, limiter, "rec_1") == 200
