"""Checking the key pair and the request signature, as the platform does."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from .._numbers import ascii_int
from ..platform._credentials import Credentials


def _same(given: str | None, expected: str) -> bool:
    # Constant time, so the sandbox does not teach timing attacks by example.
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def api_key_ok(request: Request, credentials: Credentials) -> bool:
    return _same(request.headers.get("x-api-key"), credentials.api_key.get_secret_value())


def secret_key_ok(request: Request, credentials: Credentials) -> bool:
    return _same(request.headers.get("x-secret-key"), credentials.secret_key.get_secret_value())


def _node_canonical(value: Any, allowed: list[str]) -> Any:
    # JSON.stringify(body, Object.keys(body).sort()) applies the top-level key list at every
    # depth: nested keys not in it are dropped (the Node SDK's known defect). Mirror it.
    if isinstance(value, dict):
        return {key: _node_canonical(value[key], allowed) for key in allowed if key in value}
    if isinstance(value, list):
        return [_node_canonical(item, allowed) for item in value]
    return value


def body_variants(raw: bytes) -> Iterable[str]:
    """Every serialisation of `raw` that some official SDK signs."""
    if not raw:
        yield ""
        return
    text = raw.decode("utf-8", errors="replace")
    yield text
    try:
        parsed = json.loads(text)
    except ValueError:
        return
    if isinstance(parsed, dict) and not parsed:
        yield ""  # both SDKs sign an empty object as the empty string
    # Python SDK: sorted keys at every depth, compact, ASCII-escaped (json.dumps defaults).
    yield json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    yield json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if isinstance(parsed, dict):
        allowed = sorted(parsed)
        yield json.dumps(
            _node_canonical(parsed, allowed), ensure_ascii=False, separators=(",", ":")
        )


def signature_ok(
    request: Request,
    raw_body: bytes,
    credentials: Credentials,
    *,
    now_ms: int,
    window_ms: int,
) -> bool:
    """Verify `x-signature` = HMAC-SHA256(secret, `METHOD:PATH:TIMESTAMP:BODY`)."""
    signature = request.headers.get("x-signature")
    timestamp = request.headers.get("x-timestamp")
    sent_ms = ascii_int(timestamp, max_digits=16)
    if not signature or sent_ms is None:
        return False
    if abs(now_ms - sent_ms) > window_ms:
        return False
    # The SDKs sign the literal "/api/v1" + relative path whatever the real URL is; a client
    # that signs the path it really requested is accepted too.
    full_path = request.url.path
    root_path = request.scope.get("root_path", "")
    relative = full_path[len(root_path) :] if full_path.startswith(root_path) else full_path
    paths = dict.fromkeys([relative, full_path])
    key = credentials.secret_key.get_secret_value().encode()
    given = signature.strip().lower()
    method = request.method.upper()
    for path in paths:
        for body in dict.fromkeys(body_variants(raw_body)):
            payload = f"{method}:{path}:{timestamp}:{body}".encode()
            expected = hmac.new(key, payload, hashlib.sha256).hexdigest()
            if hmac.compare_digest(given.encode(), expected.encode()):
                return True
    return False
