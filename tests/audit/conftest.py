from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._features import Sandbox, running_sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as running:
        yield running
