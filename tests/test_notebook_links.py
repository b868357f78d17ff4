"""Every relative link in the notebooks' markdown and in the README points at a file that exists.

A notebook that names one not written yet says so in plain text (for example
"11 Processes and the GIL (coming next)") rather than linking to nothing.
Web links (http, https, mailto) are not fetched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = ("http://", "https://", "mailto:")


def relative_links(markdown: str) -> list[str]:
    return [target for target in LINK.findall(markdown)
            if not target.startswith(EXTERNAL) and not target.startswith("#")]


def markdown_of(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(cell.get("source", "")) for cell in nb.get("cells", [])
                     if cell.get("cell_type") == "markdown")


@pytest.mark.parametrize("path", [*NOTEBOOKS, REPO / "README.md"], ids=lambda p: p.name)
def test_relative_links_point_at_files_that_exist(path: Path) -> None:
    broken = [target for target in relative_links(markdown_of(path))
              if not (path.parent / target.split("#", 1)[0]).exists()]
    assert broken == [], f"{path.name} links to files that do not exist: {broken}"


def test_links_are_found_and_web_links_are_left_alone() -> None:
    text = "[a](01_a.ipynb) [b](https://x.org/y) [c](#top) [d](../examples/s.py#L3)"
    assert relative_links(text) == ["01_a.ipynb", "../examples/s.py#L3"]
