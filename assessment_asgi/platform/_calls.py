"""From an operation to prepared requests: credentials, signing, URL, the engine of this
loop, the retry loop and the `on_call` observer. The one request path of the client."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx2
from pydantic import BaseModel, ValidationError

from .._concurrency import LoopLocal
from .._exceptions import ConfigurationError
from ._config import RetryPolicy, Timeout
from ._credentials import Credentials
from ._engines import Engine, Options, Prepared, factory, injected_library
from ._errors import SmartAIError, SmartAIResponseError
from ._exchange import Op, exchange, sensitive
from ._observe import OnCall, PlatformCall, notify
from ._retry import Trace, with_retries
from ._signing import canonical_json, signature

if TYPE_CHECKING:
    import httpx

_M = TypeVar("_M", bound=BaseModel)


async def _close(engine: Engine) -> None:
    await engine.aclose()


def parse(model: type[_M], data: Any, op: Op) -> _M:
    """The platform's data as `model`, or a response error that quotes none of it."""
    try:
        return model.model_validate(data)
    except ValidationError:
        # No ``from``: a validation error quotes the input, which may be a token.
        raise SmartAIResponseError(
            f"{op.name}: the platform's data does not match {model.__name__}",
            operation=op.name,
        ) from None


class Caller:
    """Sends operations through this loop's engine (or a caller's `http_client`, httpx2's
    or httpx's)."""

    def __init__(
        self,
        *,
        base_url: str,
        queue_base_url: str,
        credentials: Credentials | None,
        timeouts: dict[str, Timeout],
        retry: RetryPolicy,
        max_response_bytes: int,
        engine: str | None,
        http_client: httpx2.AsyncClient | httpx.AsyncClient | None,
        transport: httpx2.AsyncBaseTransport | httpx.AsyncBaseTransport | None,
        limits: httpx2.Limits,
        user_agent: str,
        on_call: OnCall | None,
    ) -> None:
        self.base_url = base_url
        self.queue_base_url = queue_base_url
        self.credentials = credentials
        self._timeouts = timeouts
        self._retry = retry
        self._max_bytes = max_response_bytes
        self._on_call = on_call
        options = Options(
            limits=limits,
            headers={"user-agent": user_agent, "accept": "application/json"},
            transport=transport,
        )
        self._injected: Engine | None = None
        if http_client is not None:
            from ._engines._httpx2 import Httpx2Engine

            engine_type = Httpx2Engine
            if injected_library(http_client, "AsyncClient") == "httpx":
                from ._engines._httpx import HttpxEngine

                engine_type = HttpxEngine
            self._injected = engine_type(http_client, owned=False)
        elif transport is not None:
            engine = injected_library(transport, "AsyncBaseTransport")
        self.pool: LoopLocal[Engine] = LoopLocal(factory(engine, options), close=_close)

    def engine(self) -> Engine:
        """This loop's engine (built on first use), or the caller's own client."""
        if self._injected is not None:
            return self._injected
        return self.pool.get()

    def _url(self, op: Op, query: Mapping[str, str] | None) -> tuple[str, str]:
        base = self.queue_base_url if op.queue else self.base_url
        url = base + op.path
        if query:
            url += "?" + urlencode(query)
        return url, _base_path(base) + op.path

    def _resolve_credentials(self, credentials: Credentials | None) -> Credentials:
        if credentials is None:
            credentials = self.credentials
        if credentials is None:
            raise ConfigurationError(
                "no platform credentials: pass credentials= to SmartAIClient or to the call",
                setting="credentials",
            )
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials must be a Credentials instance")
        return credentials

    async def call(
        self,
        op: Op,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        credentials: Credentials | None,
        timeout: Timeout | float | None,
    ) -> Any:
        """The operation's `data`, after retries; or the public error of its last attempt."""
        base = self._timeouts[op.name]
        limits = base if timeout is None else Timeout.coerce(timeout, setting="timeout", base=base)
        creds = self._resolve_credentials(credentials)
        content = canonical_json(body) if body is not None else b""
        url, path = self._url(op, query)
        engine = self.engine()
        attempt_once = _Attempt(engine, op, url, path, content, creds, body, limits, self._max_bytes)

        if self._on_call is None:
            return await with_retries(op, attempt_once, policy=self._retry, limits=limits, trace=None)
        trace = Trace(engine.name)
        started_ns, started = time.time_ns(), time.perf_counter()
        error: str | None = None
        try:
            return await with_retries(op, attempt_once, policy=self._retry, limits=limits, trace=trace)
        except SmartAIError as exc:
            error = type(exc).__name__
            trace.status = exc.status_code if exc.status_code is not None else trace.status
            trace.request_id = exc.request_id or trace.request_id
            raise
        finally:
            if error is not None or trace.status is not None:
                notify(self._on_call, PlatformCall(
                    operation=op.name, engine=trace.engine, attempts=trace.attempts,
                    status_code=trace.status, request_id=trace.request_id, error=error,
                    start_time_ns=started_ns, duration=time.perf_counter() - started,
                ))


class _Attempt:
    """One attempt of an operation, as `with_retries` runs it: an object, not a closure, so
    a call allocates one small object instead of a function and a cell per variable."""

    __slots__ = ("body", "content", "creds", "engine", "limits", "max_bytes", "op", "path", "url")

    def __init__(
        self, engine: Engine, op: Op, url: str, path: str, content: bytes, creds: Credentials,
        body: Mapping[str, Any] | None, limits: Timeout, max_bytes: int,
    ) -> None:
        self.engine, self.op, self.url, self.path, self.content = engine, op, url, path, content
        self.creds, self.body, self.limits, self.max_bytes = creds, body, limits, max_bytes

    async def __call__(self, attempt: int, remaining: float) -> tuple[Any, int, str | None]:
        op, limits, content = self.op, self.limits, self.content
        request = Prepared(
            op.method, self.url, _headers(op, self.path, content, self.creds), content,
            limits.connect, limits.read, remaining, self.max_bytes,
        )
        return await exchange(
            self.engine, op, request, path=self.path, attempt=attempt, redact=self.redact
        )

    def redact(self) -> tuple[str, ...]:
        """The texts an error message must never quote (needed only on errors)."""
        return sensitive(self.creds, self.body)


@functools.lru_cache(maxsize=16)
def _base_path(base: str) -> str:
    return urlsplit(base).path  # parsed once per base URL, not per call


def _headers(op: Op, path: str, content: bytes, creds: Credentials) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "x-api-key": creds.api_key.get_secret_value(),
    }
    if op.auth == "secret":
        headers["x-secret-key"] = creds.secret_key.get_secret_value()
    elif op.auth == "signed":
        timestamp = str(int(time.time() * 1000))
        headers["x-timestamp"] = timestamp
        headers["x-signature"] = signature(
            creds.secret_key.get_secret_value(), op.method, path, timestamp, content
        )
    return headers
