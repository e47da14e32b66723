"""One import site: ``assessment_asgi.platform`` exports every public name, sorted."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import assessment_asgi.platform as platform


def test_all_is_sorted_and_importable() -> None:
    assert platform.__all__ == sorted(platform.__all__)
    for name in platform.__all__:
        assert getattr(platform, name).__module__.startswith("assessment_asgi.platform")


def test_every_public_class_of_the_private_modules_is_exported() -> None:
    skip = {"_engines", "_poll_cli"}  # the transport seam (internal) and a command line
    missing = []
    for module_info in pkgutil.iter_modules(platform.__path__):
        if module_info.name in skip:
            continue
        module = importlib.import_module(f"assessment_asgi.platform.{module_info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and value.__module__ == module.__name__
                and not name.startswith("_")
                and name not in {"Op", "Failure", "Caller", "Trace"}  # internals of the client
                and name not in platform.__all__
            ):
                missing.append(f"{module_info.name}.{name}")
    assert missing == []
