"""The query parser and snippets: pure functions, no database."""

from __future__ import annotations

import pytest

from helpline.errors import Invalid
from helpline.search.query import SNIPPET_CHARS, Position, Term, fts5_match, parse, snippet


def test_words_become_terms_of_letters_and_digits() -> None:
    assert parse("Refund  ana@example.com inv* AND x-ray*") == [
        Term(("refund",), prefix=False),
        Term(("ana", "example", "com"), prefix=False),
        Term(("inv",), prefix=True),
        Term(("x", "ray"), prefix=True),
    ]
    assert parse("and or") == [Term(("and",), False), Term(("or",), False)]  # lower case: words
    assert parse("Ünïcode ДАННЫЕ") == [Term(("ünïcode",), False), Term(("данные",), False)]


def test_fts5_expression_quotes_every_phrase() -> None:
    terms = parse('say "hi" to-day*')
    assert fts5_match(terms) == '"say" AND "hi" AND "to day" *'
    assert (
        fts5_match(terms, "subject")
        == 'subject : "say" AND subject : "hi" AND subject : "to day" *'
    )


@pytest.mark.parametrize("q", ["", "  ", "*", "AND OR NOT NEAR", "()[]{}:^-+\"'"])
def test_nothing_to_search_for_is_invalid(q: str) -> None:
    with pytest.raises(Invalid) as err:
        parse(q)
    assert err.value.code == "empty_query"


def test_short_text_is_the_whole_snippet_flattened() -> None:
    assert snippet("Hello\n\n  there ", parse("there")) == "Hello there"


def test_long_text_is_cut_around_the_first_match_at_words() -> None:
    text = (
        " ".join(f"word{i}" for i in range(100))
        + " NEEDLE "
        + " ".join(f"tail{i}" for i in range(100))
    )
    s = snippet(text, parse("needle"))
    assert len(s) <= SNIPPET_CHARS and "NEEDLE" in s
    assert s.startswith("…word") and s.endswith("…")
    assert s.index("NEEDLE") <= 70  # some context before, most of it after
    assert snippet(text, parse("word0"))[:5] == "word0"
    assert snippet(text, parse("absent")).startswith("word0 word1")
    # A prefix matches the start of a word only: "ail5" is inside tail5, never a match.
    assert "tail5" in snippet(text, parse("tail5*"))
    assert snippet(text, parse("ail5*")).startswith("word0 word1")


def test_cursor_round_trips_and_refuses_what_it_did_not_give() -> None:
    p = Position((12, None, 0, 3, None))
    assert Position.decode(p.encode()) == p and not p.done
    assert Position((0, 0, 0, 0, 0)).done
    for bad in ("", "x", "1.2", "01.n.n.n.n", "n.n.n.n.n.n", "n.2147483648.n.n.n"):
        if bad == "":
            assert Position.decode(bad) == Position()
            continue
        with pytest.raises(Invalid):
            Position.decode(bad)
