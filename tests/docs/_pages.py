"""Reading the docs' pages as a reader would: fenced blocks by language or by file title."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<code>.*?)^```$", re.M | re.S)
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')


def blocks(page: Path, language: str) -> list[str]:
    """The bodies of the fenced blocks of ``language`` with no title, in page order."""
    return [m["code"] for m in _BLOCK.finditer(page.read_text(encoding="utf-8"))
            if m["info"].strip() == language]


def files(page: Path) -> dict[str, str]:
    """The blocks titled with a file name (``python title="mysite/settings.py"``), by name."""
    found = {}
    for m in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        title = _TITLE.search(m["info"])
        if title and not title["title"].startswith("Fragment:"):
            found[title["title"]] = m["code"]
    return found


def shell(page: Path, containing: str) -> str:
    """The one ``bash`` block of ``page`` that contains ``containing``."""
    (block,) = [b for b in blocks(page, "bash") if containing in b]
    return block
