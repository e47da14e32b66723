"""The key provider: with the recruiter or without, and what its failures answer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from typing import Any

import pytest

from assessment_asgi import AssessmentApp, Credentials, HTTPException, Recruiter, TenantKeys
from tests._fake import JWT_SECRET, USERS, auth
from tests._features import Sandbox, served

from .conftest import ACME, assert_no_key, tenant_app, tenant_token


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.levelname} {r.getMessage()}" for r in caplog.records)


class Keys:
    """A provider object taking the recruiter (its ``__call__`` has one parameter)."""

    def __init__(self) -> None:
        self.asked: list[Recruiter] = []

    def __call__(self, recruiter: Recruiter) -> Credentials | None:
        self.asked.append(recruiter)
        return ACME if recruiter.tenant == "acme" else None


async def async_keys(recruiter: Recruiter) -> Credentials | None:
    return ACME if recruiter.tenant == "acme" else None


def zero() -> Credentials:
    return ACME


async def async_zero() -> Credentials:
    return ACME


def with_default(recruiter: Recruiter | None = None) -> Credentials | None:
    return ACME if recruiter is not None and recruiter.tenant == "acme" else None


@pytest.mark.parametrize(
    "provider",
    [Keys(), async_keys, with_default, functools.partial(lambda prefix, r: async_keys(r), "x")],
    ids=["sync object", "async function", "optional parameter", "partial"],
)
def test_a_provider_taking_the_recruiter_picks_the_tenants_keys(sandbox: Sandbox, provider: Any) -> None:
    with served(tenant_app(sandbox, keys=provider)) as (client, url):
        acme = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
        other = client.post(url, json={"users": USERS}, headers=tenant_token("initech"))
    assert acme.status_code == 200
    assert (other.status_code, other.json()["code"]) == (403, "tenant_unknown")
    assert sandbox.sessions() == 1


@pytest.mark.parametrize("provider", [zero, async_zero], ids=["sync", "async"])
def test_a_provider_without_arguments_keeps_working_with_tenants(sandbox: Sandbox, provider: Any) -> None:
    with served(tenant_app(sandbox, keys=provider)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
    assert response.status_code == 200


def test_the_signature_is_read_once_when_the_app_is_built(sandbox: Sandbox) -> None:
    """A provider needing two arguments is refused at construction, not on a request."""

    def two(recruiter: Recruiter, extra: str) -> Credentials:
        return ACME

    def keyword_only(*, recruiter: Recruiter) -> Credentials:
        return ACME

    for provider in (two, keyword_only):
        with pytest.raises(TypeError, match="no argument, or one: the recruiter"):
            AssessmentApp(jwt_secret=JWT_SECRET, keys=provider)


def test_an_unknown_tenant_is_403_and_nothing_reaches_the_platform(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with served(tenant_app(sandbox, keys=TenantKeys({"acme": ACME}))) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token("initech"))
    assert response.status_code == 403
    assert response.json() == {
        "success": False, "code": "tenant_unknown",
        "error": "This organisation has no assessment platform account here",
    }
    assert sandbox.app.recorder.requests == []
    assert "no platform keys for tenant 'initech'" in _logged(caplog)


def test_no_keys_and_no_tenant_is_still_500_not_configured(sandbox: Sandbox) -> None:
    app = AssessmentApp(base_url=sandbox.platform_url, jwt_secret=JWT_SECRET, keys=Keys())
    with served(app) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=auth())
    assert (response.status_code, response.json()["code"]) == (500, "not_configured")
    assert sandbox.app.recorder.requests == []


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_provider_that_raises_is_503_with_retry_after_and_no_traceback(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, sync: bool
) -> None:
    from .conftest import GLOBEX_SECRET

    def broken(recruiter: Recruiter) -> Credentials:
        raise ConnectionError("vault refused the token for " + GLOBEX_SECRET)

    async def async_broken(recruiter: Recruiter) -> Credentials:
        return broken(recruiter)

    with served(tenant_app(sandbox, keys=broken if sync else async_broken)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
    assert response.status_code == 503
    assert response.json() == {
        "success": False, "code": "keys_unavailable",
        "error": "The platform keys could not be loaded; try again shortly",
    }
    assert response.headers["retry-after"] == "5"
    assert "Traceback" not in response.text
    logged = _logged(caplog)
    assert "the keys provider failed: ConnectionError" in logged
    assert "ConnectionError: (message withheld: it may quote secrets)" in logged
    assert_no_key(logged)
    assert sandbox.app.recorder.requests == []


def test_a_hanging_async_provider_is_503_within_the_bound(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    async def hanging(recruiter: Recruiter) -> Credentials:
        await asyncio.sleep(60)
        return ACME

    app = tenant_app(sandbox, keys=hanging, keys_timeout=0.5)
    with served(app) as (client, url):
        started = time.monotonic()
        response = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
        took = time.monotonic() - started
    assert (response.status_code, response.json()["code"]) == (503, "keys_unavailable")
    assert response.headers["retry-after"] == "1"
    assert 0.5 <= took < 5
    assert "did not answer within 0.5s (ASSESSMENT_KEYS_TIMEOUT)" in _logged(caplog)
    assert sandbox.app.recorder.requests == []


def test_a_hanging_sync_provider_does_not_hold_the_request(sandbox: Sandbox) -> None:
    """A sync provider stuck on I/O in its worker thread is abandoned at the bound."""
    release = threading.Event()

    def stuck(recruiter: Recruiter) -> Credentials:
        release.wait(30)
        return ACME

    app = tenant_app(sandbox, keys=stuck, keys_timeout=0.5)
    try:
        with served(app) as (client, url):
            started = time.monotonic()
            response = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
            took = time.monotonic() - started
    finally:
        release.set()
    assert (response.status_code, response.json()["code"]) == (503, "keys_unavailable")
    assert took < 5
    assert sandbox.app.recorder.requests == []


def test_a_provider_may_still_answer_with_its_own_problem(sandbox: Sandbox) -> None:
    def keys(recruiter: Recruiter) -> Credentials:
        raise HTTPException("tenant_unknown", "Ask your administrator to connect SmartAI")

    with served(tenant_app(sandbox, keys=keys)) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
    assert (response.status_code, response.json()["error"]) == (
        403, "Ask your administrator to connect SmartAI")


def test_the_bound_is_a_checked_setting() -> None:
    from assessment_asgi import ConfigurationError

    for bad in (0, -1, 61):
        with pytest.raises(ConfigurationError) as info:
            AssessmentApp(jwt_secret=JWT_SECRET, keys_timeout=bad)
        assert info.value.setting == "ASSESSMENT_KEYS_TIMEOUT"
    assert AssessmentApp(jwt_secret=JWT_SECRET).settings.keys_timeout == 5.0


def test_a_wrong_return_type_is_a_bug_500(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    with served(tenant_app(sandbox, keys=lambda r: "wc_ak_test_x")) as (client, url):
        response = client.post(url, json={"users": USERS}, headers=tenant_token("acme"))
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    assert "TypeError" in _logged(caplog)


def test_a_failing_or_hanging_loader_never_reaches_the_platform(sandbox: Sandbox) -> None:
    """Many requests for a tenant whose load hangs: one load, every request 503 at the bound."""

    loads: list[str] = []

    async def loader(tenant: str) -> Credentials | None:
        loads.append(tenant)
        if tenant == "hanging":
            await asyncio.sleep(60)
        raise ConnectionError("the secrets manager is down")

    app = tenant_app(sandbox, keys=TenantKeys(loader=loader), keys_timeout=2.0)
    with served(app) as (client, url):
        def post(tenant: str) -> Any:
            return client.post(url, json={"users": USERS}, headers=tenant_token(tenant))

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            started = time.monotonic()
            hanging = list(pool.map(post, ["hanging"] * 8))
            took = time.monotonic() - started
        failing = [post("failing"), post("failing")]
    for response in hanging + failing:
        assert (response.status_code, response.json()["code"]) == (503, "keys_unavailable")
        assert response.headers["retry-after"] == "2"
    assert took < 6
    assert loads.count("hanging") == 1  # the others waited for that one load
    assert loads.count("failing") == 2  # a failure is not cached: each request tries again
    assert sandbox.app.recorder.requests == []


@pytest.mark.anyio
async def test_the_bound_holds_on_asyncio_and_trio() -> None:
    """The app's key call on either event loop: a hanging async or sync provider is cut off."""
    import anyio

    from assessment_asgi._keys import KeyCaller

    release = threading.Event()

    async def hanging(recruiter: Recruiter) -> Credentials:
        await anyio.sleep(60)
        return ACME

    def stuck(recruiter: Recruiter) -> Credentials:
        release.wait(30)
        return ACME

    recruiter = Recruiter(id="rec_1", tenant="acme")
    try:
        for provider in (hanging, stuck):
            call = KeyCaller(provider, timeout=0.3, secrets=list)
            with anyio.fail_after(5), pytest.raises(HTTPException) as info:
                await call(recruiter)
            assert (info.value.code, info.value.headers) == ("keys_unavailable", {"Retry-After": "1"})
    finally:
        release.set()
    assert await KeyCaller(TenantKeys({"acme": ACME}), timeout=0.3, secrets=list)(recruiter) is ACME
