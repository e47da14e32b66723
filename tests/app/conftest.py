from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from assessment_asgi import AssessmentApp
from tests._fake import API_KEY, SECRET_KEY
from tests._servers import serve


@pytest.fixture
def env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_API_KEY", API_KEY)
    monkeypatch.setenv("ASSESSMENT_SECRET_KEY", SECRET_KEY)


HostFactory = Callable[..., Any]


def starlette_host(prefix: str, assessment: AssessmentApp) -> Starlette:
    return Starlette(routes=[Mount(prefix, app=assessment)])


def fastapi_host(prefix: str, assessment: AssessmentApp) -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.mount(prefix, assessment)
    return app


ALL_HOSTS = [("starlette", "/assessment"), ("fastapi", "/assessment"),
             ("starlette", "/hiring/v2/portal"), ("fastapi", "/x")]


def host_id(param: tuple[str, str]) -> str:
    return f"{param[0]}:{param[1]}"


@pytest.fixture
def host(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Starlette at /assessment, unless a test parametrizes ``host`` (see ``every_host``)."""
    return getattr(request, "param", ALL_HOSTS[0])


#: Run a test mounted in Starlette and FastAPI, each at two different prefixes.
every_host = pytest.mark.parametrize("host", ALL_HOSTS, ids=host_id, indirect=True)


@pytest.fixture
def served(host: tuple[str, str]) -> Callable[[AssessmentApp], Any]:
    """Serve an AssessmentApp mounted in a real host under uvicorn; yields (client, session_url)."""
    import contextlib

    framework, prefix = host

    @contextlib.contextmanager
    def run(assessment: AssessmentApp) -> Iterator[tuple[httpx2.Client, str]]:
        factory = starlette_host if framework == "starlette" else fastapi_host
        with serve(factory(prefix, assessment)) as url, httpx2.Client(timeout=30) as client:
            yield client, f"{url}{prefix}/session"

    return run
