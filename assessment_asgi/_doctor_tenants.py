"""The doctor's check of `ASSESSMENT_TENANT_KEYS_FILE`: every tenant's keys, by a read call.

Tenants are named, keys never. Findings are `(status, message, fix)` triples (`_doctor`
makes them lines), so this module needs nothing of the doctor's.
"""

from __future__ import annotations

from typing import Literal

import anyio

from ._exceptions import ConfigurationError
from ._tenants import TenantKeys
from .platform import Credentials, SmartAIAuthError, SmartAIClient, SmartAIError

SETTING = "ASSESSMENT_TENANT_KEYS_FILE"
_AT_ONCE = 8  # read calls in flight at once: a file of many tenants is no burst
_NAMED = 20  # tenants named in one line at most

Triple = tuple[Literal["ok", "warn", "FAIL", "info"], str, str]


def check_tenant_keys(path: str, url: str, *, timeout: float, reach: bool) -> list[Triple]:
    """Parse the file; with `reach`, ask the platform at `url` with each tenant's keys."""
    try:
        keys = TenantKeys.from_file(path, setting=SETTING)
    except ConfigurationError as exc:
        return [("FAIL", str(exc), f"correct the file {SETTING} names (see docs/tenants.md)")]
    tenants = anyio.run(_pairs, keys)
    mixed = sorted(t for t, c in tenants.items() if _mode(c) is None)
    findings: list[Triple] = [("ok", f"{SETTING}: {len(tenants)} tenant(s)", "")]
    if mixed:
        findings.append(("FAIL", f"tenants with a test key paired with a live key: {_names(mixed)}",
                         "give each tenant both keys of the same environment"))
    if not reach or not tenants:
        return findings
    results = anyio.run(_verify, url, tenants, timeout)
    refused = sorted(t for t, r in results.items() if r == "refused")
    unsure = sorted(t for t, r in results.items() if r not in {"ok", "refused"})
    if refused:
        findings.append(("FAIL", f"the platform refused the keys of {len(refused)} tenant(s): "
                         f"{_names(refused)}", f"copy those tenants' keys again into {SETTING}"))
    if unsure:
        findings.append(("warn", f"could not verify the keys of {len(unsure)} tenant(s): "
                         f"{_names(unsure)}", "check the platform's status, then run doctor again"))
    if not refused and not unsure:
        findings.append(("ok", f"the platform accepted the keys of all {len(tenants)} tenant(s) "
                         "(signed read-only calls)", ""))
    return findings


async def _pairs(keys: TenantKeys) -> dict[str, Credentials]:
    pairs = {tenant: await keys.get(tenant) for tenant in keys.tenants}
    return {tenant: pair for tenant, pair in pairs.items() if pair is not None}


async def _verify(url: str, tenants: dict[str, Credentials], timeout: float) -> dict[str, str]:
    results: dict[str, str] = {}
    limit = anyio.Semaphore(_AT_ONCE)
    async with SmartAIClient(base_url=url, timeout=timeout, retry=1) as client:

        async def one(tenant: str, credentials: Credentials) -> None:
            async with limit:
                try:
                    await client.list_assessments(credentials=credentials)
                except SmartAIAuthError:
                    results[tenant] = "refused"
                except SmartAIError as exc:
                    results[tenant] = type(exc).__name__
                else:
                    results[tenant] = "ok"

        async with anyio.create_task_group() as group:
            for tenant, credentials in tenants.items():
                group.start_soon(one, tenant, credentials)
    return results


def _mode(credentials: Credentials) -> str | None:
    api, secret = (k.get_secret_value() for k in (credentials.api_key, credentials.secret_key))
    api_test, secret_test = api.startswith("wc_ak_test_"), secret.startswith("wc_sk_test_")
    return None if api_test != secret_test else ("test" if api_test else "live")


def _names(tenants: list[str]) -> str:
    shown = ", ".join(repr(t) for t in tenants[:_NAMED])
    return shown + (f" and {len(tenants) - _NAMED} more" if len(tenants) > _NAMED else "")
