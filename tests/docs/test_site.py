"""The documentation site builds strictly, its reference names every public name, and no page
speaks of a development machine."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs._pages import DOCS, ROOT

REFERENCE = {  # module → its reference page in the built site
    "assessment_asgi": "reference/assessment_asgi/index.html",
    "assessment_asgi.platform": "reference/platform/index.html",
    "assessment_asgi.sandbox": "reference/sandbox/index.html",
}
# A development machine's paths and internal branch names.
MACHINE = re.compile(r"/work/|/tmp/\S*\.sh\b|/root/|\bissue-\d+\b")


def build(project: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict``, as scripts/docs runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(project)},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = build(ROOT, out)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("line", "complaint"), [
    ("See [the poller](result.md).", "result.md"),
    ("See [the poller](results.md#no-such-section).", "no-such-section"),
    ("See [`SmartAIClient`][assessment_asgi.platform.SmartAIKlient].", "SmartAIKlient"),
])
def test_a_broken_link_or_reference_fails_the_build(line: str, complaint: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    for part in ("docs", "assessment_asgi", "benchmarks/results"):
        shutil.copytree(ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("mkdocs.yml", "README.md", "CHANGELOG.md"):
        shutil.copy(ROOT / part, project / part)
    with (project / "docs" / "get-started.md").open("a", encoding="utf-8") as page:
        page.write(f"\n{line}\n")
    built = build(project, tmp_path / "site")
    assert built.returncode != 0
    assert complaint in built.stdout + built.stderr


@pytest.mark.slow
@pytest.mark.parametrize("module", list(REFERENCE))
def test_the_reference_names_every_public_name(site: Path, module: str) -> None:
    page = (site / REFERENCE[module]).read_text(encoding="utf-8")
    names = importlib.import_module(module).__all__
    assert [name for name in names if f'id="{module}.{name}"' not in page] == []


@pytest.mark.slow
def test_every_page_is_in_the_site_but_the_internal_notes(site: Path) -> None:
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md")}
    built = {p for p in pages if (site / ("" if p == "index" else p) / "index.html").is_file()}
    assert pages - built == {"mutation"}


def test_no_page_carries_a_machine_path_or_a_branch_name() -> None:
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "CONTRIBUTING.md", *DOCS.rglob("*.md"),
             ROOT / "benchmarks" / "README.md", *(ROOT / "benchmarks" / "results").glob("*.md")]
    found = [f"{page.relative_to(ROOT)}:{n}: {line.strip()}" for page in pages
             for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
             if MACHINE.search(line)]
    assert found == []


def test_the_check_finds_what_it_looks_for() -> None:
    for line in ("git clone /work/wt/i14 x", "/tmp/i14_measure.sh a b", "see /root/.cache",
                 "after (`issue-14` at 3c5a58f)"):
        assert MACHINE.search(line), line
    assert not MACHINE.search("issues 18 to 21; see the issue tracker; /tmp/x.log")


def test_every_test_file_the_docs_cite_exists() -> None:
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *DOCS.rglob("*.md")]
    cited = {path.rstrip("/") for page in pages
             for path in re.findall(r"`(tests/[\w/.]+)`", page.read_text(encoding="utf-8"))}
    assert len(cited) > 10
    assert sorted(path for path in cited if not (ROOT / path).exists()) == []


def test_the_readme_and_the_notes_beside_it_link_to_files_that_exist() -> None:
    """mkdocs checks the site's links; these pages live outside it (the repository's front page)."""
    broken = []
    for page in (ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"):
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path = target.split("#", 1)[0]
            if path and not re.match(r"[a-z]+:", path) and not (ROOT / path).exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []
