"""The README's configuration table is the settings table."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import ENV_TABLE

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_matches_the_code() -> None:
    text = README.read_text()
    block = re.search(r"<!-- settings-table.*?-->\n(.*?)<!-- /settings-table -->", text, re.S)
    assert block, "settings table markers missing from README.md"
    rows = [line for line in block[1].splitlines() if line.startswith("| `")]
    documented = [re.findall(r"`([^`]*)`", r)[:2] for r in rows]
    expected = [[env, str(default)] for env, _f, _t, default, _h in ENV_TABLE]
    assert documented == expected


def test_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "./scripts/dev" in text and "./scripts/test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "scripts/test" in ci
