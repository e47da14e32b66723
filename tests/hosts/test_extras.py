"""Host adapters are optional: without their host they name the extra; none imports another."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ADAPTERS = ["fastapi", "litestar", "quart"]


@pytest.mark.parametrize("host", ADAPTERS)
def test_importing_an_adapter_without_its_host_names_the_extra(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == host or m.startswith(f"{host}.")]:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, host, None)  # type: ignore[arg-type]
    monkeypatch.delitem(sys.modules, f"assessment_asgi.contrib.{host}", raising=False)
    with pytest.raises(ImportError, match=rf'pip install "assessment-asgi\[{host}\]"'):
        importlib.import_module(f"assessment_asgi.contrib.{host}")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_no_adapter_imports_another_host(adapter: str) -> None:
    tree = ast.parse((ROOT / "assessment_asgi" / "contrib" / f"{adapter}.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    hosts = {name.split(".")[0] for name in imported} & {"fastapi", "litestar", "quart", "django"}
    assert hosts == {adapter}


def test_the_package_itself_imports_no_host() -> None:
    script = ("import sys, assessment_asgi, assessment_asgi.contrib; "
              "print([h for h in ('fastapi', 'litestar', 'quart') if h in sys.modules])")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            timeout=60, cwd=ROOT)
    assert result.stdout.strip() == "[]"
