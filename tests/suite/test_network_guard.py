"""The suite's network guard: a test can reach loopback and nothing else.

The proof runs a small suite with the project's own pytest configuration in a network
namespace of its own (``unshare --net``, only ``lo`` up), so even a broken guard could not send
a packet anywhere: the non-loopback connect must fail with pytest-socket's error, not with the
namespace's "network unreachable".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INNER = '''
import asyncio
import socket

import pytest


def test_a_non_loopback_address():
    socket.create_connection(("192.0.2.1", 443), timeout=5)  # TEST-NET-1


def test_a_non_loopback_address_from_asyncio():
    asyncio.run(asyncio.open_connection("192.0.2.2", 443))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_allowed(host):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection((host, port), timeout=5):
            pass
'''


def test_only_loopback_is_reachable_from_a_test(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.fail("this proof needs root and unshare (util-linux): it runs in its own network namespace")
    (tmp_path / "test_inner.py").write_text(INNER)
    command = (
        "ip link set lo up && exec "
        f"{sys.executable} -m pytest -c {ROOT / 'pyproject.toml'} --rootdir {tmp_path} -q "
        f"-p no:randomly {tmp_path / 'test_inner.py'}"
    )
    run = subprocess.run(
        [unshare, "--net", "sh", "-c", command], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert "2 failed, 2 passed" in run.stdout, run.stdout + run.stderr
    for address in ("192.0.2.1", "192.0.2.2"):
        # Refused by the guard, not by the empty namespace ("Network is unreachable").
        assert f'socket.socket.connect() with host "{address}"' in run.stdout, run.stdout
    assert "unreachable" not in run.stdout


def test_the_guard_is_part_of_the_suites_configuration(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getoption("--allow-hosts") == "127.0.0.1,localhost,::1"
