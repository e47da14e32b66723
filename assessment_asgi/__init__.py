"""The SmartAI Assessment session endpoint as a mountable ASGI sub-application."""

from __future__ import annotations
