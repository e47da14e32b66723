"""The one capped body read, for requests the app receives and answers its clients read.

One rule: a declared length (`Content-Length`) is read with `ascii_int` (ASCII digits
only, so `²` is "not a number", never a crash) and refused before any byte when over the
cap; the bytes that do arrive are counted, so neither a lie nor a missing header gets past
the cap. Each caller turns `BadLength` and `OverCap` into its own answer (a 400 or 413,
an `EngineError`, a refused key document):

```python
body = Capped(4096, headers.get("content-length"))
for chunk in chunks:
    body.add(chunk)
data = body.value()
```
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from ._numbers import ascii_int

__all__ = ["BadLength", "Capped", "OverCap", "declared_length", "read_capped"]


class BadLength(Exception):
    """The declared length is not a number in ASCII digits."""


class OverCap(Exception):
    """The body is (or declares itself) larger than the cap."""


def declared_length(value: str | bytes | None, cap: int) -> int | None:
    """The declared length, None when none is declared; `BadLength` or `OverCap`."""
    if value is None:
        return None
    length = ascii_int(value, max_digits=19)
    if length is None:
        raise BadLength
    if length > cap:
        raise OverCap
    return length


class Capped:
    """A body being collected: at most `cap` bytes, the declared length checked first."""

    __slots__ = ("_chunks", "_size", "cap", "declared")

    def __init__(self, cap: int, declared: str | bytes | None = None) -> None:
        self.cap = cap
        self.declared = declared_length(declared, cap)
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Keep `chunk`; `OverCap` once the bytes so far exceed the cap."""
        self._size += len(chunk)
        if self._size > self.cap:
            raise OverCap
        self._chunks.append(chunk)

    def value(self) -> bytes:
        return b"".join(self._chunks)


async def read_capped(
    chunks: AsyncIterable[bytes], cap: int, declared: str | bytes | None = None
) -> bytes:
    """Every chunk of a stream, or `BadLength`/`OverCap` as soon as that is known."""
    body = Capped(cap, declared)
    async for chunk in chunks:
        body.add(chunk)
    return body.value()
