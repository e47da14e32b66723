"""What the endpoint reads from an ASGI scope: its route below the mount, and the body replayed."""

from __future__ import annotations

from typing import Any

from ._types import Receive, Scope


def route_path(scope: Scope) -> str:
    """The path below the mount, as Starlette's `Mount` computes it."""
    # As Starlette's Mount does it: the sub-app sees the full path, with the mount prefix
    # added to root_path; the route is what follows root_path.
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path):][:1] in {"/", ""}:
        return path[len(root_path):]
    return path


def replay(body: bytes) -> Receive:
    """A `receive` that hands the already-read body to a hook's `Request` once."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
