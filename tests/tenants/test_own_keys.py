"""Each tenant's session reaches the platform with that tenant's own keys: two organisations on
one real sandbox, one ``AssessmentApp`` in front, keys from ``ASSESSMENT_TENANT_KEYS_FILE``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx2
import pytest

from assessment_asgi import AssessmentApp, ConfigurationError, Credentials, TenantKeys
from tests._fake import JWT_SECRET
from tests._features import Sandbox, served

from .conftest import ACME, CLAIM, GLOBEX, tenant_app, tenant_token

ADA = {"name": "Ada Lovelace", "email": "ada@acme.example"}
ALAN = {"name": "Alan Turing", "email": "alan@globex.example"}


def write_file(path: Path, keys: dict[str, Credentials], mtime: float) -> None:
    path.write_text(json.dumps({
        tenant: {"api_key": c.api_key.get_secret_value(), "secret_key": c.secret_key.get_secret_value()}
        for tenant, c in keys.items()
    }))
    os.utime(path, (mtime, mtime))


def finish(sandbox: Sandbox, token: str) -> None:
    """Open the portal with the session token and complete it (an event in its queue)."""
    opened = httpx2.post(f"{sandbox.url}/portal/open", json={"token": token}).json()["data"]
    candidate = opened["candidates"][0]
    done = httpx2.post(f"{sandbox.url}/portal/complete", json={
        "assessmentId": opened["assessmentId"], "candidateId": candidate["id"],
        "candidateKey": candidate["key"], "score": 80,
    })
    assert done.status_code == 200, done.text


def emails(sandbox: Sandbox, organisation: Credentials) -> list[str]:
    return [e["candidateEmail"] for e in sandbox.app.pending_events(organisation=organisation)]


def test_each_tenants_session_is_created_on_its_own_organisation(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.app.add_organisation(GLOBEX)  # acme is the sandbox's own organisation
    file = tmp_path / "tenants.json"
    write_file(file, {"acme": ACME, "globex": GLOBEX}, mtime=1_000_000)
    monkeypatch.setenv("ASSESSMENT_TENANT_KEYS_FILE", str(file))
    monkeypatch.setenv("ASSESSMENT_TENANT_CLAIM", CLAIM)
    app = AssessmentApp(base_url=sandbox.platform_url, jwt_secret=JWT_SECRET)
    assert isinstance(app.keys, TenantKeys)
    with served(app) as (client, url):
        acme = client.post(url, json={"users": [ADA]}, headers=tenant_token("acme"))
        globex = client.post(url, json={"users": [ALAN]}, headers=tenant_token("globex"))
        unknown = client.post(url, json={"users": [ADA]}, headers=tenant_token("initech"))
    assert (acme.status_code, globex.status_code) == (200, 200)
    assert (unknown.status_code, unknown.json()["code"]) == (403, "tenant_unknown")
    sent = [r.headers["x-api-key"] for r in sandbox.app.recorder.to("/sessions", method="POST")]
    assert sent == [ACME.api_key.get_secret_value(), GLOBEX.api_key.get_secret_value()]
    finish(sandbox, acme.json()["data"]["token"])
    finish(sandbox, globex.json()["data"]["token"])
    # Each organisation's queue holds its own candidate's result, and only that.
    assert emails(sandbox, ACME) == [ADA["email"]]
    assert emails(sandbox, GLOBEX) == [ALAN["email"]]


def test_rotating_a_tenants_keys_in_the_file_needs_no_restart(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "tenants.toml"
    file.write_text(f'[globex]\napi_key = "{ACME.api_key.get_secret_value()}"\n'
                    f'secret_key = "{ACME.secret_key.get_secret_value()}"\n')
    os.utime(file, (1_000_000, 1_000_000))
    monkeypatch.setenv("ASSESSMENT_TENANT_KEYS_FILE", str(file))
    app = tenant_app(sandbox, keys=None)
    with served(app) as (client, url):
        before = client.post(url, json={"users": [ALAN]}, headers=tenant_token("globex"))
        # globex moves to an account of its own: its new keys go in the file.
        sandbox.app.add_organisation(GLOBEX)
        file.write_text(f'[globex]\napi_key = "{GLOBEX.api_key.get_secret_value()}"\n'
                        f'secret_key = "{GLOBEX.secret_key.get_secret_value()}"\n')
        os.utime(file, (1_000_100, 1_000_100))
        time.sleep(1.1)  # the file is looked at once a second
        after = client.post(url, json={"users": [ALAN]}, headers=tenant_token("globex"))
    assert (before.status_code, after.status_code) == (200, 200)
    sent = [r.headers["x-api-key"] for r in sandbox.app.recorder.to("/sessions", method="POST")]
    assert sent == [ACME.api_key.get_secret_value(), GLOBEX.api_key.get_secret_value()]


def test_the_file_setting_is_checked_when_the_app_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESSMENT_TENANT_KEYS_FILE", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigurationError) as info:
        AssessmentApp(jwt_secret=JWT_SECRET)
    assert info.value.setting == "ASSESSMENT_TENANT_KEYS_FILE"
    assert "cannot read it" in str(info.value)
    file = tmp_path / "tenants.json"
    write_file(file, {"acme": ACME}, mtime=1_000_000)
    monkeypatch.setenv("ASSESSMENT_TENANT_KEYS_FILE", str(file))
    for keys in ({"keys": ACME}, {"api_key": "wc_ak_test_x", "secret_key": "wc_sk_test_x"}):
        with pytest.raises(ConfigurationError, match="give one key source") as info:
            AssessmentApp(jwt_secret=JWT_SECRET, **keys)  # type: ignore[arg-type]
        assert info.value.setting == "ASSESSMENT_TENANT_KEYS_FILE"
