"""What a search means, without IO: the caller's words, the engines' expressions, snippets.

Words are runs of letters and digits, as both engines cut them (SQLite unicode61, PostgreSQL's
parser over text whose punctuation became spaces). Nothing the caller types reaches an engine
as syntax: every word is reduced to such runs, which hold no operator, quote or bracket, and
each is quoted again for FTS5 and bound as a parameter for PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from helpline.errors import Invalid

MAX_TERMS = 16
SNIPPET_CHARS = 200
_LEAD = 60  # characters of context kept before the first match

_TOKEN = re.compile(r"[^\W_]+")
# Upper-case words that search boxes treat as operators; we have none (every word must match),
# so they are dropped rather than searched for.
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})


@dataclass(frozen=True)
class Filters:
    """Chats by queue, agent and status; requests by team, assignee and status; both by the
    time of the hit (`start` included, `end` excluded) and by a chat's tag."""

    queue_id: str | None = None
    agent_id: str | None = None
    status: str | None = None
    tag_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Term:
    """One word of the query: a run of tokens that must appear in this order (the caller's
    "ana@example.com" is ana, example, com), the last one a prefix when the word ended in *."""

    tokens: tuple[str, ...]
    prefix: bool


def parse(q: str) -> list[Term]:
    """The caller's words, each of which must match. Raises Invalid when nothing is left to
    search for (an empty query, or only operators and punctuation)."""
    terms: list[Term] = []
    for word in q.split():
        raw = _TOKEN.findall(word)
        if not raw or (len(raw) == 1 and raw[0] in _OPERATORS):
            continue
        tokens = tuple(t.lower() for t in raw)
        term = Term(tokens, prefix=word.endswith("*"))
        if term not in terms:
            terms.append(term)
    if not terms:
        raise Invalid("Type at least one word to search for.", code="empty_query")
    if len(terms) > MAX_TERMS:
        raise Invalid(f"Search for at most {MAX_TERMS} words.", code="too_many_words")
    return terms


def fts5_match(terms: list[Term], column: str | None = None) -> str:
    """An FTS5 MATCH expression: every term, each a quoted phrase (a prefix marked `*`)."""
    scope = f"{column} : " if column else ""
    parts = []
    for term in terms:
        phrase = " ".join(term.tokens).replace('"', '""')  # tokens hold no quote; belt and braces
        parts.append(f'{scope}"{phrase}"' + (" *" if term.prefix else ""))
    return " AND ".join(parts)


def owner_terms(customer_id: str) -> list[Term]:
    """The owner token of a customer's events in SQLite's index (migration 0023: 'u' || id),
    as the tokenizer cuts it."""
    return [Term(tuple(t.lower() for t in _TOKEN.findall(f"u{customer_id}")), prefix=False)]


def _pattern(term: Term) -> str:
    body = r"[\W_]+".join(re.escape(t) for t in term.tokens)
    return r"(?<![^\W_])" + body + ("" if term.prefix else r"(?![^\W_])")


def snippet(text: str, terms: list[Term]) -> str:
    """Plain text of at most SNIPPET_CHARS characters around the first match of any term
    (from the start when none is found, e.g. in a customer's e-mail), whitespace collapsed."""
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    found = [
        m.start()
        for m in (re.search(_pattern(t), flat, re.IGNORECASE) for t in terms)
        if m is not None
    ]
    first = min(found, default=0)
    start = max(0, first - _LEAD)
    if start > 0:
        # Begin at a word: move to just after the space before the match's context.
        space = flat.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and first - space <= _LEAD * 2 else start
    head = "…" if start > 0 else ""
    room = SNIPPET_CHARS - len(head)
    body = flat[start : start + room]
    if start + room < len(flat):
        body = body[: room - 1]
        cut = body.rfind(" ")
        if cut > room // 2:
            body = body[:cut]
        body = body.rstrip() + "…"
    return head + body


SOURCES = ("events", "subjects", "customers", "requests", "comments")
"""Where hits come from, each in its own key order (newest first): chat events (messages and
notes), chat subjects, chats by their customer's name and e-mail, requests (summary and
description), request comments."""

_MAX_KEY = 2**31 - 1  # keys are compared with `integer` columns on PostgreSQL
_MAX_EVENT_KEY = 2**63 - 1  # chat events are keyed by a `bigint`
_PART = re.compile(r"n|0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Position:
    """Where the next page starts in each source (SOURCES order): items keyed below the bound;
    0 = that source is done, None = from its newest."""

    bounds: tuple[int | None, ...] = (None,) * len(SOURCES)

    def encode(self) -> str:
        return ".".join("n" if v is None else str(v) for v in self.bounds)

    @property
    def done(self) -> bool:
        return all(v == 0 for v in self.bounds)

    @classmethod
    def decode(cls, cursor: str | None) -> Position:
        if not cursor:
            return cls()
        parts = cursor.split(".")
        if len(parts) != len(SOURCES) or not all(_PART.fullmatch(p) for p in parts):
            raise Invalid("This cursor is not one this list gave.", code="invalid_cursor")
        bounds = tuple(None if p == "n" else int(p) for p in parts)
        limits = (_MAX_EVENT_KEY,) + (_MAX_KEY,) * (len(SOURCES) - 1)
        if any(v is not None and v > top for v, top in zip(bounds, limits, strict=True)):
            raise Invalid("This cursor is not one this list gave.", code="invalid_cursor")
        return cls(bounds)


CURSOR_PATTERN = r"^(n|0|[1-9][0-9]{0,18})(\.(n|0|[1-9][0-9]{0,18})){4}$"
