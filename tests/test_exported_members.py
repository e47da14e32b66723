"""The public API is exactly ``assessment_asgi.__all__``: complete, and kept sorted."""

from __future__ import annotations
import __future__

import types

import assessment_asgi


def _ruff_order(name: str) -> tuple[int, str]:
    # ruff's RUF022 ("isort-style"): SCREAMING_CASE, then CamelCase, then everything else.
    if name.isupper() and len(name) > 1:
        return 0, name
    if name[:1].isupper():
        return 1, name
    return 2, name


def test_all_public_names_are_exported_and_sorted() -> None:
    public = [
        name
        for name, value in vars(assessment_asgi).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    ]
    assert sorted(assessment_asgi.__all__, key=_ruff_order) == assessment_asgi.__all__
    assert sorted(public, key=_ruff_order) == assessment_asgi.__all__

