from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest

from assessment_asgi import Credentials
from assessment_asgi.sandbox import SandboxApp
from tests._servers import serve

# The official SDKs' tests run twice: with the sandbox's own keys, and with the keys of an added
# organisation while the own one holds a campaign and an event that must never show through.
_EVERY_ORGANISATION = {"test_official_sdk", "test_legacy_sdk", "test_node_sdk"}


@dataclass
class Running:
    """A sandbox served over real loopback HTTP; its keys are those of ``organisation`` when
    set, else the sandbox's own."""

    app: SandboxApp
    url: str
    organisation: Credentials | None = None

    @property
    def credentials(self) -> Credentials:
        return self.organisation or self.app.credentials

    @property
    def api_key(self) -> str:
        return self.credentials.api_key.get_secret_value()

    @property
    def secret_key(self) -> str:
        return self.credentials.secret_key.get_secret_value()

    @property
    def platform_url(self) -> str:
        return SandboxApp.platform_url(self.url)

    @property
    def keys(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "x-secret-key": self.secret_key}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if "sandbox" in metafunc.fixturenames and module in _EVERY_ORGANISATION:
        metafunc.parametrize("organisation", ["own", "added"], indirect=True)


@pytest.fixture
def organisation(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "own"))


def _busy_own_organisation(app: SandboxApp, url: str) -> None:
    """A campaign (and so a ``campaign.generated`` event) and a queued event in the own
    organisation, for another organisation's keys to never see."""
    keys = {
        "x-api-key": app.credentials.api_key.get_secret_value(),
        "x-secret-key": app.credentials.secret_key.get_secret_value(),
    }
    answer = httpx2.post(
        f"{SandboxApp.platform_url(url)}/campaigns",
        headers=keys,
        json={"workflowId": "wf_own", "method": "knowledge",
              "users": [{"name": "Own Org", "email": "own@example.com"}]},
    )
    assert answer.status_code == 200, answer.text
    app.enqueue({"event": "assessment.completed", "candidateEmail": "own@example.com"})


@pytest.fixture
def sandbox(organisation: str) -> Iterator[Running]:
    app = SandboxApp()
    with serve(app, "uvicorn") as url:
        if organisation == "own":
            yield Running(app, url)
            return
        added = app.add_organisation()
        _busy_own_organisation(app, url)
        yield Running(app, url, added)
        assert len(app.pending_events()) == 2  # nothing the added organisation did reached them


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
