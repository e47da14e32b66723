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



def test_every_public_property_of_the_app_returns_an_exported_documented_type() -> None:
    # What `app.cors`, `app.telemetry`, … return can be imported, typed and read about.
    properties = {
        name: value
        for name, value in vars(assessment_asgi.AssessmentApp).items()
        if isinstance(value, property) and not name.startswith("_")
    }
    assert {"cors", "telemetry", "idempotency", "rate_limiter", "call_limiter"} <= set(properties)
    for name, prop in properties.items():
        annotation = prop.fget.__annotations__["return"] if prop.fget else None
        assert isinstance(annotation, str), name  # `from __future__ import annotations`
        parts = [part.strip() for part in annotation.split("|") if part.strip() != "None"]
        for part in parts:
            assert part in assessment_asgi.__all__, f"AssessmentApp.{name} returns {part}"
            exported = getattr(assessment_asgi, part)
            if isinstance(exported, type):
                assert (exported.__doc__ or "").strip(), part
        assert (prop.__doc__ or "").strip(), name
