from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette

from assessment_asgi import AssessmentSettings
from assessment_asgi.sandbox import SandboxApp
from example_app import create_app
from tests._servers import serve

PLATFORM_VARS = (
    "ASSESSMENT_API_KEY", "ASSESSMENT_SECRET_KEY", "ASSESSMENT_BASE_URL",
    "ASSESSMENT_JWT_SECRET", "ASSESSMENT_JWKS_URL", "ASSESSMENT_OIDC_ISSUER",
    "ASSESSMENT_PORTAL_SCRIPT_URL", "EXAMPLE_DEV_SIGN_IN",
)


@dataclass
class Example:
    """The example app served over real loopback HTTP."""

    app: Starlette
    url: str

    @property
    def sandbox(self) -> SandboxApp:
        sandbox = self.app.state.sandbox
        assert isinstance(sandbox, SandboxApp)
        return sandbox


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ASSESSMENT_* settings from the machine, and no .env: the sandbox mode."""
    for name in PLATFORM_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def example(clean_env: None) -> Iterator[Example]:
    app = create_app(settings=AssessmentSettings())
    with serve(app) as url:
        yield Example(app, url)
