"""``scripts/_bootstrap.sh`` (behind ``./scripts/example`` and ``./scripts/test``) as a first run
meets it: install once, then start offline; apt says what it installs; no service left behind.

The scripts run for real in a scratch copy of the project. Only the system's installers are
stand-ins (a test must not install packages or touch the machine's services): ``python -m pip``
is a recording module put first on ``PYTHONPATH``, and ``apt-get``, ``systemctl``,
``update-rc.d`` and ``id`` are recording scripts first on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "_bootstrap.sh", copy / "scripts")
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def _recorder(directory: Path, name: str, log: Path, body: str = "") -> None:
    script = directory / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def _bootstrap(project: Path, tmp_path: Path, then: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "ASSESSMENT_"))}
    env.update(PYTHON=sys.executable, PYTHONPATH=str(tmp_path / "fakepip"), **extra)
    return subprocess.run(
        ["bash", "-c", f'source scripts/_bootstrap.sh "-e .[server]"; {then}'],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_install_runs_once_and_again_only_when_pyproject_changes(
    project: Path, tmp_path: Path
) -> None:
    log = tmp_path / "pip.log"
    fake = tmp_path / "fakepip" / "pip"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        f"import sys\nwith open({str(log)!r}, 'a') as f:\n    f.write(' '.join(sys.argv[1:]) + '\\n')\n"
    )
    first = _bootstrap(project, tmp_path, "echo ready")
    assert first.returncode == 0, first.stderr
    installs = log.read_text().splitlines()
    assert any("-e .[server]" in line for line in installs)
    assert "one time" in first.stderr  # the first run says it is installing

    second = _bootstrap(project, tmp_path, "echo ready")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "ready\n"
    assert log.read_text().splitlines() == installs  # nothing installed: no network needed

    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a dependency changed\n")
    third = _bootstrap(project, tmp_path, "echo ready")
    assert third.returncode == 0, third.stderr
    assert len(log.read_text().splitlines()) == 2 * len(installs)


def test_apt_names_what_it_installs_starts_no_service_and_leaves_none_enabled(
    project: Path, tmp_path: Path
) -> None:
    (tmp_path / "fakepip" / "pip").mkdir(parents=True)
    (tmp_path / "fakepip" / "pip" / "__init__.py").write_text("")
    (tmp_path / "fakepip" / "pip" / "__main__.py").write_text("")
    (project / ".venv" / "bin").mkdir(parents=True)  # a venv exists: only apt is under test
    (project / ".venv" / "bin" / "python").symlink_to(sys.executable)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "system.log"
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\n# the machine's own policy\nexit 0\n")
    # What policy-rc.d says while apt-get runs: 101 means "start no service".
    _recorder(bin_dir, "apt-get", log, f'sh "{policy}"; echo "policy $?" >> "{log}"')
    _recorder(bin_dir, "systemctl", log)
    _recorder(bin_dir, "update-rc.d", log)
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")
    (bin_dir / "id").chmod(0o755)
    done = _bootstrap(
        project, tmp_path,
        "ensure_debian_packages no-such-command-a:redis-server no-such-command-b:nodejs "
        "sh:dash",
        PATH=f"{bin_dir}:{os.environ['PATH']}", POLICY_RC_D=str(policy),
    )
    assert done.returncode == 0, done.stderr
    apt_lines = [line for line in done.stderr.splitlines() if "apt" in line]
    assert apt_lines == ["Installing with apt-get (one time, about a minute): redis-server nodejs"]
    calls = log.read_text().splitlines()
    install = next(i for i, c in enumerate(calls) if c.startswith("apt-get") and "install" in c)
    assert "redis-server nodejs" in calls[install]
    assert calls[install + 1] == "policy 101"  # no service started during the install
    assert "systemctl disable --quiet redis-server.service" in calls
    assert "update-rc.d redis-server disable" in calls
    assert policy.read_text() == "#!/bin/sh\n# the machine's own policy\nexit 0\n"  # restored
