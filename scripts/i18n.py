"""`make i18n`: extract every message, update each language's catalog, compile them.

    python scripts/i18n.py extract    # sources -> locale/messages.pot, locale/js.pot
    python scripts/i18n.py update     # templates -> locale/<lang>/LC_MESSAGES/*.po
    python scripts/i18n.py compile    # *.po -> *.mo (not committed: decision 023)
    python scripts/i18n.py check      # exit 1 when a template is stale or a catalog incomplete
    python scripts/i18n.py all        # extract, update, compile, then report what is missing

Output is deterministic (no line numbers, no dates, sorted), so two people adding strings on
two branches rarely touch the same lines. The English catalog is filled with the source text
itself; the other languages list what still needs a translator (`check`).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "helpline"
LOCALE_DIR = PACKAGE / "locale"
LANGUAGES = ("en", "de", "es", "fr", "ar")
FIXED = datetime(2026, 1, 1, tzinfo=UTC)  # no dates that change on every run
HEADER = "# Helpline's messages. Edit translations here; `make i18n` keeps the list of messages."

# Python: i18n.gettext(locale, "text"), i18n.ngettext(locale, "one", "many", n), N_("text").
PY_KEYWORDS = {"gettext": (2,), "ngettext": (2, 3), "N_": None}
# Templates: {{ _("text") }}, {{ ngettext("one", "many", n) }}, {% trans %}.
TEMPLATE_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
# Scripts: t("text", {name}), tn("one", "many", n, {name}).
JS_KEYWORDS = {"t": None, "tn": (1, 2)}


def _add(
    catalog: Catalog, found: Iterator[tuple[str, int, str | tuple[str, ...], list[str], str | None]]
) -> None:
    for _filename, _lineno, message, comments, context in found:
        catalog.add(message, None, auto_comments=comments, context=context)


def extracted(domain: str) -> Catalog:
    catalog = Catalog(
        project="Helpline", creation_date=FIXED, revision_date=FIXED, header_comment=HEADER
    )
    if domain == "messages":
        _add(
            catalog,
            extract_from_dir(
                PACKAGE,
                method_map=[("web/static/**", "ignore"), ("**.py", "python")],
                keywords=PY_KEYWORDS,
                comment_tags=("i18n:",),
            ),
        )
        _add(
            catalog,
            extract_from_dir(
                PACKAGE / "web" / "templates",
                method_map=[
                    ("**.html", "jinja2.ext:babel_extract"),
                    ("**.txt", "jinja2.ext:babel_extract"),
                ],
                options_map={"**.html": {"trimmed": "true"}, "**.txt": {"trimmed": "true"}},
                keywords=TEMPLATE_KEYWORDS,
                comment_tags=("i18n:",),
            ),
        )
    else:
        _add(
            catalog,
            extract_from_dir(
                PACKAGE / "web" / "static" / "js",
                method_map=[("**.js", "javascript")],
                options_map={"**.js": {"parse_template_string": "true"}},
                keywords=JS_KEYWORDS,
                comment_tags=("i18n:",),
            ),
        )
    return catalog


def _po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, no_location=True, sort_output=True, ignore_obsolete=True)
    return out.getvalue()


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def extract() -> None:
    for domain in ("messages", "js"):
        _write_if_changed(LOCALE_DIR / f"{domain}.pot", _po_bytes(extracted(domain)))


def _po(lang: str, domain: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def update() -> None:
    for domain in ("messages", "js"):
        for lang in LANGUAGES:
            # Read afresh for each: Catalog.update adopts the template's message objects.
            template = _read(LOCALE_DIR / f"{domain}.pot")
            path = _po(lang, domain)
            if path.exists():
                catalog = _read(path, lang)
            else:
                catalog = Catalog(locale=lang, domain=domain, header_comment=HEADER)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            catalog.project = "Helpline"
            catalog.creation_date = catalog.revision_date = FIXED
            catalog.fuzzy = False
            if lang == "en":  # the source language: its text is the message itself
                for message in catalog:
                    if message.id and not _complete(message, catalog.num_plurals):
                        message.string = (
                            tuple(message.id)
                            if isinstance(message.id, (list, tuple))
                            else message.id
                        )
                        message.flags.discard("fuzzy")
            _write_if_changed(path, _po_bytes(catalog))


def _complete(message: Message, plurals: int) -> bool:
    if message.fuzzy:
        return False
    if isinstance(message.id, (list, tuple)):
        strings = message.string if isinstance(message.string, (list, tuple)) else ()
        return len(strings) == plurals and all(strings)
    return bool(message.string)


def compile_all() -> None:
    for lang in LANGUAGES:
        for domain in ("messages", "js"):
            path = _po(lang, domain)
            if not path.exists():
                continue
            out = io.BytesIO()
            write_mo(out, _read(path, lang))
            _write_if_changed(path.with_suffix(".mo"), out.getvalue())


def problems() -> list[str]:
    """What is wrong with the catalogs: a stale template, a missing or fuzzy translation."""
    found: list[str] = []
    for domain in ("messages", "js"):
        pot = LOCALE_DIR / f"{domain}.pot"
        if not pot.exists() or pot.read_bytes() != _po_bytes(extracted(domain)):
            found.append(f"{domain}.pot is not up to date with the sources: run `make i18n`")
            continue
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(pot) if m.id}
        for lang in LANGUAGES:
            path = _po(lang, domain)
            if not path.exists():
                found.append(f"{lang}/{domain}.po is missing: run `make i18n`")
                continue
            catalog = _read(path, lang)
            have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
            for msgid in sorted(ids):
                message = have.get(msgid)
                if message is None:
                    found.append(f"{lang}/{domain}.po lacks {msgid!r}: run `make i18n`")
                elif not _complete(message, catalog.num_plurals):
                    found.append(f"{lang}/{domain}.po: untranslated or fuzzy {msgid!r}")
    return found


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "all"
    if command in ("extract", "all"):
        extract()
    if command in ("update", "all"):
        update()
    if command in ("compile", "all"):
        compile_all()
    if command in ("check", "all"):
        missing = problems()
        for line in missing:
            sys.stdout.write(line + "\n")
        if command == "check" and missing:
            return 1
        if missing:
            sys.stdout.write(f"{len(missing)} messages need a translator (see above).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
