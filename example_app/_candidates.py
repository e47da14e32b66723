"""The demo profile list: eight made-up candidates (``example.com`` addresses only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    email: str
    role: str
    location: str


DEMO_CANDIDATES: tuple[Profile, ...] = (
    Profile("cand-1", "Ada Lovelace", "ada@example.com", "Backend engineer", "London"),
    Profile("cand-2", "Alan Turing", "alan@example.com", "Data engineer", "Manchester"),
    Profile("cand-3", "Grace Hopper", "grace@example.com", "Platform engineer", "New York"),
    Profile("cand-4", "Katherine Johnson", "katherine@example.com", "Data scientist", "Hampton"),
    Profile("cand-5", "Edsger Dijkstra", "edsger@example.com", "Backend engineer", "Eindhoven"),
    Profile("cand-6", "Barbara Liskov", "barbara@example.com", "Staff engineer", "Boston"),
    Profile("cand-7", "Tim Berners-Lee", "tim@example.com", "Frontend engineer", "Geneva"),
    Profile("cand-8", "Radia Perlman", "radia@example.com", "Network engineer", "Seattle"),
)
