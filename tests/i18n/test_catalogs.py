"""The catalogs: the templates list every message of the sources (`make i18n` was run), and
each language's plural forms match what the pages' `t()` expects."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from helpline.kit import i18n

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_tool"] = module
    spec.loader.exec_module(module)
    return module


def test_the_templates_list_every_message_in_the_sources(tool: ModuleType) -> None:
    stale = [p for p in tool.problems() if ".pot " in p]
    assert not stale, "\n".join(stale)


def test_plural_categories_match_each_catalog() -> None:
    for code in i18n.LOCALES:
        for domain in i18n.DOMAINS:
            catalog = i18n.read_catalog(
                i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{domain}.po", code
            )
            assert catalog.num_plurals == len(i18n.PLURAL_CATEGORIES[code]), (code, domain)


def test_the_pseudo_locale_covers_every_message() -> None:
    messages = i18n.translations(i18n.PSEUDO)
    template = i18n.read_catalog(i18n.template_path("messages"), "en")
    for message in template:
        if message.id and isinstance(message.id, str):
            assert messages.gettext(message.id) == i18n.pseudo(message.id)


def test_every_catalog_has_every_message_none_fuzzy(tool: ModuleType) -> None:
    """de, es, fr, ar (and en, filled with the source text) translate every message of both
    domains, with every plural form, and none is marked fuzzy."""
    missing = [p for p in tool.problems() if ".pot " not in p]
    assert not missing, f"{len(missing)} problems, first ones:\n" + "\n".join(missing[:40])


def test_a_translated_page_uses_the_catalog() -> None:
    assert i18n.translations("de").gettext("Skip to content") == "Zum Inhalt springen"
    assert i18n.translations("ar").gettext("Sign in") == "تسجيل الدخول"
    catalog = i18n.script_catalog("ar")
    assert catalog["dir"] == "rtl"
    plural = catalog["messages"][
        "Are you still there? This chat closes in about {count} minute unless you reply."
    ]
    assert set(plural) == set(i18n.PLURAL_CATEGORIES["ar"])


def test_counted_strings_take_every_plural_form_arabic_six() -> None:
    """Counted strings go through ngettext (Python) and tn (scripts); Arabic's catalog has all
    six forms and each count picks its own (0, 1, 2, 3–10, 11–99, 100…)."""
    singular = "%(name)s shared a file: %(file)s (%(size)s byte)"
    plural = "%(name)s shared a file: %(file)s (%(size)s bytes)"
    said = {
        n: i18n.ngettext("ar", singular, plural, n, name="Ana", file="a.png", size=str(n))
        for n in (0, 1, 2, 3, 11, 100)
    }
    assert len(set(said.values())) == 6, said
    assert i18n.ngettext("de", singular, plural, 1, name="Ana", file="a.png", size="1").endswith(
        "(1 Byte)"
    )
    # The scripts get the forms keyed by CLDR category, for Intl.PluralRules in the browser.
    forms = i18n.script_catalog("ar")["messages"]["{count} waiting"]
    assert set(forms) == {"zero", "one", "two", "few", "many", "other"}
    assert len(set(forms.values())) >= 4 and all(forms.values())
    assert i18n.script_catalog("es")["messages"]["{count} day"]["one"] == "{count} día"
