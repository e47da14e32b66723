"""Platform credentials: the API key and the secret key, never shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from .._rules import check_key

TEST_KEY_PREFIX = "wc_ak_test_"
TEST_SECRET_PREFIX = "wc_sk_test_"  # noqa: S105 - a prefix, not a secret
# C0 controls and DEL (CR/LF, NUL, tab...): a header value carrying one is refused (or worse,
# split) by the HTTP library, and some libraries quote the whole value in their error message.
def _secret(value: str | SecretStr) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        return SecretStr(value)
    raise TypeError(f"expected str or SecretStr, got {type(value).__name__}")


@dataclass(frozen=True, slots=True, init=False)
class Credentials:
    """The server-side key pair from the SmartAI dashboard.

    `repr()` and `str()` never show either value. A key with a control character or
    surrounding whitespace raises `ConfigurationError` naming it:

    ```python
    creds = Credentials("wc_ak_test_…", "wc_sk_test_…")
    ```
    """

    api_key: SecretStr = field()
    secret_key: SecretStr = field()

    def __init__(self, api_key: str | SecretStr, secret_key: str | SecretStr) -> None:
        api = _secret(api_key)
        secret = _secret(secret_key)
        if not api.get_secret_value():
            raise ValueError("api_key must not be empty")
        if not secret.get_secret_value():
            raise ValueError("secret_key must not be empty")
        check_key(api.get_secret_value(), "api_key")
        check_key(secret.get_secret_value(), "secret_key")
        object.__setattr__(self, "api_key", api)
        object.__setattr__(self, "secret_key", secret)

    @property
    def is_test(self) -> bool:
        """True for the docs' test-mode keys (`wc_ak_test_…`)."""
        return self.api_key.get_secret_value().startswith(TEST_KEY_PREFIX)

    def __repr__(self) -> str:
        mode = "test" if self.is_test else "live"
        return f"Credentials(api_key='**********', secret_key='**********', mode={mode!r})"

    __str__ = __repr__
