"""The error codes are a public contract: the README's table, the package and this test's
literal table (tests/_documented.py) say the same thing."""

from __future__ import annotations

import re
from pathlib import Path

from assessment_asgi import ERROR_CODES
from tests._documented import DEFAULT_MESSAGES, DOCUMENTED_CODES

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_table() -> dict[str, int]:
    section = README.read_text().split("### Errors", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", section, flags=re.MULTILINE)
    return {code: int(status) for code, status in rows}


def test_the_readme_documents_each_code_with_its_status() -> None:
    assert readme_table() == DOCUMENTED_CODES


def test_the_package_answers_each_code_with_its_documented_status() -> None:
    assert {code: status for code, (status, _) in ERROR_CODES.items()} == DOCUMENTED_CODES



def test_each_code_has_its_default_message() -> None:
    assert {code: message for code, (_, message) in ERROR_CODES.items()} == DEFAULT_MESSAGES
