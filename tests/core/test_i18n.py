"""The translation catalogue: complete in every language, consistent with its template, read without a .mo."""

import re
from pathlib import Path
from typing import get_args

import pytest

from vision_zero.core.i18n import LANGUAGES, catalogue, read_po, text, untranslated

I18N = Path(__file__).resolve().parents[2] / "vision_zero" / "data" / "i18n"
PACKAGE = Path(__file__).resolve().parents[2] / "vision_zero"


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_every_phrase_is_translated_with_the_same_fields(lang: str) -> None:
    assert untranslated(lang) == []
    template = read_po((I18N / "messages.pot").read_text("utf-8"))
    po = read_po((I18N / f"{lang}.po").read_text("utf-8"))
    assert set(po) == set(template)  # nothing missing, nothing stale
    for key, (msgid, msgstr) in po.items():
        assert msgid == template[key][0], f"{lang}.po {key}: msgid differs from messages.pot (stale)"
        assert msgstr.strip(), f"{lang}.po {key}: empty msgstr"


def test_untranslated_finds_empty_and_mismatched_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision_zero.core.i18n as i18n

    fake = {"en": {"a": "x {n}", "b": "y", "c": "z"}, "ru": {"a": "икс {m}", "b": "", "c": "зет"}}
    monkeypatch.setattr(i18n, "catalogue", lambda lang: fake[lang])
    assert i18n.untranslated("ru") == ["a", "b"]


def test_read_po_reads_context_continuations_and_escapes() -> None:
    po = '# comment\nmsgid ""\nmsgstr ""\n"Language: ru\\n"\n\nmsgctxt "k"\nmsgid ""\n"a \\"quoted\\" "\n"line"\nmsgstr "б\\n"\n'
    assert read_po(po) == {"k": ('a "quoted" line', "б\n")}
    with pytest.raises(ValueError, match="line 2"):
        read_po('msgctxt "k"\nmsgfoo "x"\n')


def test_every_key_the_code_asks_for_is_in_the_catalogue() -> None:
    keys = set(catalogue("en"))
    asked: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        asked |= set(re.findall(r'\btext\(\s*"([a-z0-9_]+)"', path.read_text("utf-8")))
    assert asked and asked <= keys, sorted(asked - keys)
    # keys built from a value: every value has its phrase
    from vision_zero.program.interventions import CrossingType, Enforcement

    for prefix, values in (("enf_", get_args(Enforcement)), ("ct_", get_args(CrossingType))):
        for v in values:
            assert f"{prefix}{v}" in keys, v
    for status in ("checked", "unchecked", "derived", "assumption"):
        assert f"status_{status}" in keys
    for lang in LANGUAGES:
        assert text("years", lang, n=3).startswith("3")
