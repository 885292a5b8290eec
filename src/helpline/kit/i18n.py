"""Languages: the gettext catalogs, locale negotiation and CLDR formats (Babel).

Two gettext domains live under `helpline/locale/<lang>/LC_MESSAGES/`: `messages` (Python and
the Jinja2 templates, rendered on the server) and `js` (the ES modules; pages embed that
catalog as JSON for `static/js/i18n.js`). Source strings are English, so `en` needs no
translations. `make i18n` extracts, updates and compiles (scripts/i18n.py, docs/ui.md).

The `.mo` files are built, not committed (decision 023): `make` compiles them at install and
by `make i18n`; a catalog whose `.mo` is missing or older than its `.po` is read from the `.po`
here instead, so a checkout always speaks its own catalogs.

The pseudo-locale `qps` (only when enabled: HELPLINE_PSEUDO_LOCALE) is generated from the
catalog templates: every message becomes "[Ŝéàŕçĥ]", so a page rendered in it shows at once
any text that did not go through a catalog.

Pure: no FastAPI, no settings; callers pass what they read from the request.
"""

from __future__ import annotations

import gettext as _gettext
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel import Locale, dates, numbers
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).resolve().parent.parent / "locale"
DOMAINS: Final = ("messages", "js")
SOURCE: Final = "en"
LOCALES: Final = ("en", "de", "es", "fr", "ar")
RTL: Final = frozenset({"ar"})
PSEUDO: Final = "qps"
COOKIE: Final = "helpline_lang"
# Each language's name in itself, for the switchers.
NAMES: Final[dict[str, str]] = {
    "en": "English",
    "de": "Deutsch",
    "es": "Español",
    "fr": "Français",
    "ar": "العربية",
    PSEUDO: "[Ƥšéûđô]",
}
# The CLDR plural category of each gettext plural form, in the catalog's order: the browser
# picks a category with Intl.PluralRules, the JSON catalog maps it to the form. A new language
# adds its row (tests/i18n/test_catalogs.py checks it against the catalog's Plural-Forms).
PLURAL_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "en": ("one", "other"),
    "de": ("one", "other"),
    "es": ("one", "many", "other"),
    "fr": ("one", "many", "other"),
    "ar": ("zero", "one", "two", "few", "many", "other"),
    PSEUDO: ("one", "other"),
}

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")


def available(pseudo: bool = False) -> tuple[str, ...]:
    return (*LOCALES, PSEUDO) if pseudo else LOCALES


def direction(locale: str) -> str:
    return "rtl" if locale in RTL else "ltr"


def _match(tag: str | None, offered: Iterable[str]) -> str | None:
    """`de-AT` → `de` when only `de` is offered; None for anything else (or nonsense)."""
    if not tag:
        return None
    tag = tag.strip()
    if len(tag) > 35 or not _TAG.match(tag):
        return None
    lowered = tag.replace("_", "-").lower()
    offered = tuple(offered)
    if lowered in offered:
        return lowered
    primary = lowered.split("-", 1)[0]
    return primary if primary in offered else None


def parse_accept_language(header: str | None) -> list[str]:
    """The header's tags, best first (ties keep their order). Malformed parts are skipped:
    a browser's or a bot's odd header never makes a page fail."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(
    *,
    query: str | None = None,
    cookie: str | None = None,
    user: str | None = None,
    accept_language: str | None = None,
    default: str = SOURCE,
    offered: Iterable[str] = LOCALES,
) -> str:
    """The locale of a page or mail, in the contract's order: `?lang=`, the `helpline_lang`
    cookie, the user's `locale`, `Accept-Language`, the configured default, `en`. Anything
    not offered falls through to the next."""
    offered = tuple(offered)
    for candidate in (query, cookie, user):
        found = _match(candidate, offered)
        if found:
            return found
    for tag in parse_accept_language(accept_language):
        found = _match(tag, offered)
        if found:
            return found
    return _match(default, offered) or SOURCE


def preferred(
    *,
    query: str | None = None,
    cookie: str | None = None,
    accept_language: str | None = None,
    offered: Iterable[str] = LOCALES,
) -> str | None:
    """The language a browser asked for, when it named one we offer; None when it did not
    (a guest's account then follows the deployment's default, not a guess)."""
    offered = tuple(offered)
    for candidate in (query, cookie):
        found = _match(candidate, offered)
        if found:
            return found
    for tag in parse_accept_language(accept_language):
        found = _match(tag, offered)
        if found:
            return found
    return None


def _pseudo(text: str) -> str:
    """ "Search" → "[Ŝéàŕçĥ]": placeholders (%(name)s, {name}, %s) and markup stay intact."""
    out: list[str] = []
    for piece in re.split(r"(%\([a-z_]+\)[sd]|%[sd]|\{[a-z_.]+\}|<[^>]*>|&[a-z]+;)", text):
        if re.fullmatch(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_.]+\}|<[^>]*>|&[a-z]+;", piece or "x"):
            out.append(piece)
        else:
            out.append(piece.translate(_ACCENTS))
    return "[" + "".join(out) + "]"


_ACCENTS: Final = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçđéƒĝĥîĵķĺɱñöþǫŕšŧûṽŵẋýžÅƁÇĐÉƑĜĤÎĴĶĹṀÑÖÞǪŔŠŦÛṼŴẊÝŽ",
)


def pseudo(text: str) -> str:
    return _pseudo(text)


def _po_path(locale: str, domain: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


def template_path(domain: str) -> Path:
    return LOCALE_DIR / f"{domain}.pot"


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


class _CatalogTranslations(_gettext.GNUTranslations):
    """Translations read from a `.po` (no `.mo` yet), or generated for the pseudo-locale."""

    def __init__(self, catalog: Catalog, transform: Any = None) -> None:
        _gettext.NullTranslations.__init__(self)
        entries: dict[Any, str] = {}
        self.plural = _gettext.c2py(catalog.plural_expr)
        for message in catalog:
            if not message.id:
                continue
            if isinstance(message.id, (list, tuple)):
                ids = message.id
                strings = (
                    [transform(ids[0]), transform(ids[1])]
                    if transform
                    else list(message.string or ())
                )
                for index, text in enumerate(strings):
                    if text:
                        entries[(ids[0], index)] = text
            else:
                text = str(transform(message.id) if transform else message.string or "")
                if text and not message.fuzzy:
                    entries[message.id] = text
        self._catalog = entries


@cache
def translations(locale: str, domain: str = "messages") -> _gettext.NullTranslations:
    """The catalog of `locale` (NullTranslations for English, unknown locales and domains)."""
    if locale == PSEUDO:
        path = template_path(domain)
        if not path.exists():
            return _gettext.NullTranslations()
        return _CatalogTranslations(read_catalog(path, SOURCE), transform=_pseudo)
    if locale not in LOCALES or locale == SOURCE:
        return _gettext.NullTranslations()
    po = _po_path(locale, domain)
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return _gettext.GNUTranslations(f)
    if po.exists():
        return _CatalogTranslations(read_catalog(po, locale))
    return _gettext.NullTranslations()


def gettext(locale: str, message: str, **values: Any) -> str:
    text = translations(locale).gettext(message)
    return text % values if values else text


def ngettext(locale: str, singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(locale).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined; it is translated where shown."""
    return message


@cache
def script_catalog(locale: str) -> dict[str, Any]:
    """The `js` catalog as the pages' `t()` reads it: singulars by their text, plurals by the
    singular with one string per CLDR category."""
    messages: dict[str, Any] = {}
    categories = PLURAL_CATEGORIES.get(locale, ("one", "other"))
    if locale != SOURCE and (locale in LOCALES or locale == PSEUDO):
        path = template_path("js") if locale == PSEUDO else _po_path(locale, "js")
        if path.exists():
            catalog = read_catalog(path, SOURCE if locale == PSEUDO else locale)
            for message in catalog:
                if not message.id:
                    continue
                if isinstance(message.id, (list, tuple)):
                    if locale == PSEUDO:
                        forms = [_pseudo(message.id[0]), _pseudo(message.id[1])]
                    else:
                        forms = list(message.string or ())
                    if message.fuzzy or not all(forms):
                        continue
                    messages[message.id[0]] = dict(zip(categories, forms, strict=False))
                else:
                    text = _pseudo(message.id) if locale == PSEUDO else message.string
                    if text and not message.fuzzy:
                        messages[message.id] = text
    return {"locale": locale, "dir": direction(locale), "messages": messages}


# Formats for the locale (CLDR, through Babel); the browser uses Intl with the same locale.
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(SOURCE if locale == PSEUDO else locale)


def format_datetime(value: datetime, locale: str, fmt: str = "medium", tz: Any = None) -> str:
    return dates.format_datetime(value, fmt, tzinfo=tz, locale=_babel_locale(locale))


def format_date(value: datetime, locale: str, fmt: str = "medium") -> str:
    return dates.format_date(value, fmt, locale=_babel_locale(locale))


def format_number(value: float, locale: str) -> str:
    return numbers.format_decimal(value, locale=_babel_locale(locale))


def language_options(current: str, pseudo_on: bool = False) -> list[Mapping[str, Any]]:
    return [
        {"code": code, "name": NAMES[code], "dir": direction(code), "current": code == current}
        for code in available(pseudo_on)
    ]
