"""The README and the guides in docs/ link to each other: every relative link names a file
that exists and, with an anchor, a heading that file has (GitHub's anchor rule)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a Markdown file's headings."""
    found = set()
    for heading in re.findall(r"(?m)^#{1,6} (.+)$", path.read_text(encoding="utf-8")):
        text = re.sub(r"[`*_]", "", heading.strip().lower())
        found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_its_file_and_heading(guide: Path) -> None:
    broken = []
    for target in LINK.findall(guide.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        name, _, anchor = target.partition("#")
        path = (guide.parent / name).resolve() if name else guide
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no such heading in {path.name}")
    assert not broken, broken


def test_the_readme_opens_with_the_quick_start_and_links_every_guide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"(?m)^## (.+)$", readme)
    assert headings[0] == "Quick start"
    linked = set(LINK.findall(readme))
    for guide in GUIDES[1:]:
        assert f"docs/{guide.name}" in linked, f"the README does not link {guide.name}"
