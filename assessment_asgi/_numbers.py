"""Numbers from the wire: ASCII digits only.

`str.isdigit()` is true for `²` or `٣`, and `int()` then fails (`²`) or reads a
number no HTTP peer meant (`٣`). Every header or query number the package reads goes
through `ascii_int`, so a stray character is "no number", never a crash.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")
_DIGITS_BYTES = re.compile(rb"[0-9]+")


def ascii_int(value: str | bytes | None, *, max_digits: int = 18) -> int | None:
    """The non-negative integer spelled by `value` in ASCII digits, else None.

    `max_digits` bounds the work and the size (no 10,000-digit numbers):

    ```python
    ascii_int("120") == 120;  ascii_int("²") is None;  ascii_int(" 1") is None
    ```
    """
    if value is None or not 0 < len(value) <= max_digits:
        return None
    if isinstance(value, bytes):
        return int(value) if _DIGITS_BYTES.fullmatch(value) else None
    return int(value) if _DIGITS.fullmatch(value) else None


_DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,9})?")


def ascii_seconds(value: str) -> float | None:
    """`"120"` or `"1.5"` (ASCII digits, one optional fraction) as seconds, else None."""
    return float(value) if _DECIMAL.fullmatch(value) else None
