from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._features import Sandbox, running_sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """App settings for each store: in memory, and a real redis-server shared by replicas."""
    if request.param == "memory":
        return {}
    return {"redis_url": request.getfixturevalue("redis_url")}
