"""The official Node SDK, @recordorg/smartai-assessment-backend 1.0.12, against the sandbox.

Skipped only when no ``node`` is on PATH (CI has it). Its package is pinned in
``tests/sandbox/node/package-lock.json``: ``npm ci --prefix tests/sandbox/node`` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Running

NODE = shutil.which("node")
HERE = Path(__file__).parent / "node"
STATIC = Path(__file__).parents[2] / "assessment_asgi" / "sandbox" / "_static"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _require_sdk() -> None:
    package = HERE / "node_modules" / "@recordorg" / "smartai-assessment-backend"
    if not package.is_dir():
        pytest.fail("the Node SDK is not installed: run `npm ci --prefix tests/sandbox/node`")


def test_every_method_of_the_node_sdk(sandbox: Running) -> None:
    _require_sdk()
    assert NODE is not None
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SANDBOX_URL": sandbox.url,
        "SANDBOX_API_KEY": sandbox.api_key,
        "SANDBOX_SECRET_KEY": sandbox.secret_key,
    }
    done = subprocess.run(
        [NODE, str(HERE / "run_sdk.js")], cwd=HERE, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

    assert out["bulk"]["token"].count(".") == 2
    assert out["bulk"]["expiresAt"].endswith("Z")
    assert out["single"]["token"] != out["bulk"]["token"]
    assert [c["email"] for c in out["opened"]["candidates"]] == [
        "node1@example.com", "node2@example.com"]
    assert [a["assessmentId"] for a in out["assessments"]] == [out["opened"]["assessmentId"]]
    [event] = out["events"]["events"]
    assert event["event"] == "assessment.completed"
    assert event["candidateEmail"] == "node2@example.com"
    assert out["acknowledged"] == {"acknowledged": 1}
    assert out["after"] == {"events": [], "pendingCount": 0}
    assert out["errors"] == {
        "createSession": "Invalid API key",
        "listAssessments": "Invalid API key",
        "getWebhookEvents": "Invalid API key",
    }


@pytest.mark.parametrize("name", ["sdk.js", "portal.js"])
def test_the_browser_scripts_parse(name: str) -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--check", str(STATIC / name)], capture_output=True, text=True, timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
