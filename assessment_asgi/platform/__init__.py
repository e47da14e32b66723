"""An async client for the SmartAI Assessment platform, usable on its own."""

from __future__ import annotations

from ._credentials import Credentials

__all__ = ["Credentials"]
