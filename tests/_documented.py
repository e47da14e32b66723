"""The error codes and statuses as the README documents them, written out by hand.

Tests compare the package, its OpenAPI document and the README against this table, never the
package against itself: a code renamed or a status changed must fail a test. A new code is a
new row here, in the README and in ``ERROR_CODES``.
"""

from __future__ import annotations

DOCUMENTED_CODES: dict[str, int] = {
    "invalid_json": 400,
    "invalid_body": 400,
    "users_required": 400,
    "too_many_users": 400,
    "recruiter_required": 400,
    "invalid_idempotency_key": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "recruiter_mismatch": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "idempotency_key_in_flight": 409,
    "request_timeout": 408,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "platform_rate_limited": 429,
    "internal_error": 500,
    "not_configured": 500,
    "platform_error": 502,
    "platform_auth_failed": 502,
    "platform_rejected": 502,
    "service_unavailable": 503,
    "platform_timeout": 504,
}
