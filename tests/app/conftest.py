from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.routing import Mount

from assessment_asgi import AssessmentApp
from tests._servers import serve

from ._platform import PlatformStandIn

API_KEY = "wc_ak_test_CANARY-API-KEY-51d2"
SECRET_KEY = "wc_sk_test_CANARY-SECRET-KEY-88c1"
JWT_SECRET = "CANARY-JWT-SECRET-0123456789abcdef0123456789"
CANARIES = (API_KEY, SECRET_KEY, JWT_SECRET, "CANARY-SESSION-TOKEN-7f3a")

USERS = [
    {"name": "Ada Lovelace", "email": "ada@example.com"},
    {"name": "Alan Turing", "email": "alan@example.com"},
    {"name": "Grace Hopper", "email": "grace@example.com"},
]


def make_token(secret: str = JWT_SECRET, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": "rec_42", "email": "rita@hire.example", "iat": now,
                               "exp": now + 300}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(secret.encode()))


@pytest.fixture
def standin() -> Iterator[tuple[PlatformStandIn, str]]:
    platform = PlatformStandIn(api_key=API_KEY, secret_key=SECRET_KEY)
    with serve(platform.app()) as url:
        yield platform, f"{url}/api/v1"


@pytest.fixture
def platform(standin: tuple[PlatformStandIn, str]) -> PlatformStandIn:
    return standin[0]


@pytest.fixture
def platform_url(standin: tuple[PlatformStandIn, str]) -> str:
    return standin[1]


@pytest.fixture
def env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_API_KEY", API_KEY)
    monkeypatch.setenv("ASSESSMENT_SECRET_KEY", SECRET_KEY)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No ASSESSMENT_* from the developer's shell or a stray .env leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("ASSESSMENT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


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


def auth(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or make_token()}"}
