"""The package's shape: no import circle (type-only imports included), no module over 400 lines,
and the one-way direction from settings to components."""

from __future__ import annotations

import ast
from pathlib import Path

import assessment_asgi

ROOT = Path(assessment_asgi.__file__).parent
PACKAGE = "assessment_asgi"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module ``name`` lives in: itself, or the nearest package holding it."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Every package module ``module`` imports: at the top, in functions, under TYPE_CHECKING."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from . import _build` imports the module `_build`; `from .x import Name` imports x.
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if node.module:
                targets.append(base)
        for target in targets:
            if target.split(".")[0] != PACKAGE:
                continue
            resolved = _resolve(target)
            if resolved is None or resolved == module:
                continue
            found.add(resolved)
            # Importing `pkg.sub.mod` runs `pkg/sub/__init__.py` first: from outside `pkg.sub`,
            # that is an import of the package too (the root package is where everyone starts).
            parts = resolved.split(".")
            for depth in range(2, len(parts)):
                parent = ".".join(parts[:depth])
                if parent in MODULES and not module.startswith(parent + ".") and module != parent:
                    found.add(parent)
    # `from .x import Name` adds both `.x.Name` (resolving to x) and `.x`: the same module.
    return found


def _cycles() -> list[list[str]]:
    graph = {module: sorted(imports_of(module)) for module in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in graph[module]:
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_the_import_graph_is_read_whole() -> None:
    # The parse sees relative, absolute, function-level and TYPE_CHECKING imports.
    assert "assessment_asgi._settings" in imports_of("assessment_asgi._build")
    assert "assessment_asgi._build" in imports_of("assessment_asgi._app")  # `from . import _build`
    assert "assessment_asgi.sandbox" in imports_of("assessment_asgi._doctor")  # inside a function
    assert "assessment_asgi.platform._credentials" in imports_of("assessment_asgi.sandbox._cli")
    # ... and the package a module lives in, which Python runs first.
    assert "assessment_asgi.platform" in imports_of("assessment_asgi.sandbox._cli")
    assert "assessment_asgi.platform" not in imports_of("assessment_asgi.platform._client")


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert _cycles() == []


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT.parent)): count
        for path in MODULES.values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_settings_and_leaf_utilities_import_no_component() -> None:
    # Settings are read and checked first, components are built from them: never the reverse.
    allowed = {"assessment_asgi._exceptions", "assessment_asgi._urls", "assessment_asgi._rules"}
    assert imports_of("assessment_asgi._settings") <= allowed
    assert imports_of("assessment_asgi._redact") == set()  # a leaf utility: nothing of ours


def test_only_the_settings_module_reads_the_environment_or_a_dotenv_file() -> None:
    # One reader of configuration (AssessmentSettings and its module): the app, the
    # commands (poll, sandbox, doctor) and every component get checked values from it.
    readers = set()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            environ = isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}
            dotenv = isinstance(node, ast.ImportFrom | ast.Import) and any(
                name.startswith("dotenv")
                for name in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                + [alias.name for alias in node.names]
            )
            if environ or dotenv:
                readers.add(module)
    assert readers == {"assessment_asgi._settings"}
