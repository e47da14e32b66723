"""The docstrings the reference renders: one style (Google, plain backticks), nothing missing.

mkdocs renders Sphinx roles (``:class:`X` ``) and reST literal-block markers (a line ending in
``::``) as they are written, so a reader sees the markup. ``DEBT`` is what the docstrings still
carry from before the site; it may only shrink (the test fails on a new problem, and on a fixed
one still listed, so the list stays exact).
"""

from __future__ import annotations

import re

import griffe
import pytest

from tests.docs._pages import ROOT

MODULES = ("assessment_asgi", "assessment_asgi.platform", "assessment_asgi.sandbox")
ROLE = re.compile(r":(class|func|meth|attr|mod|data|exc|obj|ref|py:\w+):`")
LITERAL_BLOCK = re.compile(r"::\s*$", re.M)
DEBT: dict[str, set[str]] = {
    "Sphinx role": {
        "assessment_asgi.AssessmentApp",
        "assessment_asgi.AssessmentSettings",
        "assessment_asgi.JWTAuthenticator",
        "assessment_asgi.SmartAIClient",
        "assessment_asgi.platform.EventBatch",
        "assessment_asgi.platform.InvalidEvent",
        "assessment_asgi.platform.ResultsPoller",
        "assessment_asgi.platform.SmartAIClient",
    },
    "reST :: block": {
        "assessment_asgi.AssessmentApp",
        "assessment_asgi.AssessmentMiddleware",
        "assessment_asgi.AssessmentSettings",
        "assessment_asgi.AuthError",
        "assessment_asgi.ClaimsRecruiterResolver",
        "assessment_asgi.Credentials",
        "assessment_asgi.EnvironmentKeys",
        "assessment_asgi.HTTPException",
        "assessment_asgi.JWTAuthenticator",
        "assessment_asgi.PermissionDenied",
        "assessment_asgi.Recruiter",
        "assessment_asgi.SessionCreated",
        "assessment_asgi.SessionRefused",
        "assessment_asgi.SmartAIClient",
        "assessment_asgi.StaticKeys",
        "assessment_asgi.platform.Credentials",
        "assessment_asgi.platform.InvalidEvent",
        "assessment_asgi.platform.MemoryDedupStore",
        "assessment_asgi.platform.RedisDedupStore",
        "assessment_asgi.platform.ResultsPoller",
        "assessment_asgi.platform.RetryPolicy",
        "assessment_asgi.platform.SessionToken",
        "assessment_asgi.platform.SmartAIClient",
        "assessment_asgi.platform.Timeout",
        "assessment_asgi.sandbox.RecordedRequest",
        "assessment_asgi.sandbox.RequestRecorder",
        "assessment_asgi.sandbox.SandboxApp",
    },
    "no docstring": {
        "assessment_asgi.ERROR_CODES",
        "assessment_asgi.__version__",
    },
}


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
def test_the_docstrings_carry_no_new_markup_and_nothing_new_is_undocumented() -> None:
    assert problems() == DEBT
