"""Timeouts and the retry policy of the SmartAI client."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

from .._numbers import ascii_seconds
from .._seconds import backoff, seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout:
    """Time limits of one call, in seconds.

    `connect` bounds opening a connection, `read` the wait for each chunk of the answer
    (and for sending the request), `deadline` the whole call *including retries*:

    ```python
    Timeout(connect=3, read=10, deadline=15)
    ```
    """

    connect: float = 3.0
    read: float = 10.0
    deadline: float = 15.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "deadline"):
            object.__setattr__(self, name, seconds(f"timeout.{name}", getattr(self, name)))

    @classmethod
    def coerce(cls, value: Timeout | float | int, *, setting: str, base: Timeout) -> Timeout:
        """A `Timeout` from a `Timeout` or a plain deadline in seconds."""
        if isinstance(value, Timeout):
            return value
        deadline = seconds(setting, value)
        return cls(
            connect=min(base.connect, deadline),
            read=min(base.read, deadline),
            deadline=deadline,
        )


#: Every operation but campaign creation.
DEFAULT_TIMEOUT = Timeout(connect=3.0, read=10.0, deadline=15.0)
#: Campaign creation generates the assessment server-side: 20-30 s or more.
DEFAULT_CAMPAIGN_TIMEOUT = Timeout(connect=3.0, read=120.0, deadline=150.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When and how long to wait before trying again.

    `attempts` counts the first try (1 = never retry). Waits grow as `backoff * 2**n`
    up to `max_backoff` with full jitter; a sane `Retry-After` (at most
    `max_retry_after` seconds) replaces the computed wait. No wait ever runs past the
    call's deadline, and a longer `Retry-After` is not waited for: the last error (with
    its `retry_after`) is raised instead:

    ```python
    RetryPolicy(attempts=4, backoff=0.5)
    ```
    """

    attempts: int = 3
    backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise TypeError("retry.attempts must be an int")
        if not 1 <= self.attempts <= 20:
            raise ValueError(f"retry.attempts must be between 1 and 20, got {self.attempts}")
        object.__setattr__(self, "backoff", seconds("retry.backoff", self.backoff))
        object.__setattr__(self, "max_backoff", seconds("retry.max_backoff", self.max_backoff))
        object.__setattr__(self, "max_retry_after", seconds("retry.max_retry_after", self.max_retry_after))

    @classmethod
    def coerce(cls, value: RetryPolicy | int) -> RetryPolicy:
        if isinstance(value, RetryPolicy):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"retry must be a RetryPolicy or an int, got {type(value).__name__}")
        return cls(attempts=value)

    def delay(self, retry_number: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry `retry_number` (1-based); None: do not retry.

        A valid `Retry-After` above `max_retry_after` means giving up now: retrying
        sooner than the platform asked would only be refused again.
        """
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return backoff(retry_number, base=self.backoff, cap=self.max_backoff)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date); None if garbage."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    # ASCII digits only (see _numbers.py); not RFC 9110, but some servers send "1.5".
    seconds = ascii_seconds(text)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
