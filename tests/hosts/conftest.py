"""Host-matrix fixtures: one platform stand-in per session, each host on each loop it supports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from assessment_asgi import AssessmentApp
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY

from ._hosts import HOSTS, Host

PREFIX = "/assessment"


@pytest.hookimpl(tryfirst=True)  # before pytest expands the anyio_backend fixture's own params
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``host`` runs every host; with ``anyio_backend``, on each loop that host supports."""
    if "host" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        if "host" in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return  # the test chose its own host cases
    if "anyio_backend" in metafunc.fixturenames:
        pairs = [(h, b) for h in HOSTS for b in h.backends]
        metafunc.parametrize(("host", "anyio_backend"), pairs, ids=[f"{h}-{b}" for h, b in pairs])
    else:
        metafunc.parametrize("host", HOSTS, ids=str)


@pytest.fixture
def make_assessment(platform_url: str) -> Callable[..., AssessmentApp]:
    """An AssessmentApp on the stand-in, with keys and the recruiter-token secret set."""

    def make(**overrides: Any) -> AssessmentApp:
        settings: dict[str, Any] = {"base_url": platform_url, "jwt_secret": JWT_SECRET,
                                    "api_key": API_KEY, "secret_key": SECRET_KEY}
        settings.update(overrides)
        return AssessmentApp(**{k: v for k, v in settings.items() if v is not None})

    return make


@contextlib.asynccontextmanager
async def in_process(app: Any, *, root_path: str = "") -> AsyncIterator[httpx2.AsyncClient]:
    """The host called in-process over ASGI (no lifespan, as hosts' test clients do by default)."""
    transport = httpx2.ASGITransport(app=app, root_path=root_path)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def hosted(
    host: Host, make_assessment: Callable[..., AssessmentApp]
) -> Callable[..., contextlib.AbstractAsyncContextManager[httpx2.AsyncClient]]:
    """``async with hosted(**settings) as client``: the endpoint at PREFIX inside ``host``."""

    def open_(
        *, root_path: str = "", **overrides: Any
    ) -> contextlib.AbstractAsyncContextManager[httpx2.AsyncClient]:
        return in_process(host.build(PREFIX, make_assessment(**overrides)), root_path=root_path)

    return open_
