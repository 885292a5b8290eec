"""The server's linkify (the printable transcript) against the cases the pages' JavaScript
runs too (tests/e2e/test_linkify.py): links only for http, https and mailto, nothing else
ever interpreted as markup."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from helpline.kit.linkify import linkify, spans

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "linkify_cases.json").read_text()
)


class _Read(HTMLParser):
    """The rendered HTML read back: pieces as (text, href or None), every tag seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[tuple[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        self._href = None

    def handle_data(self, data: str) -> None:
        if self.pieces and self.pieces[-1][1] is None and self._href is None:
            self.pieces[-1] = (self.pieces[-1][0] + data, None)
        else:
            self.pieces.append((data, self._href))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_server_linkify(case: dict[str, Any]) -> None:
    expected = [(text, href) for text, href in case["pieces"]]
    got = [(piece, piece if link else None) for piece, link in spans(case["text"])]
    assert got == expected
    read = _Read()
    read.feed(str(linkify(case["text"])))
    read.close()
    assert read.pieces == expected  # the same text back, links where expected
    for tag, attrs in read.tags:  # no element but our links
        assert tag == "a"
        assert attrs["target"] == "_blank"
        assert attrs["rel"] == "noopener noreferrer nofollow"
        assert set(attrs) == {"href", "target", "rel"}


def test_every_character_of_markup_is_escaped() -> None:
    html = str(linkify('<script>alert("x")</script> & https://example.com/?a=1&b=<i>'))
    assert "<script>" not in html and "<i>" not in html
    assert "&lt;script&gt;" in html and "&amp; " in html
    assert 'href="https://example.com/?a=1&amp;b="' in html
