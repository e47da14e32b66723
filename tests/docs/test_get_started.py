"""docs/get-started.md, followed step by step as a newcomer would, with real processes.

The sandbox command's own output gives the settings; the page's app.py and mint_token.py are
saved as files; the page's uvicorn and curl commands run in bash. Only the ports differ (free
ones instead of 8000 and 8001, which may be taken).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._servers import _wait_for_port, free_port
from tests.docs._pages import DOCS, ROOT, files, shell

PAGE = DOCS / "get-started.md"
SETTING = re.compile(r"^\s*(ASSESSMENT_[A-Z_]+)=(\S+)$")


@pytest.fixture
def bash_env(tmp_path: Path) -> dict[str, str]:
    """The reader's shell: the venv's python and uvicorn first on PATH, no ASSESSMENT_* yet."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("ASSESSMENT_")},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def sandbox_settings(bash_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """Step 2: the page's sandbox command; the ASSESSMENT_* lines it prints."""
    (command,) = [line for line in shell(PAGE, "assessment_asgi sandbox").splitlines() if line]
    process = subprocess.Popen(["bash", "-c", f"exec {command} --port {free_port()}"], cwd=tmp_path,
                               env=bash_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    settings: dict[str, str] = {}
    done = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if match := SETTING.match(line):
                settings[match[1]] = match[2]
            if len(settings) == 3:
                done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert done.wait(30), "the sandbox printed no settings"
        yield settings
    finally:
        process.terminate()
        process.wait(20)
        reader.join(5)
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.slow
def test_a_newcomer_gets_a_200_on_their_own_mount(
    sandbox_settings: dict[str, str], bash_env: dict[str, str], tmp_path: Path
) -> None:
    assert set(sandbox_settings) == {"ASSESSMENT_BASE_URL", "ASSESSMENT_API_KEY", "ASSESSMENT_SECRET_KEY"}
    exports = shell(PAGE, "export ASSESSMENT_JWT_SECRET")
    secret_line = next(line for line in exports.splitlines() if "ASSESSMENT_JWT_SECRET" in line)
    secret = subprocess.run(["bash", "-c", f"{secret_line}; echo $ASSESSMENT_JWT_SECRET"], env=bash_env,
                            capture_output=True, text=True, check=True).stdout.strip()
    env = {**bash_env, **sandbox_settings, "ASSESSMENT_JWT_SECRET": secret}
    for name in ("app.py", "mint_token.py"):
        (tmp_path / name).write_text(files(PAGE)[name], encoding="utf-8")

    port = free_port()
    (serve_line,) = [line for line in shell(PAGE, "uvicorn app:app").splitlines() if line]
    serve_line = serve_line.removesuffix("&").strip().replace("8000", str(port))
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(["bash", "-c", f"exec {serve_line}"], cwd=tmp_path, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, timeout=60)
            curl = shell(PAGE, "curl").replace("8000", str(port))
            answer = subprocess.run(["bash", "-c", curl], cwd=tmp_path, env=env, capture_output=True,
                                    text=True, timeout=60, check=True)
            refused = subprocess.run(["bash", "-c", re.sub(r'-H "Authorization[^\n]*\n', "", curl)],
                                     cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        finally:
            server.terminate()
            server.wait(20)
    body = json.loads(answer.stdout)
    assert body["success"] is True
    assert set(body["data"]) == {"token", "expiresAt"}
    assert json.loads(refused.stdout)["code"] == "unauthorized"
