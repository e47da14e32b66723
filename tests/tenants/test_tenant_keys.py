"""``TenantKeys``: a mapping, a file re-read when it changes, or a loader behind a TTL cache."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from assessment_asgi import ConfigurationError, Credentials, Recruiter, TenantKeys
from tests._fake import API_KEY, SECRET_KEY

from .conftest import ACME, GLOBEX, GLOBEX_API, GLOBEX_SECRET, assert_no_key

pytestmark = pytest.mark.anyio


def rec(tenant: str | None) -> Recruiter:
    return Recruiter(id="rec_1", tenant=tenant)


def pair(c: Credentials | None) -> tuple[str, str] | None:
    return None if c is None else (c.api_key.get_secret_value(), c.secret_key.get_secret_value())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write_keys(path: Path, keys: dict[str, tuple[str, str]], *, mtime: float | None = None) -> None:
    if path.suffix == ".toml":
        text = "".join(f'["{t}"]\napi_key = "{a}"\nsecret_key = "{s}"\n' for t, (a, s) in keys.items())
    else:
        text = json.dumps({t: {"api_key": a, "secret_key": s} for t, (a, s) in keys.items()})
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


# -- a mapping -----------------------------------------------------------------------------------


async def test_a_mapping_answers_each_tenant_and_none_for_the_rest() -> None:
    keys = TenantKeys({"acme": ACME, "globex": GLOBEX})
    assert await keys(rec("acme")) is ACME
    assert await keys(rec("globex")) is GLOBEX
    assert await keys(rec("initech")) is None
    assert await keys(rec(None)) is None
    assert keys.tenants == ("acme", "globex")


def test_a_mapping_is_checked_when_built() -> None:
    with pytest.raises(ValueError, match="tenant 'acme' needs exactly api_key and secret_key"):
        TenantKeys({"acme": "wc_ak_test_x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="not 1-128 printable"):
        TenantKeys({"a\nb": ACME})
    with pytest.raises(TypeError, match="exactly one"):
        TenantKeys()
    with pytest.raises(TypeError, match="exactly one"):
        TenantKeys({"acme": ACME}, loader=lambda t: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="async function"):
        TenantKeys(loader=lambda t: ACME)  # type: ignore[arg-type, return-value]


def test_no_repr_shows_a_key(tmp_path: Path) -> None:
    file = tmp_path / "tenants.json"
    write_keys(file, {"globex": (GLOBEX_API, GLOBEX_SECRET)})

    async def load(tenant: str) -> Credentials | None:
        return GLOBEX

    shown = [repr(TenantKeys({"globex": GLOBEX})), repr(TenantKeys.from_file(file)),
             repr(TenantKeys(loader=load))]
    assert shown == ["TenantKeys(tenants=1)", "TenantKeys.from_file('tenants.json', tenants=1)",
                     "TenantKeys(loader=test_no_repr_shows_a_key.<locals>.load, ttl=300, "
                     "negative_ttl=60)"]
    for text in shown:
        assert_no_key(text)


# -- a file --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tenants.json", "tenants.toml"])
async def test_a_file_of_tenant_to_key_pair(tmp_path: Path, name: str) -> None:
    file = tmp_path / name
    write_keys(file, {"acme": (API_KEY, SECRET_KEY), "globex": (GLOBEX_API, GLOBEX_SECRET)})
    keys = TenantKeys.from_file(file)
    assert pair(await keys(rec("acme"))) == (API_KEY, SECRET_KEY)
    assert pair(await keys(rec("globex"))) == (GLOBEX_API, GLOBEX_SECRET)
    assert await keys(rec("initech")) is None


async def test_a_changed_file_is_read_again_without_a_restart(tmp_path: Path) -> None:
    file = tmp_path / "tenants.json"
    write_keys(file, {"acme": (API_KEY, SECRET_KEY)}, mtime=1_000_000)
    keys = TenantKeys.from_file(file, check_interval=0)
    assert pair(await keys(rec("acme"))) == (API_KEY, SECRET_KEY)
    write_keys(file, {"acme": (GLOBEX_API, GLOBEX_SECRET), "initech": (API_KEY, SECRET_KEY)},
               mtime=1_000_100)
    assert pair(await keys(rec("acme"))) == (GLOBEX_API, GLOBEX_SECRET)
    assert pair(await keys(rec("initech"))) == (API_KEY, SECRET_KEY)


async def test_the_file_is_looked_at_once_per_interval(tmp_path: Path) -> None:
    file = tmp_path / "tenants.json"
    write_keys(file, {"acme": (API_KEY, SECRET_KEY)}, mtime=1_000_000)
    clock = Clock()
    keys = TenantKeys.from_file(file, check_interval=10)
    keys._clock = clock  # the interval on a hand-moved clock
    keys._next_check = clock.now + 10
    write_keys(file, {"acme": (GLOBEX_API, GLOBEX_SECRET)}, mtime=1_000_100)
    clock.now += 9
    assert pair(await keys(rec("acme"))) == (API_KEY, SECRET_KEY)  # not looked at yet
    clock.now += 1
    assert pair(await keys(rec("acme"))) == (GLOBEX_API, GLOBEX_SECRET)


async def test_a_broken_rewrite_keeps_the_last_good_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "tenants.json"
    write_keys(file, {"acme": (API_KEY, SECRET_KEY)}, mtime=1_000_000)
    keys = TenantKeys.from_file(file, check_interval=0)
    file.write_text(f'{{"acme": {{"api_key": "{GLOBEX_API}", "secret_key": ')  # half written
    os.utime(file, (1_000_100, 1_000_100))
    with caplog.at_level(logging.WARNING, "assessment_asgi"):
        assert pair(await keys(rec("acme"))) == (API_KEY, SECRET_KEY)
    (record,) = [r for r in caplog.records if "not reloaded" in r.getMessage()]
    assert record.getMessage() == ("tenant keys file tenants.json not reloaded (not valid JSON "
                                   "(line 1, column 77)): keeping the last good keys")
    file.unlink()
    assert pair(await keys(rec("acme"))) == (API_KEY, SECRET_KEY)  # gone: still the last good


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (f'{{"acme": {{"api_key": "{GLOBEX_API}"}}}}', "tenant 'acme' needs exactly api_key and secret_key"),
        (f'{{"acme": {{"api_key": "{GLOBEX_API}", "secret_key": ""}}}}', "tenant 'acme' needs"),
        (f'["{GLOBEX_API}"]', "must map tenant names to key pairs"),
        (f'{{"acme": {{"api_key": "{GLOBEX_API}", ', "not valid JSON (line 1"),
        (None, "cannot read it (No such file or directory)"),
    ],
    ids=["no secret", "empty secret", "not a mapping", "not json", "missing"],
)
def test_a_bad_file_is_a_configuration_error_that_quotes_no_key(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    file = tmp_path / "tenants.json"
    if content is not None:
        file.write_text(content)
    with pytest.raises(ConfigurationError) as info:
        TenantKeys.from_file(file, setting="ASSESSMENT_TENANT_KEYS_FILE")
    assert info.value.setting == "ASSESSMENT_TENANT_KEYS_FILE"
    assert reason in str(info.value)
    assert_no_key(str(info.value))


# -- a loader ------------------------------------------------------------------------------------


class Loader:
    """An async loader that counts its calls; ``gate`` holds every load until set."""

    def __init__(self, keys: dict[str, Credentials]) -> None:
        self.keys = keys
        self.calls: list[str] = []
        self.gate: anyio.Event | None = None
        self.fail = False

    async def __call__(self, tenant: str) -> Credentials | None:
        self.calls.append(tenant)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("the secrets manager is down")
        return self.keys.get(tenant)


async def test_loaded_keys_are_cached_for_the_ttl_and_rotate_after_it() -> None:
    loader, clock = Loader({"acme": ACME}), Clock()
    keys = TenantKeys(loader=loader, ttl=300, clock=clock)
    assert await keys(rec("acme")) is ACME
    clock.now += 299
    loader.keys["acme"] = GLOBEX  # rotated in the secrets manager
    assert await keys(rec("acme")) is ACME
    assert loader.calls == ["acme"]
    clock.now += 1
    assert await keys(rec("acme")) is GLOBEX
    assert loader.calls == ["acme", "acme"]


async def test_unknown_tenants_are_cached_for_the_negative_ttl() -> None:
    loader, clock = Loader({}), Clock()
    keys = TenantKeys(loader=loader, ttl=300, negative_ttl=30, clock=clock)
    for _ in range(5):
        assert await keys(rec("initech")) is None
    assert loader.calls == ["initech"]
    loader.keys["initech"] = ACME  # onboarded
    clock.now += 30
    assert await keys(rec("initech")) is ACME
    assert loader.calls == ["initech", "initech"]


async def test_a_recruiter_without_a_tenant_never_reaches_the_loader() -> None:
    loader = Loader({"acme": ACME})
    assert await TenantKeys(loader=loader)(rec(None)) is None
    assert loader.calls == []


async def test_one_load_at_a_time_per_tenant() -> None:
    loader = Loader({"acme": ACME, "globex": GLOBEX})
    loader.gate = anyio.Event()
    keys = TenantKeys(loader=loader)
    results: list[Credentials | None] = []

    async def ask(tenant: str) -> None:
        results.append(await keys(rec(tenant)))

    async with anyio.create_task_group() as group:
        for i in range(50):
            group.start_soon(ask, "acme" if i % 2 else "globex")
        await anyio.wait_all_tasks_blocked()
        assert sorted(loader.calls) == ["acme", "globex"]  # the other 48 wait
        loader.gate.set()
    assert results.count(ACME) == 25
    assert results.count(GLOBEX) == 25
    assert sorted(loader.calls) == ["acme", "globex"]


async def test_a_failed_load_fails_its_waiters_and_is_not_cached() -> None:
    loader = Loader({"acme": ACME})
    loader.gate, loader.fail = anyio.Event(), True
    keys = TenantKeys(loader=loader)
    errors: list[type[BaseException]] = []

    async def ask() -> None:
        try:
            await keys(rec("acme"))
        except Exception as exc:
            errors.append(type(exc))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        loader.gate.set()
    assert len(errors) == 3
    assert ConnectionError in errors
    assert loader.calls == ["acme"]
    loader.gate, loader.fail = None, False
    assert await keys(rec("acme")) is ACME  # the next request loads again
    assert loader.calls == ["acme", "acme"]


async def test_a_cancelled_load_leaves_no_one_waiting_forever() -> None:
    loader = Loader({"acme": ACME})
    loader.gate = anyio.Event()
    keys = TenantKeys(loader=loader)
    with anyio.move_on_after(0.05):
        await keys(rec("acme"))  # the leader gives up (the app's ASSESSMENT_KEYS_TIMEOUT)
    loader.gate.set()
    with anyio.fail_after(5):
        assert await keys(rec("acme")) is ACME
    assert loader.calls == ["acme", "acme"]


async def test_invalidate_forgets_a_tenant_at_once() -> None:
    loader = Loader({"acme": ACME, "globex": GLOBEX})
    keys = TenantKeys(loader=loader)
    await keys(rec("acme"))
    await keys(rec("globex"))
    assert set(keys.tenants) == {"acme", "globex"}
    loader.keys["acme"] = GLOBEX
    keys.invalidate("acme")
    assert await keys(rec("acme")) is GLOBEX
    assert await keys(rec("globex")) is GLOBEX
    keys.invalidate()
    assert keys.tenants == ()


async def test_the_cache_keeps_at_most_max_tenants() -> None:
    loader = Loader({f"t{i}": ACME for i in range(10)})
    keys = TenantKeys(loader=loader, max_tenants=3)
    for i in range(10):
        await keys(rec(f"t{i}"))
    assert keys.tenants == ("t7", "t8", "t9")
    await keys(rec("t0"))
    assert loader.calls[-1] == "t0"


def test_bad_cache_settings_are_refused() -> None:
    async def load(tenant: str) -> Any:
        return None

    for bad in ({"ttl": 0}, {"negative_ttl": -1}, {"max_tenants": 0}):
        with pytest.raises(ValueError, match="ttl must be > 0"):
            TenantKeys(loader=load, **bad)


@pytest.mark.parametrize("language", ["json", "toml"])
def test_the_documented_file_formats_load(tmp_path: Path, language: str) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "tenants.md").read_text(encoding="utf-8")
    block = doc.split(f"```{language}\n", 1)[1].split("```", 1)[0]
    file = tmp_path / f"tenants.{language}"
    file.write_text(block.replace("wc_ak_…", API_KEY).replace("wc_sk_…", SECRET_KEY))
    keys = TenantKeys.from_file(file)
    assert "acme" in keys.tenants
    assert all(pair(keys._static[t]) == (API_KEY, SECRET_KEY) for t in keys.tenants)
