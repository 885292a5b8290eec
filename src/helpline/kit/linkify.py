"""Plain text to HTML with http, https and mailto links, for pages rendered on the server (the
printable transcript). Everything else is escaped: no other markup is ever interpreted. The
rules are those of `appendLinkified` in static/js/ui.js; tests/fixtures/linkify_cases.json
holds the cases both must pass."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

# A candidate: a scheme we link, then anything up to a space, a quote or an angle bracket.
_CANDIDATE = re.compile(r"\b(?:https?://|mailto:)[^\s<>\"']+", re.IGNORECASE | re.ASCII)
_TRAILING = ".,;:!?'\""
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def trim(raw: str) -> str:
    """Punctuation that ends the sentence, not the URL: `.,;:!?` and quotes, and a closing
    bracket that opens nowhere inside the URL (so Wikipedia's `Foo_(bar)` keeps its own)."""
    while raw:
        last = raw[-1]
        if last in _TRAILING:
            raw = raw[:-1]
        elif last in _CLOSERS and raw.count(_CLOSERS[last]) < raw.count(last):
            raw = raw[:-1]
        else:
            break
    return raw


def is_link(raw: str) -> bool:
    try:
        parts = urlsplit(raw)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return bool(parts.hostname)
    return scheme == "mailto" and "@" in parts.path


def spans(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_link) in order; the pieces join back to the text."""
    out: list[tuple[str, bool]] = []
    last = 0
    for match in _CANDIDATE.finditer(text):
        raw = trim(match.group(0))
        if not is_link(raw):
            continue
        start = match.start()
        if start > last:
            out.append((text[last:start], False))
        out.append((raw, True))
        last = start + len(raw)
    if last < len(text):
        out.append((text[last:], False))
    return out


def linkify(text: str) -> Markup:
    """Escaped text with its links as `<a target="_blank" rel="noopener noreferrer nofollow">`;
    line breaks stay characters (the page shows them with `white-space: pre-wrap`)."""
    html = []
    for piece, link in spans(text):
        if link:
            html.append(
                Markup(
                    '<a href="{0}" target="_blank" rel="noopener noreferrer nofollow">{0}</a>'
                ).format(piece)
            )
        else:
            html.append(escape(piece))
    return Markup("").join(html)
