"""Per-recruiter limits and idempotency keys are per tenant: ``rec_1`` of acme and ``rec_1`` of
globex are two recruiters, in memory and in a shared redis-server alike."""

from __future__ import annotations

import uuid

import pytest

from assessment_asgi import Credentials, Recruiter
from tests._fake import USERS
from tests._features import Sandbox, served

from .conftest import ACME, tenant_app, tenant_token


def one_account(recruiter: Recruiter) -> Credentials:
    """Every tenant on the sandbox's one account: what differs is only the scope."""
    return ACME


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "memory":
        return {}
    return {"redis_url": request.getfixturevalue("redis_url")}


def test_the_same_recruiter_id_in_two_tenants_has_two_rate_limit_budgets(
    sandbox: Sandbox, store: dict[str, str]
) -> None:
    # A fresh recruiter id per run: the redis-server is shared by the whole session.
    rec = f"rec_{uuid.uuid4().hex[:8]}"
    acme, globex = tenant_token("acme", sub=rec), tenant_token("globex", sub=rec)
    app = tenant_app(sandbox, keys=one_account, rate_limit="2/minute", **store)
    with served(app) as (client, url):
        acme_codes = [client.post(url, json={"users": USERS}, headers=acme).status_code
                      for _ in range(3)]
        globex_codes = [client.post(url, json={"users": USERS}, headers=globex).status_code
                        for _ in range(3)]
        other_tenant = client.post(url, json={"users": USERS},
                                   headers=tenant_token("initech", sub=rec))
    assert acme_codes == [200, 200, 429]
    assert globex_codes == [200, 200, 429]  # acme's spent budget is not globex's
    assert other_tenant.status_code == 200
    assert sandbox.sessions() == 5


def test_an_idempotency_key_never_replays_across_tenants(
    sandbox: Sandbox, store: dict[str, str]
) -> None:
    rec, key = f"rec_{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    app = tenant_app(sandbox, keys=one_account, **store)

    def post(tenant: str) -> tuple[int, str | None, str]:
        response = client.post(url, json={"users": USERS},
                               headers={**tenant_token(tenant, sub=rec), "Idempotency-Key": key})
        return (response.status_code, response.headers.get("idempotent-replayed"),
                response.json()["data"]["token"])

    with served(app) as (client, url):
        acme_first, globex_first = post("acme"), post("globex")
        acme_again, globex_again = post("acme"), post("globex")
    assert (acme_first[:2], globex_first[:2]) == ((200, None), (200, None))
    assert acme_first[2] != globex_first[2]  # two sessions, one per tenant
    assert acme_again == (200, "true", acme_first[2])  # each replays its own answer
    assert globex_again == (200, "true", globex_first[2])
    assert sandbox.sessions() == 2
