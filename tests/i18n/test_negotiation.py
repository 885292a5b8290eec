"""Locale negotiation (CONTRACT-2 "Languages"): `?lang=`, the `helpline_lang` cookie, the user's
`locale`, `Accept-Language`, HELPLINE_DEFAULT_LOCALE, `en`; what is not offered falls through."""

from __future__ import annotations

import pytest

from helpline.kit import i18n
from helpline.kit.i18n import negotiate, parse_accept_language


def test_each_source_wins_over_the_ones_after_it() -> None:
    everything = {
        "query": "de",
        "cookie": "es",
        "user": "fr",
        "accept_language": "ar",
        "default": "en",
    }
    assert negotiate(**everything) == "de"
    assert negotiate(**{**everything, "query": None}) == "es"
    assert negotiate(**{**everything, "query": None, "cookie": None}) == "fr"
    assert negotiate(**{**everything, "query": None, "cookie": None, "user": None}) == "ar"
    assert negotiate(default="fr") == "fr"
    assert negotiate() == "en"


@pytest.mark.parametrize("unknown", ["xx", "klingon", "", "  ", "de_DE_x_y_z_too_long_" * 3])
def test_an_unknown_query_falls_through_to_the_cookie(unknown: str) -> None:
    assert negotiate(query=unknown, cookie="es") == "es"


def test_regional_tags_match_their_language() -> None:
    assert negotiate(query="de-AT") == "de"
    assert negotiate(cookie="ES") == "es"
    assert negotiate(accept_language="fr-CA,fr;q=0.9") == "fr"
    assert negotiate(user="ar_EG") == "ar"


def test_accept_language_is_read_by_quality() -> None:
    assert negotiate(accept_language="ja, de;q=0.4, es;q=0.8") == "es"
    assert parse_accept_language("de;q=0.5, fr, es;q=0.9") == ["fr", "es", "de"]
    # q=0 means "not this one".
    assert negotiate(accept_language="de;q=0, fr;q=0.1") == "fr"


@pytest.mark.parametrize(
    "header",
    [
        ";;;,,,",
        "de;q=abc",
        "de;q=",
        "*",
        "=====",
        "de-" * 400,
        "\x00\x01",
        "q=0.5;de",
        "de;q=1.5",
        "🙂, es",
        "a" * 5000,
    ],
)
def test_malformed_accept_language_never_errors(header: str) -> None:
    found = negotiate(accept_language=header, default="fr")
    assert found in i18n.LOCALES


def test_malformed_parts_are_skipped_not_the_whole_header() -> None:
    assert negotiate(accept_language="de;q=abc, 🙂, es;q=0.3") == "es"


def test_the_default_itself_must_be_offered() -> None:
    assert negotiate(default="xx") == "en"


def test_the_pseudo_locale_is_offered_only_when_asked() -> None:
    assert negotiate(query=i18n.PSEUDO) == "en"
    assert negotiate(query=i18n.PSEUDO, offered=i18n.available(pseudo=True)) == i18n.PSEUDO


def test_direction() -> None:
    assert i18n.direction("ar") == "rtl"
    assert {i18n.direction(code) for code in ("en", "de", "es", "fr")} == {"ltr"}


def test_pseudo_keeps_placeholders_and_marks_the_rest() -> None:
    assert i18n.pseudo("Search") == "[Šéàŕçĥ]"
    out = i18n.pseudo("Hello %(name)s, {count} new <b>x</b>")
    assert "%(name)s" in out and "{count}" in out and "<b>" in out
    assert out.startswith("[") and out.endswith("]") and "Hello" not in out


def test_formats_follow_the_locale() -> None:
    assert i18n.format_number(1234567.5, "de") == "1.234.567,5"
    assert i18n.format_number(1234567.5, "en") == "1,234,567.5"
    assert i18n.format_number(1234567.5, "fr") == "1\u202f234\u202f567,5"
