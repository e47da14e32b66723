"""Durations: the one rule for a number of seconds, and the one back-off with jitter.

A duration is a finite number: `nan`, `inf` and negatives are refused everywhere, and
zero too unless the parameter says zero means "none" (`zero_ok`). `inf` is not "never":
a TTL or a timeout of `inf` is a mistake to report, not a value to sleep on:

```python
seconds("claim_ttl", 30)             # 30.0
seconds("interval", 2, at_least=5)   # ValueError: interval must be at least 5 seconds
```
"""

from __future__ import annotations

import random
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

__all__ = ["Seconds", "SecondsOrZero", "backoff", "seconds"]

#: A finite number of seconds above 0 (for pydantic models and settings).
Seconds = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
#: A finite number of seconds, 0 allowed.
SecondsOrZero = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]

_POSITIVE: TypeAdapter[float] = TypeAdapter(Seconds)
_OR_ZERO: TypeAdapter[float] = TypeAdapter(SecondsOrZero)


def seconds(name: str, value: object, *, at_least: float | None = None, zero_ok: bool = False) -> float:
    """`value` as float seconds: finite, above 0 (or 0 with `zero_ok`), and at least
    `at_least` when given. `TypeError` for a non-number (bools included), `ValueError`
    for a bad number; both messages name the parameter."""
    try:
        number = (_OR_ZERO if zero_ok else _POSITIVE).validate_python(value)
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "float_type":
            raise TypeError(
                f"{name} must be a number of seconds, got {type(value).__name__}"
            ) from None
        bound = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}") from None
    if at_least is not None and number < at_least:
        raise ValueError(f"{name} must be at least {at_least:g} seconds, got {value!r}")
    return number


def backoff(failures: int, *, base: float, cap: float, floor: float = 0.0) -> float:
    """Seconds to wait after `failures` (1 or more) failures in a row: exponential with
    full jitter, a random wait up to `min(cap, base * 2 ** (failures - 1))`, never below
    `floor`."""
    ceiling = min(cap, base * 2 ** min(failures - 1, 32))
    return max(floor, random.uniform(0, ceiling))  # noqa: S311 - jitter, not cryptography
