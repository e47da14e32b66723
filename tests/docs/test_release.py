"""The sdist and the wheel: what they ship, the one version, the project's metadata.

Built as CI builds them (``python -m build --no-isolation``: the pinned hatchling, no network).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import assessment_asgi
from tests.docs._pages import ROOT


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def package_files() -> set[str]:
    """The package's own files as the repository has them."""
    tracked = subprocess.run(["git", "ls-files", "assessment_asgi"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    return set(tracked)


@pytest.mark.slow
def test_the_sdist_ships_the_package_and_its_documents_and_no_tests(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    files = {name for name in names if not any(other.startswith(f"{name}/") for other in names)}
    assert files == package_files() | {
        "README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO", ".gitignore"}


@pytest.mark.slow
def test_the_wheel_ships_the_package_with_its_version_and_urls(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    version = assessment_asgi.__version__
    assert wheel.name == f"assessment_asgi-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(f"assessment_asgi-{version}.dist-info/METADATA").decode())
    assert {n for n in names if ".dist-info/" not in n} == package_files()
    assert metadata["Version"] == version
    urls = {value.split(",", 1)[0] for value in metadata.get_all("Project-URL") or []}
    assert urls == {"Documentation", "Changelog", "Issues", "Source"}
    assert metadata["Description-Content-Type"] == "text/markdown"


@pytest.mark.slow
def test_twine_accepts_both(dist: Path) -> None:
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
                             capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_changelog_names_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{assessment_asgi.__version__}]" in changelog
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8").split("[project]")[1].split("\n[")[0]
    assert "version = " not in project  # one version source: the build reads __version__
