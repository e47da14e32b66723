"""The docstrings the reference renders: one style (Google, plain backticks), nothing missing.

mkdocs renders Sphinx roles (``:class:`X` ``) and reST literal-block markers (a line ending in
``::``) as they are written, so a reader sees the markup: examples are fenced ```` ```python ````
blocks, names are in plain backticks. No public name (nor a public member of one) may carry
either, and none may go without a docstring.
"""

from __future__ import annotations

import re

import griffe
import pytest

from tests.docs._pages import ROOT

MODULES = ("assessment_asgi", "assessment_asgi.platform", "assessment_asgi.sandbox")
ROLE = re.compile(r":(class|func|meth|attr|mod|data|exc|obj|ref|py:\w+):`")
LITERAL_BLOCK = re.compile(r"::\s*$", re.M)
def problems() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module in MODULES:
        package = griffe.load(module, search_paths=[str(ROOT)], resolve_aliases=True)
        for name in package.exports or []:
            public = package[name]
            members = [m for n, m in public.members.items() if not n.startswith("_") and not m.is_alias] \
                if public.is_class else []
            for obj in (public, *members):
                path = f"{module}.{name}" + ("" if obj is public else f".{obj.name}")
                if obj.docstring is None:
                    if obj is public or obj.is_function:
                        found.setdefault("no docstring", set()).add(path)
                    continue
                if ROLE.search(obj.docstring.value):
                    found.setdefault("Sphinx role", set()).add(path)
                if LITERAL_BLOCK.search(obj.docstring.value):
                    found.setdefault("reST :: block", set()).add(path)
    return found


@pytest.mark.slow
def test_the_docstrings_carry_no_rest_markup_and_every_public_name_is_documented() -> None:
    assert problems() == {}
