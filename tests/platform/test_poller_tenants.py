"""``TenantPoller`` against the real sandbox with one organisation per tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest

from assessment_asgi.platform import Credentials, Event, SmartAIClient, TenantPoller
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

TENANTS = ["acme", "globex", "initech"]


class Orgs:
    def __init__(self, app: SandboxApp, names: list[str]) -> None:
        self.app = app
        self.keys = {name: app.add_organisation() for name in names}

    def enqueue(self, tenant: str, *event_ids: str) -> None:
        for event_id in event_ids:
            event = {"eventId": event_id, "event": "assessment.completed", "candidateId": "c", "score": 80}
            self.app.enqueue(event, organisation=self.keys[tenant])

    def acked(self, tenant: str) -> list[str]:
        return self.app.acknowledged_events(organisation=self.keys[tenant])

    def pending(self, tenant: str) -> list[object]:
        return [e["eventId"] for e in self.app.pending_events(organisation=self.keys[tenant])]


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = SandboxApp()
    with serve(app) as url:
        yield app, url


@pytest.fixture
def orgs(sandbox: tuple[SandboxApp, str]) -> Orgs:
    return Orgs(sandbox[0], [*TENANTS, "hooli", "umbrella"])


@pytest.fixture
async def client(sandbox: tuple[SandboxApp, str]) -> AsyncIterator[SmartAIClient]:
    async with SmartAIClient(base_url=SandboxApp.platform_url(sandbox[1])) as client:  # no keys of its own
        yield client


async def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_each_tenant_is_polled_with_its_own_keys_and_handed_to_the_handler(
    orgs: Orgs, client: SmartAIClient
) -> None:
    for tenant in TENANTS:
        orgs.enqueue(tenant, f"{tenant}_1", f"{tenant}_2", "shared_id")  # one id in every queue
    seen: list[tuple[str, str]] = []

    async def on_result(tenant: str, event: Event) -> None:
        seen.append((tenant, event.event_id))

    keys = {t: orgs.keys[t] for t in TENANTS}
    async with TenantPoller(client, on_result, keys=keys, interval=5) as poller:
        await wait_until(lambda: all(orgs.pending(t) == [] for t in TENANTS))
        assert sorted(poller.tenants) == TENANTS
    for tenant in TENANTS:
        mine = sorted(event_id for t, event_id in seen if t == tenant)
        # Its own organisation's events only, the shared id de-duplicated per tenant, not across.
        assert mine == sorted([f"{tenant}_1", f"{tenant}_2", "shared_id"])
        assert sorted(orgs.acked(tenant)) == mine
        assert poller.report(tenant).acknowledged == 3
    assert orgs.pending("hooli") == []
    assert orgs.acked("hooli") == []  # a tenant not configured is never touched


@pytest.mark.anyio
async def test_a_failing_or_hanging_tenant_never_slows_the_others(
    orgs: Orgs, client: SmartAIClient, caplog: pytest.LogCaptureFixture
) -> None:
    for tenant in TENANTS:
        orgs.enqueue(tenant, f"{tenant}_1")

    async def keys(tenant: str) -> Credentials | None:
        if tenant == "hangs":
            await anyio.sleep(3600)
        if tenant == "broken":
            raise RuntimeError("the secrets manager is down")
        if tenant == "wrong":
            return Credentials("wc_ak_test_wrongkey", "wc_sk_test_wrongsecret")
        return orgs.keys.get(tenant)

    poller = TenantPoller(
        client, lambda t, e: None, keys=keys, tenants=["hangs", "broken", "wrong", "gone", *TENANTS],
        interval=5, max_concurrent=2, keys_timeout=30,
    )
    with anyio.fail_after(20):  # well inside keys_timeout: nothing waited for the hanging lookup
        async with poller:
            await wait_until(lambda: all(orgs.acked(t) == [f"{t}_1"] for t in TENANTS))
        # ... and stopping cut it short.
    assert "tenant hangs" not in caplog.text
    assert "tenant broken: its keys are unavailable (RuntimeError)" in caplog.text
    assert "tenant wrong: polling failed (SmartAIAuthError, status 401)" in caplog.text
    assert "tenant gone has no platform keys here" in caplog.text
    assert "wrongkey" not in caplog.text
    assert "wrongsecret" not in caplog.text


@pytest.mark.anyio
async def test_a_provider_with_get_and_tenants_is_read_per_tenant(orgs: Orgs, client: SmartAIClient) -> None:
    class Provider:  # shaped like TenantKeys: called per recruiter, get(tenant), tenants
        tenants = ("acme", "globex")

        async def __call__(self, recruiter: object) -> Credentials:
            raise AssertionError("the poller has no recruiter: it asks by tenant")

        async def get(self, tenant: str) -> Credentials | None:
            return orgs.keys.get(tenant)

    orgs.enqueue("acme", "a1")
    orgs.enqueue("globex", "g1")
    handled: list[tuple[str, str]] = []
    async with TenantPoller(client, lambda t, e: handled.append((t, e.event_id)), keys=Provider()) as poller:
        await wait_until(lambda: len(handled) == 2)
        assert sorted(poller.tenants) == ["acme", "globex"]
    assert sorted(handled) == [("acme", "a1"), ("globex", "g1")]


@pytest.mark.anyio
async def test_a_key_lookup_is_bounded_by_keys_timeout(
    orgs: Orgs, client: SmartAIClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def hangs(tenant: str) -> Credentials:
        await anyio.sleep(3600)
        raise AssertionError("unreachable")

    async with TenantPoller(client, lambda t, e: None, keys=hangs, tenants=["acme"], keys_timeout=0.2):
        await wait_until(lambda: "tenant acme: its keys are unavailable (TimeoutError)" in caplog.text)


@pytest.mark.anyio
async def test_turns_are_fair_and_bounded(orgs: Orgs, client: SmartAIClient) -> None:
    tenants = ["acme", "globex", "initech", "hooli", "umbrella"]
    for tenant in tenants:
        orgs.enqueue(tenant, *(f"{tenant}_{n}" for n in range(3)))
    order: list[str] = []
    running = peak = 0

    async def slow(tenant: str, event: Event) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        order.append(tenant)
        await anyio.sleep(0.05)
        running -= 1

    keys = {t: orgs.keys[t] for t in tenants}
    async with TenantPoller(client, slow, keys=keys, interval=5, limit=1, max_concurrent=2):
        await wait_until(lambda: len(order) == 15)
    assert peak == 2  # the global bound
    # One batch (here one event) per turn, earliest due first: nobody waits for another's
    # backlog. Two turns run at once, so handlers may finish one turn apart, never more.
    for end in range(1, 16):
        handled = [order[:end].count(t) for t in tenants]
        assert max(handled) - min(handled) <= 2, order[:end]


@pytest.mark.anyio
async def test_tenants_come_and_go_while_it_runs(orgs: Orgs, client: SmartAIClient) -> None:
    handled: list[tuple[str, str]] = []
    poller = TenantPoller(
        client, lambda t, e: handled.append((t, e.event_id)), keys=orgs.keys, tenants=["acme"], interval=5
    )
    orgs.enqueue("acme", "a1")
    orgs.enqueue("globex", "g1")
    async with poller:
        await wait_until(lambda: handled == [("acme", "a1")])
        poller.add("globex")
        await wait_until(lambda: ("globex", "g1") in handled)
        poller.remove("acme")
        orgs.enqueue("acme", "a2")
        orgs.enqueue("globex", "g2")
        await wait_until(lambda: ("globex", "g2") in handled, timeout=8)  # globex's next poll, 5 s on
        assert poller.tenants == ["globex"]
    assert ("acme", "a2") not in handled
    assert orgs.pending("acme") == ["a2"]


def test_configuration_is_checked(orgs: Orgs) -> None:
    client = SmartAIClient(base_url="http://127.0.0.1:9/api/v1")
    with pytest.raises(TypeError, match="keys"):
        TenantPoller(client, lambda t, e: None, keys="acme")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval must be at least 5"):
        TenantPoller(client, lambda t, e: None, keys=orgs.keys, interval=1)
    with pytest.raises(ValueError, match="max_concurrent"):
        TenantPoller(client, lambda t, e: None, keys=orgs.keys, max_concurrent=0)
    with pytest.raises(ValueError, match="lease_ttl"):
        TenantPoller(client, lambda t, e: None, keys=orgs.keys, interval=30, lease_ttl=10)
    with pytest.raises(ValueError, match="tenant"):
        TenantPoller(client, lambda t, e: None, keys=orgs.keys, tenants=["bad\nname"])
    poller = TenantPoller(client, lambda t, e: None, keys=orgs.keys)
    assert "wc_" not in repr(poller)
    assert sorted(poller.tenants) == sorted(orgs.keys)


# ── replicas sharing a real redis-server (asyncio: redis.asyncio) ──────────────


@pytest.mark.redis
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_two_supervisors_share_the_tenants_one_poller_per_queue(
    orgs: Orgs, client: SmartAIClient, redis_url: str
) -> None:
    for tenant in TENANTS:
        orgs.enqueue(tenant, *(f"{tenant}_{n}" for n in range(5)))
    handled: list[tuple[str, str, str]] = []

    def handler(replica: str) -> Callable[[str, Event], None]:
        return lambda tenant, event: handled.append((replica, tenant, event.event_id))

    prefix = f"test:{uuid.uuid4().hex}:"
    keys = {t: orgs.keys[t] for t in TENANTS}
    one = TenantPoller(client, handler("one"), keys=keys, interval=5, redis=redis_url, prefix=prefix)
    two = TenantPoller(client, handler("two"), keys=keys, interval=5, redis=redis_url, prefix=prefix)
    try:
        async with one, two:
            await wait_until(lambda: all(orgs.pending(t) == [] for t in TENANTS))
    finally:
        await one.aclose()
        await two.aclose()
    assert sorted(e for _, _, e in handled) == sorted(f"{t}_{n}" for t in TENANTS for n in range(5))
    for tenant in TENANTS:
        assert len({replica for replica, t, _ in handled if t == tenant}) == 1  # the lease holder
