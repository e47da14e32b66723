"""Run every complete Python block of one Markdown page, in order, in one namespace (Sybil).

``python -m tests.docs._run PAGE.md`` exits 0 when every block ran, and with the failing
block's traceback (file and line of the page) otherwise. Each page runs in a process of its
own: blocks set process-wide state (an OpenTelemetry provider, Django's settings) that must
not leak into the rest of the suite or into the next page.

Which blocks run: a fence whose info string is exactly ``python``. A block that is not
complete on its own says so where the reader sees it, with a title: ```` ```python
title="Fragment: …" ````; a file of a project (```` ```python title="mysite/settings.py" ````)
is run by the test that builds that project (``tests/docs/test_examples.py`` checks that
every Python fence is one of these three kinds).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser


def run(page: Path) -> int:
    document = Sybil(parsers=[PythonCodeBlockParser()]).parse(page)
    document.namespace["__name__"] = "docs_page"  # a module of its own, as a reader's file is
    count = 0
    for example in document.examples():
        example.evaluate()
        count += 1
    print(f"{page}: {count} block(s) ran")
    return count


if __name__ == "__main__":
    run(Path(sys.argv[1]).resolve())
