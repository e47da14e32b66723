"""Every complete Python block of the README and of docs/ runs as written (tests/docs/_run.py).

Each page runs in a process of its own, in a fresh directory, with ``ASSESSMENT_*`` pointing at
a real sandbox on loopback — the way a reader configures it — and warnings as errors.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY
from tests._features import Sandbox, running_sandbox

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^[ \t]*```(?P<info>[^\n`]*)$", re.M)
# Project files in a page, written to disk and run by the test that builds that project.
PROJECT_PAGES = {"hosts.md": "tests/hosts/test_django.py", "get-started.md": "tests/docs/test_get_started.py"}


def python_fences(page: Path) -> list[str]:
    """The info string of every fence that opens a Python block."""
    opened, infos = False, []
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        info = match["info"].strip()
        if not opened and info.split(" ", 1)[0] in {"python", "py", "python3", "pycon"}:
            infos.append(info)
        opened = not opened if (opened or info) else True
    return infos


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as running:
        yield running


def test_every_python_block_is_complete_a_marked_fragment_or_a_project_file() -> None:
    kinds = re.compile(r'python( title="(Fragment: [^"]+|[\w/.-]+\.py)")?')
    odd = {f"{page.relative_to(ROOT)}: {info}" for page in PAGES for info in python_fences(page)
           if not kinds.fullmatch(info)}
    assert odd == set()
    with_files = {page.name for page in PAGES
                  if any(info.endswith('.py"') for info in python_fences(page))}
    assert with_files <= set(PROJECT_PAGES)
    for test in PROJECT_PAGES.values():
        assert (ROOT / test).is_file()


def test_the_readme_and_the_site_have_complete_blocks() -> None:
    complete = {page.name for page in PAGES if "python" in python_fences(page)}
    assert {"README.md", "hosts.md", "platform-client.md", "results.md", "telemetry.md"} <= complete


RUNNABLE = [page for page in PAGES if "python" in python_fences(page)]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_the_page_runs_as_written(page: Path, sandbox: Sandbox, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ASSESSMENT_BASE_URL": sandbox.platform_url,
           "ASSESSMENT_API_KEY": API_KEY, "ASSESSMENT_SECRET_KEY": SECRET_KEY,
           "ASSESSMENT_JWT_SECRET": JWT_SECRET}
    ran = subprocess.run(
        [sys.executable, "-W", "error", "-m", "tests.docs._run", str(page)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90, check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f": {python_fences(page).count('python')} block(s) ran" in ran.stdout


def test_the_readmes_two_commands_are_the_repositorys_scripts() -> None:
    """The README's first commands; what they run is tested by tests/example (the app, and
    test_first_run.py: the install behind both)."""
    first = re.search(r"^```bash\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S)
    assert first is not None
    commands = [line.split("#", 1)[0].strip() for line in first.group(1).splitlines()]
    assert commands == ["./scripts/example", "./scripts/test"]
    for command in commands:
        assert os.access(ROOT / command, os.X_OK)
