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


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` for a hook's `Request`: the already-read body once, then the connection's
    own `receive`, so a hook sees a client that went away as gone and one still waiting as
    there (Starlette's `request.is_disconnected()`)."""
    sent = False

    async def replayed() -> Any:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
