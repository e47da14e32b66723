"""Shared pieces of the hostile-input suite.

Every test here runs with DEBUG logging on every logger, and the ``leak_guard`` fixture
fails it if a canary secret (platform keys, the JWT secret, a session token, any recruiter
JWT minted here) shows up in a log record or its traceback. Responses fetched through
``checked_client`` are checked the same way, headers included.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from assessment_asgi import AssessmentApp
from tests._fake import API_KEY, CANARIES, JWT_SECRET, SECRET_KEY, STANDIN_TOKEN, USERS
from tests._servers import Server, serve

__all__ = [
    "API_KEY", "CANARIES", "JWT_SECRET", "SECRET_KEY", "STANDIN_TOKEN", "USERS",
]

SESSION_CANARY = CANARIES[3]
ISSUER = "https://issuer.example"
AUDIENCE = "assessment-api"

#: Every recruiter JWT minted by the helpers below: none may ever be logged or echoed.
MINTED: set[str] = set()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": "rec_42", "email": "rita@hire.example", "iat": now,
                               "exp": now + 300}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def hs_token(secret: str = JWT_SECRET, header: dict[str, Any] | None = None, **overrides: Any) -> str:
    token = jwt.encode(header or {"alg": "HS256"}, claims(**overrides),
                       OctKey.import_key(secret.encode()))
    MINTED.add(token)
    return token


def rs_token(key: RSAKey, header: dict[str, Any] | None = None, **overrides: Any) -> str:
    header = header or {"alg": "RS256", "kid": key.kid}
    token = jwt.encode(header, claims(**overrides), key, algorithms=[header["alg"]])
    MINTED.add(token)
    return token


def raw_token(header: Any, payload: bytes | dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS built by hand, for headers and payloads joserfc would not produce."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body)}".encode()
    token = f"{signing_input.decode()}.{b64(sign(signing_input))}"
    MINTED.add(token)
    return token


def rsa_signer(key: RSAKey) -> Callable[[bytes], bytes]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    private = key.private_key
    assert private is not None
    return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]


def hmac_signer(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- logging and response canaries ------------------------------------------------------------


def assert_clean(text: str, *, allow_session_token: bool = False) -> None:
    for canary in CANARIES:
        if allow_session_token and canary == SESSION_CANARY:
            continue
        assert canary not in text, f"canary {canary[:14]}… leaked"
    for token in list(MINTED):
        assert token not in text, "a recruiter JWT leaked"


@pytest.fixture(autouse=True)
def leak_guard(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """DEBUG on everything; after the test, no canary in any record, message or traceback."""
    caplog.set_level(logging.DEBUG)
    yield
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    assert_clean("\n".join(f"{formatter.format(r)} {r.args!r}" for r in records))


def _check_response(response: httpx2.Response) -> None:
    response.read()
    assert_clean(
        f"{response.text}\n{response.headers!r}",
        allow_session_token=response.status_code == 200,
    )
    if response.status_code >= 400:
        assert "Traceback" not in response.text
        assert 'File "' not in response.text


@pytest.fixture
def checked_client() -> Iterator[httpx2.Client]:
    """An HTTP client whose every response is checked for leaked canaries."""
    with httpx2.Client(timeout=30, event_hooks={"response": [_check_response]}) as client:
        yield client


# -- the platform stand-in and the served app -------------------------------------------------


def make_app(platform_url: str, **settings: Any) -> AssessmentApp:
    """An app with canary keys; HS256 unless the test passes another key source."""
    if not {"authenticate", "jwks_url", "oidc_issuer"} & set(settings):
        settings.setdefault("jwt_secret", JWT_SECRET)
    settings.setdefault("api_key", API_KEY)
    settings.setdefault("secret_key", SECRET_KEY)
    return AssessmentApp(base_url=platform_url, **settings)


@contextlib.contextmanager
def mounted(app: AssessmentApp, prefix: str = "/assessment", server: Server = "uvicorn") -> Iterator[str]:
    """Serve ``app`` mounted in Starlette (uvicorn by default); yields the session URL."""
    from starlette.routing import Mount

    # The host forwards its lifespan to the app, so the platform pool closes at shutdown.
    with serve(Starlette(routes=[Mount(prefix, app=app)], lifespan=app.lifespan), server) as url:
        yield f"{url}{prefix}/session"


# -- a JWKS server that counts its hits ---------------------------------------------------------


class KeyServer:
    """Serves a JWKS over loopback, counting hits; ``mode`` makes it fail or redirect."""

    def __init__(self, *keys: RSAKey) -> None:
        self.keys = list(keys)
        self.mode = "ok"
        self.redirect_to = ""
        self.hits: list[str] = []
        self._lock = threading.Lock()

    def app(self) -> Starlette:
        async def jwks(request: Request) -> Response:
            with self._lock:
                self.hits.append(request.url.path)
            if self.mode == "down":
                return Response("unavailable", 503)
            if self.mode == "redirect":
                return RedirectResponse(self.redirect_to, 302)
            return JSONResponse({"keys": [k.as_dict(private=False) for k in self.keys]})

        async def anything(request: Request) -> Response:
            with self._lock:
                self.hits.append(request.url.path)
            return JSONResponse({"keys": [k.as_dict(private=False) for k in self.keys]})

        return Starlette(routes=[Route("/jwks.json", jwks), Route("/{path:path}", anything)])


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})


@pytest.fixture(scope="session")
def signing_key() -> RSAKey:
    return rsa_key("k1")


@pytest.fixture(scope="session")
def attacker_key() -> RSAKey:
    return rsa_key("k1")  # the same kid as the real one, on purpose


@contextlib.contextmanager
def key_server(*keys: RSAKey) -> Iterator[tuple[KeyServer, str]]:
    server = KeyServer(*keys)
    with serve(server.app()) as url:
        yield server, url


class FakeClock:
    """A monotonic clock the test moves by hand: intervals without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- a real redis-server on loopback ------------------------------------------------------------


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    return redis_url


def body(users: list[dict[str, str]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"users": users if users is not None else USERS[:1], **extra}
