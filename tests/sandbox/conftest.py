from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve


@dataclass
class Running:
    """A sandbox served over real loopback HTTP."""

    app: SandboxApp
    url: str

    @property
    def api_key(self) -> str:
        return self.app.credentials.api_key.get_secret_value()

    @property
    def secret_key(self) -> str:
        return self.app.credentials.secret_key.get_secret_value()

    @property
    def platform_url(self) -> str:
        return SandboxApp.platform_url(self.url)

    @property
    def keys(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "x-secret-key": self.secret_key}


@pytest.fixture
def sandbox() -> Iterator[Running]:
    app = SandboxApp()
    with serve(app, "uvicorn") as url:
        yield Running(app, url)


class FakeClock:
    """Unix seconds that a test moves forward, so expiry needs no sleeping."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
