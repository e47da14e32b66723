"""The cyclic garbage collector after start-up: what start-up allocated is frozen, once.

Every full collection walks every tracked object in the process, and most of them (modules,
classes, the host's routes, the platform client's pool) were made at start-up and live as long
as the process: under load that walk is the tail of the latency. `gc.freeze()` moves them to
the permanent generation, which collections skip; objects made later are collected as before.
It is done once per process (again in a forked child), after a collection so that no garbage is
frozen. Collection thresholds stay the host process's choice (see the deploy guide).
"""

from __future__ import annotations

import gc
import os

_frozen_in: int | None = None


def freeze_startup() -> bool:
    """Collect, then freeze every tracked object, once per process. True when it froze now."""
    global _frozen_in
    pid = os.getpid()
    if _frozen_in == pid:
        return False
    _frozen_in = pid
    gc.collect()
    gc.freeze()
    return True
