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
    "duplicate_content_type": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "recruiter_mismatch": 403,
    "tenant_required": 403,
    "tenant_unknown": 403,
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
    "keys_unavailable": 503,
    "idempotency_store_full": 503,
    "platform_timeout": 504,
}

# The `error` text a frontend shows when the app has nothing more specific to say.
DEFAULT_MESSAGES: dict[str, str] = {
    "invalid_json": "The request body is not valid JSON",
    "invalid_body": "The request body is invalid",
    "users_required": "users must be a non-empty list of {name, email}",
    "too_many_users": "Too many users in one session",
    "recruiter_required": "Provide recruiterId or recruiterEmail",
    "invalid_idempotency_key": "Idempotency-Key must be 1-255 printable ASCII characters",
    "duplicate_content_type": "Send exactly one Content-Type header",
    "unauthorized": "Authentication required",
    "forbidden": "Not allowed",
    "recruiter_mismatch": "The recruiter in the body does not match the signed-in recruiter",
    "tenant_required": "The sign-in token does not name a valid organisation",
    "tenant_unknown": "This organisation has no assessment platform account here",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "idempotency_key_in_flight": "A request with this Idempotency-Key is still in progress",
    "request_timeout": "The request body was not received in time",
    "payload_too_large": "The request body is too large",
    "unsupported_media_type": "Content-Type must be application/json",
    "idempotency_key_reused": "This Idempotency-Key was already used with another request body",
    "rate_limited": "Too many requests",
    "platform_rate_limited": "The assessment platform is rate limiting this server",
    "internal_error": "Internal server error",
    "not_configured": "The assessment endpoint is not configured on the server",
    "platform_error": "The assessment platform failed to answer properly",
    "platform_auth_failed": "The assessment platform refused this server's credentials",
    "platform_rejected": "The assessment platform refused the request",
    "service_unavailable": "Service temporarily unavailable",
    "keys_unavailable": "The platform keys could not be loaded; try again shortly",
    "idempotency_store_full": (
        "Too many requests with an Idempotency-Key are in progress; try again shortly"
    ),
    "platform_timeout": "The assessment platform did not answer in time",
}
