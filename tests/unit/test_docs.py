"""The README and docs/ stand alone: every relative link points at a file of the
repository, anchors exist, and the pages are written for users (no "this session")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Who measured what, or when, is not for users: figures say the machine and the load.
NOT_FOR_USERS = re.compile(
    r"this session|last session|this round|another engineer|measured here", re.IGNORECASE
)


def pages() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
    found += [ROOT / "sdk" / "README.md", ROOT / "examples" / "README.md"]
    return [p for p in found if p.exists()]


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return out


def test_the_user_guide_links_into_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in ("architecture", "delivery", "fleet", "guarantees", "performance"):
        assert f"](docs/{page}.md)" in readme, page


def test_every_relative_link_resolves_inside_the_repository() -> None:
    checked = 0
    for page in pages():
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
            assert dest.exists(), f"{page.name}: {target} does not exist"
            if anchor and dest.suffix == ".md":
                assert anchor in anchors(dest), f"{page.name}: {target}: no such heading"
            checked += 1
    assert checked > 20


def test_no_page_names_a_path_outside_the_repository() -> None:
    for page in pages():
        text = page.read_text()
        assert "../shared" not in text and "DESIGN.md" not in text, page.name


def test_pages_are_written_for_users() -> None:
    for page in pages():
        for n, line in enumerate(page.read_text().splitlines(), 1):
            assert not NOT_FOR_USERS.search(line), f"{page.name}:{n}: {line}"
