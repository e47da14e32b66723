"""Candidates finishing assessments in the sandbox's portal, as a browser would."""

from __future__ import annotations

from typing import Any

import httpx2

from assessment_asgi.platform import SmartAIClient


async def candidates_finish(
    client: SmartAIClient, sandbox_url: str, people: list[dict[str, str]], *, score: int = 70
) -> list[str]:
    """Create one bulk session, open it in the portal, and let every candidate finish.

    Returns the candidates' emails in the order they finished.
    """
    tok = await client.create_session(users=people, recruiter_id="rec-1")
    async with httpx2.AsyncClient(base_url=sandbox_url) as browser:
        opened = await browser.post("/portal/open", json={"token": tok.token})
        opened.raise_for_status()
        session: dict[str, Any] = opened.json()["data"]
        for candidate in session["candidates"]:
            done = await browser.post(
                "/portal/complete",
                json={
                    "assessmentId": session["assessmentId"],
                    "candidateId": candidate["id"],
                    "candidateKey": candidate["key"],  # from the candidate's own link
                    "score": score,
                },
            )
            done.raise_for_status()
    return [c["email"] for c in session["candidates"]]
