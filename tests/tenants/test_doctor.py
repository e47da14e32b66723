"""``python -m assessment_asgi doctor`` with ``ASSESSMENT_TENANT_KEYS_FILE``: every tenant's keys
checked by a signed read call against a real sandbox; failing tenants named, keys never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessment_asgi import Credentials
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve
from tests.test_doctor import JWT_SECRET, doctor, fails

from .conftest import ACME, GLOBEX

INITECH = Credentials("wc_ak_test_CANARY-INITECH-API-0a1b", "wc_sk_test_CANARY-INITECH-SECRET-2c3d")


@pytest.fixture
def platform() -> Iterator[tuple[SandboxApp, str]]:
    sandbox = SandboxApp(credentials=ACME, record_requests=100)
    sandbox.add_organisation(GLOBEX)
    with serve(sandbox) as url:
        yield sandbox, SandboxApp.platform_url(url)


def keys_file(path: Path, keys: dict[str, Credentials]) -> Path:
    path.write_text(json.dumps({
        t: {"api_key": c.api_key.get_secret_value(), "secret_key": c.secret_key.get_secret_value()}
        for t, c in keys.items()
    }))
    return path


def test_every_tenants_keys_are_accepted(tmp_path: Path, platform: tuple[SandboxApp, str]) -> None:
    file = keys_file(tmp_path / "tenants.json", {"acme": ACME, "globex": GLOBEX})
    status, out = doctor(tmp_path, ASSESSMENT_TENANT_KEYS_FILE=str(file),
                         ASSESSMENT_JWT_SECRET=JWT_SECRET, ASSESSMENT_BASE_URL=platform[1])
    assert status == 0, out
    assert "ok    ASSESSMENT_TENANT_KEYS_FILE: 2 tenant(s)" in out
    assert "the platform accepted the keys of all 2 tenant(s) (signed read-only calls)" in out
    assert "ASSESSMENT_API_KEY is not set" not in out  # one pair per tenant instead
    reads = platform[0].recorder.to("/assessments", method="GET")
    assert sorted(r.headers["x-api-key"] for r in reads) == sorted(
        c.api_key.get_secret_value() for c in (ACME, GLOBEX))


def test_the_tenants_whose_keys_fail_are_named(tmp_path: Path, platform: tuple[SandboxApp, str]) -> None:
    mixed = Credentials("wc_ak_test_CANARY-MIXED-API-4e5f", "wc_sk_CANARY-MIXED-LIVE-6a7b")
    file = keys_file(tmp_path / "tenants.json",
                     {"acme": ACME, "globex": GLOBEX, "initech": INITECH, "hooli": mixed})
    status, out = doctor(tmp_path, ASSESSMENT_TENANT_KEYS_FILE=str(file),
                         ASSESSMENT_JWT_SECRET=JWT_SECRET, ASSESSMENT_BASE_URL=platform[1])
    assert status == 1
    assert fails(out) == [
        "FAIL  tenants with a test key paired with a live key: 'hooli'. Fix: give each tenant "
        "both keys of the same environment",
        "FAIL  the platform refused the keys of 2 tenant(s): 'hooli', 'initech'. Fix: copy those "
        "tenants' keys again into ASSESSMENT_TENANT_KEYS_FILE",
    ]
    assert "'acme'" not in out
    assert "'globex'" not in out


def test_a_bad_file_is_one_failure_naming_the_setting(tmp_path: Path) -> None:
    (tmp_path / "tenants.json").write_text('{"acme": {"api_key": "wc_ak_test_CANARY-X"}}')
    status, out = doctor(tmp_path, ASSESSMENT_TENANT_KEYS_FILE="tenants.json",
                         ASSESSMENT_JWT_SECRET=JWT_SECRET, ASSESSMENT_BASE_URL="https://p.example/api/v1")
    assert status == 1
    (problem,) = [p for p in fails(out) if "TENANT_KEYS_FILE" in p]
    assert problem.startswith("FAIL  ASSESSMENT_TENANT_KEYS_FILE: the file: tenant 'acme' needs "
                              "exactly api_key and secret_key")


def test_offline_the_file_is_read_but_no_key_is_sent(tmp_path: Path) -> None:
    file = keys_file(tmp_path / "tenants.json", {"acme": ACME, "initech": INITECH})
    status, out = doctor(tmp_path, "--offline", ASSESSMENT_TENANT_KEYS_FILE=str(file),
                         ASSESSMENT_JWT_SECRET=JWT_SECRET,
                         ASSESSMENT_BASE_URL="https://platform.example/api/v1")
    assert status == 0, out
    assert "ok    ASSESSMENT_TENANT_KEYS_FILE: 2 tenant(s)" in out
    assert "accepted" not in out
