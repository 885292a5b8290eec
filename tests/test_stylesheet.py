"""The stylesheet parses: a block left open (e.g. by a merge) silently drops every rule after it."""

from __future__ import annotations

from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[1] / "src" / "helpline" / "web" / "static" / "css"


@pytest.mark.parametrize("path", sorted(CSS.glob("*.css")), ids=lambda p: p.name)
def test_every_block_is_closed_and_no_merge_markers_are_left(path: Path) -> None:
    text = path.read_text()
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        assert not line.startswith(("<<<<<<<", "=======", ">>>>>>>")), f"line {number}"
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"a '}}' without its block at line {number}"
        if line.startswith("/* ---"):  # section banners sit at the top level
            assert depth == 0, f"a block is still open at the section starting line {number}"
    assert depth == 0
