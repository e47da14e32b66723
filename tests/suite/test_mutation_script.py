"""``scripts/mutation`` in a fresh clone: asking for a score that was never measured says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["--score", "--recheck"])
def test_no_past_run_is_one_clear_line_not_a_traceback(mode: str, tmp_path: Path) -> None:
    runs = tmp_path / "mutation"  # as in a fresh clone: no run directory at all
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "mutation"), mode, "body"],
        cwd=ROOT, env={**os.environ, "MUTATION_WORK": str(runs)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 1
    assert f"no past run of body (no {runs / 'body'}): run scripts/mutation body first" in done.stdout
    assert "Traceback" not in done.stderr
    assert done.stderr == ""
    assert "setting up" not in done.stdout  # no venv is built just to find nothing
    assert not runs.exists()
