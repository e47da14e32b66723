"""A test that takes ``engine_name`` runs once per engine: every engine on asyncio, and
httpx2 on trio (aiohttp and pyreqwest are asyncio-only). A module opts in with
``from ._engine_runs import pytest_generate_tests``."""

from __future__ import annotations

import pytest

ENGINE_RUNS = [("asyncio", "aiohttp"), ("asyncio", "pyreqwest"), ("asyncio", "httpx2"), ("trio", "httpx2")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        metafunc.parametrize(
            ("anyio_backend", "engine_name"),
            ENGINE_RUNS,
            ids=[f"{backend}-{engine}" for backend, engine in ENGINE_RUNS],
        )
