"""Request signing: one canonical serialisation, signed bytes = sent bytes."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_json(body: Any) -> bytes:
    """Compact JSON, keys sorted at every depth, ASCII only: the bytes we sign *and* send."""
    return _CANONICAL.encode(body).encode("ascii")


def signature(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of `METHOD:PATH:TIMESTAMP:BODY` keyed with the secret."""
    message = b":".join(
        (method.upper().encode("ascii"), path.encode("utf-8"), timestamp.encode("ascii"), body)
    )
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
