"""Shared by the multi-tenant tests: tenants, their canary keys, tokens naming a tenant, and an
app on the real sandbox (over loopback) that reads the tenant from the ``org_id`` claim."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assessment_asgi import AssessmentApp, Credentials, TenantKeys
from tests._fake import API_KEY, CANARIES, SECRET_KEY, make_token
from tests._features import Sandbox, assessment_app, running_sandbox

#: acme's keys are the ones the sandbox accepts; globex's are canaries of their own.
GLOBEX_API = "wc_ak_test_CANARY-GLOBEX-API-KEY-3c9d"
GLOBEX_SECRET = "wc_sk_test_CANARY-GLOBEX-SECRET-KEY-e41a"
ACME = Credentials(API_KEY, SECRET_KEY)
GLOBEX = Credentials(GLOBEX_API, GLOBEX_SECRET)
TENANT_CANARIES = (*CANARIES, GLOBEX_API, GLOBEX_SECRET)
CLAIM = "org_id"


def tenant_token(tenant: Any = "acme", **claims: Any) -> dict[str, str]:
    """Authorization header of a recruiter token naming ``tenant`` (``None``: no claim)."""
    return {"Authorization": f"Bearer {make_token(**{CLAIM: tenant, **claims})}"}


def tenant_app(sandbox: Sandbox, **kwargs: Any) -> AssessmentApp:
    """An app on the sandbox reading the tenant from ``org_id``; acme and globex have keys."""
    kwargs.setdefault("tenant_claim", CLAIM)
    kwargs.setdefault("keys", TenantKeys({"acme": ACME, "globex": GLOBEX}))
    return assessment_app(sandbox, **kwargs)


def assert_no_key(text: str) -> None:
    for canary in TENANT_CANARIES:
        assert canary not in text, f"canary {canary[:16]}… leaked"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(record_requests=1000) as running:
        yield running
