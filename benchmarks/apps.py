"""The benchmark variants, each an ASGI app factory for ``uvicorn --factory``.

Every variant serves ``POST /assessment/session`` from a Starlette host, verifies the same
HS256 recruiter JWT and validates the same body; they differ in how they call the platform.

- ``package``: this package, ``AssessmentApp`` mounted at ``/assessment`` (its defaults:
  the pooled SmartAIClient on the aiohttp engine on asyncio).
- ``package_nolimit``: the same with the per-recruiter rate limit off.
- ``package_pyreqwest``: the same with ``ASSESSMENT_ENGINE=pyreqwest`` (the opt-in engine).
- ``package_pyreqwest_bare``: an experiment: that engine's ``send`` replaced by the
  hand-written call, to measure the engine's own share of the gap to a hand-written endpoint.
- ``package_no_platform``: an experiment: the package with a client whose
  ``create_session`` answers at once, its own pipeline alone, to set beside ``ceiling``.
- ``package_hand_call`` (``_aiohttp``): an experiment: the defaults with
  ``SmartAIClient.create_session`` replaced by ``pyreqwest_tuned``'s (raw ``aiohttp``'s) call,
  to measure what the package's platform client costs above the hand-written call.
- ``package_httpx2``: the same with ``ASSESSMENT_ENGINE=httpx2`` (httpx2's own pool).
- ``package_redis``: the defaults in replica mode: ``ASSESSMENT_REDIS_URL`` set (rate limits
  and idempotency keys in a real redis-server on loopback, ``BENCH_REDIS_URL``).
- ``sdk``: the official sync SDK ``record_assessment_backend`` 2.0.4 in Starlette's threadpool.
- ``httpx2``: hand-written, one pooled ``httpx2.AsyncClient``.
- ``aiohttp``: hand-written, one pooled raw ``aiohttp.ClientSession``.
- ``pyreqwest``: hand-written, one pooled ``pyreqwest`` client (Rust reqwest/hyper).
- ``ceiling``: auth and validation only, no platform call.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks._common import (
    API_KEY,
    JWT_SECRET,
    SECRET_KEY,
    STAND_IN_EXPIRES,
    STAND_IN_TOKEN,
    SessionBody,
    upstream_base_url,
    verify_recruiter,
)

Call = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_NO_STORE = {"cache-control": "no-store"}


def _platform_payload(body: SessionBody, claims: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"users": [u.model_dump() for u in body.users]}
    payload["recruiterId"] = body.recruiterId or claims.get("sub")
    if body.recruiterEmail:
        payload["recruiterEmail"] = body.recruiterEmail
    return payload


def _closing(close: Callable[[], Awaitable[None]]) -> Any:
    """A Starlette lifespan that runs ``close`` at shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await close()

    return lifespan


def _hand_written(call: Call, **starlette: Any) -> Starlette:
    """The endpoint a user writes by hand, with ``call`` doing the platform request."""

    async def session(request: Request) -> Response:
        claims = verify_recruiter(request.headers.get("authorization"))
        if claims is None:
            return JSONResponse({"success": False, "error": "Unauthorized"}, 401)
        try:
            body = SessionBody.model_validate_json(await request.body())
        except ValidationError:
            return JSONResponse({"success": False, "error": "Invalid body"}, 400)
        try:
            data = await call(_platform_payload(body, claims))
        except Exception:
            return JSONResponse({"success": False, "error": "Platform error"}, 502)
        return JSONResponse(
            {"success": True, "data": {"token": data["token"], "expiresAt": data["expiresAt"]}},
            headers=_NO_STORE,
        )

    return Starlette(routes=[Route("/assessment/session", session, methods=["POST"])], **starlette)


def _headers() -> dict[str, str]:
    return {"content-type": "application/json", "x-api-key": API_KEY, "x-secret-key": SECRET_KEY}


def ceiling() -> Starlette:
    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        return {"token": STAND_IN_TOKEN, "expiresAt": STAND_IN_EXPIRES}

    return _hand_written(call)


def sdk() -> Starlette:
    from record_assessment_backend import AssessmentClient

    client = AssessmentClient(api_key=API_KEY, secret_key=SECRET_KEY, base_url=upstream_base_url())

    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await run_in_threadpool(
            client.create_session, users=payload["users"], recruiter_id=payload["recruiterId"]
        )
        return result

    return _hand_written(call)


def httpx2() -> Starlette:
    import httpx2 as httpx2_lib

    client = httpx2_lib.AsyncClient(
        base_url=upstream_base_url(), limits=httpx2_lib.Limits(max_connections=100)
    )
    return _hand_written(_httpx_call(client), lifespan=_closing(client.aclose))


def _httpx_call(client: Any) -> Call:
    headers = _headers()

    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        response = await client.post("/sessions", content=json.dumps(payload), headers=headers)
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data

    return call


def aiohttp() -> Starlette:
    call, lifespan = _aiohttp_call_and_lifespan()
    return _hand_written(call, lifespan=lifespan)


def _aiohttp_call_and_lifespan() -> tuple[Call, Any]:
    import aiohttp as aiohttp_lib

    url = upstream_base_url() + "/sessions"
    headers = _headers()
    holder: dict[str, aiohttp_lib.ClientSession] = {}

    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        session = holder.get("session")
        if session is None:  # created inside the server's loop
            session = holder["session"] = aiohttp_lib.ClientSession()
        async with session.post(url, data=json.dumps(payload), headers=headers) as response:
            response.raise_for_status()
            data: dict[str, Any] = (await response.json())["data"]
            return data

    async def close() -> None:
        if "session" in holder:
            await holder["session"].close()

    return call, _closing(close)


def pyreqwest() -> Starlette:
    from datetime import timedelta

    from pyreqwest.client import Client, ClientBuilder

    url = upstream_base_url() + "/sessions"
    headers = _headers()
    holder: dict[str, Client] = {}

    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        client = holder.get("client")
        if client is None:  # created inside the server's process and loop
            client = holder["client"] = (
                ClientBuilder().no_proxy().follow_redirects(False).timeout(timedelta(seconds=10)).build()
            )
        request = client.post(url).headers(headers).body_bytes(json.dumps(payload).encode()).build()
        response = await request.send()
        if response.status >= 400:
            raise RuntimeError(f"platform answered {response.status}")
        data: dict[str, Any] = (await response.json())["data"]
        return data

    async def close() -> None:
        if "client" in holder:
            await holder["client"].close()

    return _hand_written(call, lifespan=_closing(close))


def pyreqwest_tuned() -> Starlette:
    """The hand-written pyreqwest endpoint built the other way: the body serialised by
    pyreqwest (``body_json``), headers set once on the client, a pool sized for 32 connections.
    Ratios are taken against the faster of the two anchors."""
    call, lifespan = _tuned_call_and_lifespan()
    return _hand_written(call, lifespan=lifespan)


def _tuned_call_and_lifespan() -> tuple[Call, Any]:
    from datetime import timedelta

    from pyreqwest.client import Client, ClientBuilder

    url = upstream_base_url() + "/sessions"
    holder: dict[str, Client] = {}

    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        client = holder.get("client")
        if client is None:
            client = holder["client"] = (
                ClientBuilder().no_proxy().follow_redirects(False).timeout(timedelta(seconds=10))
                .default_headers(_headers()).pool_max_idle_per_host(64).tcp_nodelay(True).build()
            )
        response = await client.post(url).body_json(payload).build().send()
        if response.status >= 400:
            raise RuntimeError(f"platform answered {response.status}")
        data: dict[str, Any] = (await response.json())["data"]
        return data

    async def close() -> None:
        if "client" in holder:
            await holder["client"].close()

    return call, _closing(close)


def _mounted(*, lifespan: Any = None, own_lifespan: bool = False, **options: Any) -> Starlette:
    """The package mounted at ``/assessment`` in a Starlette host, configured from the
    environment as a deployment is (``ASSESSMENT_*`` set here and by the caller first);
    ``options`` are `AssessmentApp` keywords. The host's ``lifespan``, or with
    ``own_lifespan`` the app's own."""
    from starlette.routing import Mount

    from assessment_asgi import AssessmentApp

    os.environ.setdefault("ASSESSMENT_API_KEY", API_KEY)
    os.environ.setdefault("ASSESSMENT_SECRET_KEY", SECRET_KEY)
    os.environ.setdefault("ASSESSMENT_JWT_SECRET", JWT_SECRET)
    os.environ["ASSESSMENT_BASE_URL"] = upstream_base_url()
    assessment = AssessmentApp(**options)
    return Starlette(
        routes=[Mount("/assessment", assessment)],
        lifespan=assessment.lifespan if own_lifespan else lifespan,
    )


def package() -> Starlette:
    return _mounted()


def package_gc() -> Starlette:
    """The package with its defaults in a host that raises the collector's first threshold
    (``gc.set_threshold(50_000, 20, 100)``): the host process's choice, see docs/deploy.md."""
    import gc

    gc.set_threshold(50_000, 20, 100)
    return package()


def package_nolimit() -> Starlette:
    """The package with its per-recruiter rate limit switched off (``ASSESSMENT_RATE_LIMIT=""``)."""
    return _mounted(rate_limit="")


def package_pyreqwest() -> Starlette:
    """The package with ``ASSESSMENT_ENGINE=pyreqwest``, the opt-in native engine."""
    os.environ["ASSESSMENT_ENGINE"] = "pyreqwest"
    return _mounted()


def package_pyreqwest_bare() -> Starlette:
    """An experiment, not a way to run the package: ``engine="pyreqwest"`` with the engine's
    ``send`` replaced by the hand-written call (no attempt task, no streamed capped read, no
    per-request timeout, no error mapping). Beside ``package_pyreqwest`` it measures how much
    of the gap to the hand-written endpoint the engine itself accounts for."""
    from assessment_asgi.platform._engines import Answer, Prepared
    from assessment_asgi.platform._engines._pyreqwest import PyreqwestEngine

    async def send(self: PyreqwestEngine, request: Prepared) -> Answer:
        client = self._client(request.connect, request.read)
        builder = client.request(request.method, request.url).headers(request.headers)
        response = await builder.body_bytes(request.body).build().send()
        return Answer(response.status, response.headers, bytes(await response.bytes()))

    PyreqwestEngine.send = send  # type: ignore[method-assign]  # this process only
    return package_pyreqwest()


def package_no_platform() -> Starlette:
    """An experiment, not a way to run the package: the defaults with a client whose
    ``create_session`` answers at once (as ``micro.py`` measures in process). Beside
    ``ceiling`` it sets the package's own pipeline against a hand-written one."""
    from benchmarks.micro import stub_client

    return _mounted(client=stub_client())


def _package_with_hand_call(call: Call, lifespan: Any) -> Starlette:
    """An experiment, not a way to run the package: the defaults with
    ``SmartAIClient.create_session`` replaced by a hand-written endpoint's ``call`` (no argument
    checks, canonical body, deadline, retries, envelope checks or typed answer; no engine runs)."""
    from assessment_asgi.platform import SessionToken, SmartAIClient

    async def create_session(self: SmartAIClient, **arguments: Any) -> SessionToken:
        data = await call({"users": arguments["users"], "recruiterId": arguments["recruiter_id"]})
        return SessionToken(token=data["token"], expires_at=data["expiresAt"])

    SmartAIClient.create_session = create_session  # type: ignore[method-assign]  # this process only
    return _mounted(lifespan=lifespan)


def package_hand_call() -> Starlette:
    """The experiment above with ``pyreqwest_tuned``'s call: beside ``package_pyreqwest`` it
    measures what the platform client costs above that call, and beside ``pyreqwest_tuned``
    what the rest of the package costs."""
    return _package_with_hand_call(*_tuned_call_and_lifespan())


def package_hand_call_aiohttp() -> Starlette:
    """The experiment above with the raw aiohttp endpoint's call: what the package could serve
    on aiohttp if its platform client cost nothing above the library."""
    return _package_with_hand_call(*_aiohttp_call_and_lifespan())


def package_httpx2() -> Starlette:
    """The package with ``ASSESSMENT_ENGINE=httpx2``: httpx2's own pool."""
    os.environ["ASSESSMENT_ENGINE"] = "httpx2"
    return _mounted()


def package_redis() -> Starlette:
    """The package's defaults in replica mode: ``ASSESSMENT_REDIS_URL`` (``BENCH_REDIS_URL``)."""
    os.environ["ASSESSMENT_REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    return _mounted(own_lifespan=True)


VARIANTS: dict[str, Callable[[], Starlette]] = {
    "package": package,
    "package_nolimit": package_nolimit,
    "package_gc": package_gc,
    "package_pyreqwest": package_pyreqwest,
    "package_pyreqwest_bare": package_pyreqwest_bare,
    "package_no_platform": package_no_platform,
    "package_hand_call": package_hand_call,
    "package_hand_call_aiohttp": package_hand_call_aiohttp,
    "package_httpx2": package_httpx2,
    "package_redis": package_redis,
    "sdk": sdk,
    "httpx2": httpx2,
    "aiohttp": aiohttp,
    "pyreqwest": pyreqwest,
    "pyreqwest_tuned": pyreqwest_tuned,
    "ceiling": ceiling,
}
