"""Durations have one rule everywhere (finite, above 0; 0 only where it means "none"), back-off
one formula, and the deadline helper both modes, on asyncio and trio."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from assessment_asgi import ConfigurationError
from assessment_asgi._compat import deadline, fail_after
from assessment_asgi._jwks import JWKSCache
from assessment_asgi._seconds import backoff
from assessment_asgi.platform import (
    Credentials,
    MemoryDedupStore,
    ResultsPoller,
    RetryPolicy,
    SmartAIClient,
    Timeout,
)
from assessment_asgi.sandbox import SandboxApp

CLIENT = SmartAIClient(base_url="http://127.0.0.1:9/api/v1",
                       credentials=Credentials("wc_ak_test_durations", "wc_sk_test_durations"))


def _poller(**options: Any) -> ResultsPoller:
    return ResultsPoller(CLIENT, lambda event: None, **options)


#: Each duration parameter, built with a given value, and the name its error must carry.
DURATIONS: dict[str, Callable[[Any], object]] = {
    "timeout.connect": lambda v: Timeout(connect=v),
    "timeout.read": lambda v: Timeout(read=v),
    "timeout.deadline": lambda v: Timeout(deadline=v),
    "retry.backoff": lambda v: RetryPolicy(backoff=v),
    "retry.max_backoff": lambda v: RetryPolicy(max_backoff=v),
    "retry.max_retry_after": lambda v: RetryPolicy(max_retry_after=v),
    "claim_ttl": lambda v: MemoryDedupStore(claim_ttl=v),
    "done_ttl": lambda v: MemoryDedupStore(done_ttl=v),
    "interval": lambda v: _poller(interval=v),
    "max_backoff": lambda v: _poller(max_backoff=v),
    "stop_timeout": lambda v: _poller(stop_timeout=v),
    "handler_timeout": lambda v: _poller(handler_timeout=v),
    "token_ttl": lambda v: SandboxApp(token_ttl=v),
    "event_ttl": lambda v: SandboxApp(event_ttl=v),
    "session_retention": lambda v: SandboxApp(session_retention=v),
    "signature_window": lambda v: SandboxApp(signature_window=v),
    "min_poll_interval": lambda v: SandboxApp(min_poll_interval=v),
    "campaign_delay": lambda v: SandboxApp(campaign_delay=v),
    "max_age": lambda v: JWKSCache(jwks_url="https://keys.example/jwks", max_age=v),
    "max_stale": lambda v: JWKSCache(jwks_url="https://keys.example/jwks", max_stale=v),
    "min_refresh_interval": lambda v: JWKSCache(jwks_url="https://keys.example/jwks",
                                                min_refresh_interval=v),
}
#: Where 0 means "none" (no delay, no minimum, no caching): accepted.
ZERO_MEANS_NONE = {"min_poll_interval", "campaign_delay", "max_age", "max_stale",
                   "min_refresh_interval"}
#: The key cache is configuration: every refusal is a ConfigurationError naming the setting.
CONFIGURATION = {"max_age", "max_stale", "min_refresh_interval"}


def _refusal(name: str, kind: type[Exception]) -> type[Exception]:
    return ConfigurationError if name in CONFIGURATION else kind


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, -1, -0.001, 10**400],
                         ids=["inf", "-inf", "nan", "-1", "-0.001", "huge-int"])
@pytest.mark.parametrize("name", list(DURATIONS))
def test_every_duration_refuses_nan_infinity_and_negatives_by_name(name: str, bad: float) -> None:
    error = _refusal(name, TypeError if bad == 10**400 else ValueError)
    with pytest.raises(error, match=rf"^{name} must be"):
        DURATIONS[name](bad)


@pytest.mark.parametrize("name", list(DURATIONS))
def test_zero_is_refused_unless_it_means_none(name: str) -> None:
    if name in ZERO_MEANS_NONE:
        DURATIONS[name](0)
    else:
        with pytest.raises(ValueError, match=rf"^{name} must be"):
            DURATIONS[name](0)


@pytest.mark.parametrize("name", list(DURATIONS))
def test_a_duration_is_a_number_not_a_bool_or_a_string(name: str) -> None:
    for bad in (True, "30", None if name != "handler_timeout" else []):  # None: no handler timeout
        with pytest.raises(_refusal(name, TypeError), match=rf"^{name} must be a number of seconds"):
            DURATIONS[name](bad)


def test_infinite_ttl_and_infinite_timeout_follow_the_same_rule() -> None:
    """Once ``MemoryDedupStore(claim_ttl=inf)`` was accepted while ``Timeout(read=inf)`` was not."""
    for build in (lambda: MemoryDedupStore(claim_ttl=math.inf), lambda: Timeout(read=math.inf)):
        with pytest.raises(ValueError, match="must be a finite number of seconds > 0, got inf"):
            build()


def test_the_key_cache_names_its_setting_in_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="max_stale must be a finite number") as caught:
        JWKSCache(jwks_url="https://keys.example/jwks", max_stale=math.inf)
    assert caught.value.setting == "max_stale"


def test_the_poller_keeps_its_minimum_interval() -> None:
    with pytest.raises(ValueError, match=r"interval must be at least 5 seconds, got 4\.5"):
        _poller(interval=4.5)
    assert _poller(interval=5).interval == 5.0


def test_backoff_grows_with_full_jitter_up_to_its_cap_and_never_below_its_floor() -> None:
    for failures, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (60, 0.5)):
        waits = [backoff(failures, base=0.1, cap=0.5) for _ in range(2000)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling * 0.9  # the whole range is used
        assert min(waits) < ceiling * 0.1
    floored = [backoff(3, base=5, cap=300, floor=5) for _ in range(2000)]
    assert min(floored) == 5
    assert 18 < max(floored) <= 20


def test_the_client_and_the_poller_wait_by_that_formula() -> None:
    policy = RetryPolicy(backoff=0.1, max_backoff=0.3)
    assert all(0 <= policy.delay(3) <= 0.3 for _ in range(500))  # type: ignore[operator]
    assert policy.delay(1, retry_after=2.0) == 2.0
    poller = _poller(interval=5, max_backoff=60)
    waits = [poller._backoff(4) for _ in range(2000)]
    assert min(waits) == 5
    assert 39 < max(waits) <= 40


@pytest.mark.anyio
async def test_the_deadline_raises_or_moves_on() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with fail_after(0.05):
            await anyio.sleep(10)
    reached_end = False
    async with deadline(0.05, move_on=True):
        await anyio.sleep(10)
        reached_end = True
    assert not reached_end
    assert time.monotonic() - started < 5


@pytest.mark.anyio
async def test_the_deadline_never_swallows_the_blocks_own_timeout_error() -> None:
    with pytest.raises(TimeoutError, match="mine"):
        async with deadline(10, move_on=True):
            raise TimeoutError("mine")
    async with deadline(10, move_on=True):
        await anyio.lowlevel.checkpoint()  # finishing in time is no error either
