"""The Simplified Chinese catalogue is complete and compiled, and the pages speak it.

When one of these fails after new strings were added: run `make messages`, translate every
new msgid in locale/zh_Hans/LC_MESSAGES/django.po, run it again, and commit both files.
"""

import ast
import gettext
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str = ""
    msgstrs: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def read_po(path: Path) -> list[Entry]:
    """A minimal .po reader: enough for flags, msgid, msgid_plural and msgstr[n]."""
    entries: list[Entry] = []
    entry, target = Entry(), None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#~"):  # an obsolete entry, ignored by gettext
            continue
        starts_entry = line.startswith(("#", "msgctxt ", "msgid ")) and target in {"msgstr", None}
        if starts_entry and (entry.msgid or entry.msgstrs):
            entries.append(entry)
            entry, target = Entry(), None
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("msgctxt "):
            entry.msgctxt, target = ast.literal_eval(line[8:]), "msgctxt"
        elif line.startswith("msgid_plural "):
            entry.msgid_plural, target = ast.literal_eval(line[13:]), "msgid_plural"
        elif line.startswith("msgid "):
            entry.msgid, entry.line, target = ast.literal_eval(line[6:]), number, "msgid"
        elif line.startswith("msgstr"):
            entry.msgstrs.append(ast.literal_eval(line[line.index('"') :]))
            target = "msgstr"
        elif line.startswith('"'):
            text = ast.literal_eval(line)
            if target == "msgctxt":
                entry.msgctxt += text
            elif target == "msgid":
                entry.msgid += text
            elif target == "msgid_plural":
                entry.msgid_plural += text
            elif target == "msgstr":
                entry.msgstrs[-1] += text
    if entry.msgid or entry.msgstrs:
        entries.append(entry)
    return entries


def compiled_text(compiled: gettext.GNUTranslations, entry: Entry) -> str:
    if entry.msgctxt is None:
        return compiled.gettext(entry.msgid)
    return compiled.pgettext(entry.msgctxt, entry.msgid)


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return read_po(CATALOGUE / "django.po")


def test_catalogue_has_messages(entries):
    assert len([e for e in entries if e.msgid]) > 100


def test_every_message_has_a_chinese_translation(entries):
    untranslated = [
        f"line {e.line}: {e.msgid!r}"
        for e in entries
        if e.msgid and (not e.msgstrs or not all(s.strip() for s in e.msgstrs))
    ]
    assert untranslated == []


def test_no_entry_is_fuzzy(entries):
    fuzzy = [f"line {e.line}: {e.msgid!r}" for e in entries if "fuzzy" in e.flags]
    assert fuzzy == []


def test_compiled_catalogue_matches_the_po_file(entries):
    # A fresh machine may lack gettext, so the .mo is committed; it must not lag behind.
    with (CATALOGUE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [
        e.msgid
        for e in entries
        if e.msgid and not e.msgid_plural and compiled_text(compiled, e) != e.msgstrs[0]
    ]
    assert stale == []


def test_language_switcher_turns_the_declarations_page_chinese(client, demo):
    # given
    client.force_login(demo.importer)

    # when: the switcher in the top bar posts the language
    response = client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": "/declarations/"}, follow=True
    )

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in page
    assert "报关单" in page
    assert "新建报关单" in page
    assert "New declaration" not in page


def test_english_stays_the_default(client, demo):
    client.force_login(demo.importer)

    page = client.get("/declarations/").content.decode()

    assert '<html lang="en">' in page
    assert "New declaration" in page
    assert "报关单" not in page


APP_CATALOGUES = sorted(ROOT.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))


@pytest.mark.parametrize("path", APP_CATALOGUES, ids=[p.parts[-5] for p in APP_CATALOGUES])
def test_every_apps_own_catalogue_is_translated_and_compiled(path):
    """Apps that keep their own catalogue (zones, notifications, billing) keep it whole."""
    entries = [e for e in read_po(path) if e.msgid]
    assert entries
    untranslated = [e.msgid for e in entries if not any(e.msgstrs)]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []
    compiled = gettext.GNUTranslations(path.with_suffix(".mo").open("rb"))
    for entry in entries:
        if not entry.msgid_plural:
            assert compiled_text(compiled, entry) == entry.msgstrs[0], entry.msgid
