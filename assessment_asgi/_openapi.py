"""The OpenAPI 3.1 document of `POST /session`, served at `<prefix>/openapi.json`.

Built from the same sources the endpoint uses — the pydantic `SessionRequest` and
the table of error codes — so the document cannot drift from the behaviour. The server URL
is the mount point the request came through (the sub-app's `root_path`).
"""

from __future__ import annotations

import copy
import functools
from collections import defaultdict
from typing import Any

from ._exceptions import ERROR_CODES
from ._models import SessionRequest
from ._version import __version__

OPENAPI_VERSION = "3.1.0"
# Component names carry the package's prefix so they can be merged into a host's schema
# (see ``contrib.fastapi``) without colliding with the host's own models.
SCHEMA_PREFIX = "Assessment"
SECURITY_SCHEME = "AssessmentBearer"

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Always `Bearer`", "schema": {"type": "string"}}},
    405: {"Allow": {"description": "`POST, OPTIONS`", "schema": {"type": "string"}}},
    409: {"Retry-After": {"description": "Seconds to wait before retrying with the same key",
                          "schema": {"type": "integer", "minimum": 1}}},
    429: {"Retry-After": {"description": "Seconds to wait before trying again",
                          "schema": {"type": "integer", "minimum": 1}}},
}
_NO_STORE = {"Cache-Control": {"description": "Always `no-store`", "schema": {"type": "string"}}}
_REPLAYED = {"Idempotent-Replayed": {
    "description": "`true` when this is the stored answer to an earlier request with the same "
                   "`Idempotency-Key` (the platform was not called again)",
    "schema": {"type": "string", "enum": ["true"]},
}}
# The IETF Idempotency-Key draft, as Stripe's API does it (see _idempotency.py).
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Optional, one per intent (a UUID per click): a retry with the same key and body gets "
        "the first answer back instead of a second session. Scoped to the recruiter; kept 24 h "
        "(`ASSESSMENT_IDEMPOTENCY_TTL`), never past the token's `expiresAt`. The same key with "
        "another body: 422 `idempotency_key_reused`; while the first is in progress: 409 "
        "`idempotency_key_in_flight`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{SCHEMA_PREFIX}{name}"}


def _schemas(max_users: int) -> dict[str, Any]:
    request = SessionRequest.model_json_schema(
        by_alias=True, ref_template=f"#/components/schemas/{SCHEMA_PREFIX}{{model}}"
    )
    defs = request.pop("$defs", {})
    # The app's configured limit is lower than the model's hard ceiling; the empty list is
    # refused with its own code (the docs' row), which JSON Schema says as minItems.
    request["properties"]["users"].update(minItems=1, maxItems=max_users)
    request["description"] = (
        "Candidates to invite. `recruiterId` and `recruiterEmail` may repeat the signed-in "
        "recruiter (from the bearer token), never contradict it. `workflowId` (optional) is "
        "forwarded to the platform."
    )
    schemas = {f"{SCHEMA_PREFIX}{name}": schema for name, schema in defs.items()}
    schemas[f"{SCHEMA_PREFIX}SessionRequest"] = request
    schemas[f"{SCHEMA_PREFIX}SessionCreated"] = {
        "title": "SessionCreated",
        "type": "object",
        "required": ["success", "data"],
        "properties": {
            "success": {"const": True},
            "data": {
                "type": "object",
                "required": ["token", "expiresAt"],
                "properties": {
                    "token": {"type": "string",
                              "description": "Single-use: pass to `AssessmentPortal.open({ token })`"},
                    "expiresAt": {"type": "string", "description": "When the token expires"},
                },
            },
        },
    }
    schemas[f"{SCHEMA_PREFIX}Error"] = {
        "title": "Error",
        "type": "object",
        "required": ["success", "error", "code"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string", "description": "A readable message, safe to show"},
            "code": {"type": "string", "enum": sorted(ERROR_CODES)},
            "details": {
                "type": "array",
                "description": "Field errors (never the submitted values)",
                "items": {
                    "type": "object",
                    "required": ["loc", "msg", "type"],
                    "properties": {
                        "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                        "msg": {"type": "string"},
                        "type": {"type": "string"},
                    },
                },
            },
        },
    }
    return schemas


def _error_responses() -> dict[str, Any]:
    by_status: dict[int, list[str]] = defaultdict(list)
    for code, (status, _) in ERROR_CODES.items():
        by_status[status].append(code)
    responses: dict[str, Any] = {}
    for status in sorted(by_status):
        codes = by_status[status]
        response: dict[str, Any] = {
            "description": "; ".join(f"`{c}`: {ERROR_CODES[c][1]}" for c in codes),
            "headers": {**_NO_STORE, **_HEADERS.get(status, {})},
            "content": {
                "application/json": {
                    "schema": {"allOf": [_ref("Error"), {"properties": {"code": {"enum": codes}}}]},
                    "example": {"success": False, "error": ERROR_CODES[codes[0]][1], "code": codes[0]},
                }
            },
        }
        responses[str(status)] = response
    return responses


def _operation() -> dict[str, Any]:
    return {
        "operationId": "createAssessmentSession",
        "summary": "Create a SmartAI assessment session",
        "description": (
            "Creates a platform session on behalf of the signed-in recruiter and returns a "
            "short-lived, single-use token for `AssessmentPortal.open({ token })`."
        ),
        "tags": ["assessment"],
        "security": [{SECURITY_SCHEME: []}],
        "parameters": [dict(_IDEMPOTENCY_KEY)],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("SessionRequest")}},
        },
        "responses": {
            "200": {
                "description": "The session token",
                "headers": {**_NO_STORE, **_REPLAYED},
                "content": {"application/json": {"schema": _ref("SessionCreated")}},
            },
            **_error_responses(),
        },
    }


@functools.lru_cache(maxsize=8)
def _document(max_users: int) -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "SmartAI assessment session endpoint",
            "version": _version(),
            "description": "Served by assessment-asgi.",
        },
        "paths": {"/session": {"post": _operation()}},
        "components": {
            "schemas": _schemas(max_users),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The host application's own recruiter token",
                }
            },
        },
    }


def _version() -> str:
    return __version__


def openapi_document(*, server_url: str = "/", max_users: int = 100) -> dict[str, Any]:
    """A fresh OpenAPI 3.1 document whose single server is `server_url` (the mount point)."""
    document = copy.deepcopy(_document(max_users))
    return {**document, "servers": [{"url": server_url or "/"}]}


def merge_into(schema: dict[str, Any], *, prefix: str, max_users: int = 100) -> None:
    """Add `POST <prefix>/session` and its components to a host's OpenAPI `schema`."""
    document = openapi_document(max_users=max_users)
    paths = schema.setdefault("paths", {})
    for path, item in document["paths"].items():
        paths[prefix + path] = item
    components = schema.setdefault("components", {})
    for kind, entries in document["components"].items():
        components.setdefault(kind, {}).update(entries)
