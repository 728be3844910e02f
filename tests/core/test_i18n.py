"""The translation catalogue: complete in every language, consistent with its template, read without a .mo."""

import re
from pathlib import Path
from typing import get_args

import pytest

from vision_zero.core.i18n import (
    LANGUAGES,
    catalogue,
    ntext,
    parse_po,
    plural_catalogue,
    plural_form,
    read_po,
    text,
    untranslated,
)

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
    _, tpl = parse_po((I18N / "messages.pot").read_text("utf-8"))
    _, entries = parse_po((I18N / f"{lang}.po").read_text("utf-8"))
    for key, e in entries.items():
        assert e.msgid_plural == tpl[key].msgid_plural, f"{lang}.po {key}: msgid_plural differs (stale)"
    assert plural_catalogue("en"), "the catalogue has phrases with a count"


def test_untranslated_finds_a_plural_entry_without_all_its_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision_zero.core.i18n as i18n

    fake = {"en": {"p": ("{n} run", "{n} runs")}, "ru": {"p": ("{n} прогон", "{n} прогона")}}
    monkeypatch.setattr(i18n, "catalogue", lambda lang: {})
    monkeypatch.setattr(i18n, "plural_catalogue", lambda lang: fake[lang])
    assert i18n.untranslated("ru") == ["p"]  # Russian needs three forms
    fake["ru"]["p"] = ("{n} прогон", "{n} прогона", "")
    assert i18n.untranslated("ru") == ["p"]  # an empty form
    fake["ru"]["p"] = ("{n} прогон", "{n} прогона", "прогонов")
    assert i18n.untranslated("ru") == ["p"]  # a form without the count
    fake["ru"]["p"] = ("{n} прогон", "{n} прогона", "{n} прогонов")
    assert i18n.untranslated("ru") == []


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["1 year", "2 years", "5 years", "21 years"]),
        ("ru", ["1 год", "2 года", "5 лет", "21 год"]),
        ("kk", ["1 жыл", "2 жыл", "5 жыл", "21 жыл"]),
    ],
)
def test_plural_forms_follow_each_language(lang: str, expected: list[str]) -> None:
    assert [ntext("years", n, lang) for n in (1, 2, 5, 21)] == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_counted_phrase_takes_its_form_for_1_2_5_21(lang: str) -> None:
    rules = {"en": [0, 1, 1, 1], "ru": [0, 1, 2, 0], "kk": [0, 1, 1, 1]}  # gettext/CLDR plural rules
    assert [plural_form(lang, n) for n in (1, 2, 5, 21)] == rules[lang]
    for key, forms in plural_catalogue(lang).items():
        fields = {f: "x" for f in re.findall(r"\{(\w+)\}", forms[-1]) if f != "n"}
        for n, form in zip((1, 2, 5, 21), rules[lang], strict=True):
            assert ntext(key, n, lang, **fields) == forms[form].format(n=n, **fields), (key, n)
    ru = {n: ntext("verdict_not_yet", n, "ru", more=n) for n in (1, 2, 5, 21)}
    assert ru == {
        1: "пока не отличимо от шума — нужен ещё 1 прогон",
        2: "пока не отличимо от шума — нужно ещё 2 прогона",
        5: "пока не отличимо от шума — нужно ещё 5 прогонов",
        21: "пока не отличимо от шума — нужен ещё 21 прогон",
    }
    assert ntext("coverage", 1, "en", road_km="1", area_km2="1", share="1%", veh_km="1").endswith(
        "1 paired replication."
    )


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
    plural = (
        'msgid ""\nmsgstr "Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\nmsgctxt "p"\nmsgid "{n} a"\n'
    )
    plural += 'msgid_plural "{n} b"\nmsgstr[0] "{n} а"\nmsgstr[1] "{n} б"\n'
    header, entries = parse_po(plural)
    assert header == {"Plural-Forms": "nplurals=2; plural=(n != 1);"}
    assert entries["p"].msgid_plural == "{n} b" and entries["p"].msgstr == ("{n} а", "{n} б")
    with pytest.raises(ValueError, match="msgid_plural"):
        parse_po('msgctxt "p"\nmsgid "a"\nmsgstr[0] "x"\n')


def test_every_key_the_code_asks_for_is_in_the_catalogue() -> None:
    keys = set(catalogue("en"))
    asked: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        asked |= set(re.findall(r'\btext\(\s*"([a-z0-9_]+)"', path.read_text("utf-8")))
    assert asked and asked <= keys, sorted(asked - keys)
    counted: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        counted |= set(re.findall(r'\bntext\(\s*"([a-z0-9_]+)"', path.read_text("utf-8")))
    assert counted and counted <= set(plural_catalogue("en")), sorted(counted - set(plural_catalogue("en")))
    # keys built from a value: every value has its phrase
    from vision_zero.program.interventions import CrossingType, Enforcement

    for prefix, values in (("enf_", get_args(Enforcement)), ("ct_", get_args(CrossingType))):
        for v in values:
            assert f"{prefix}{v}" in keys, v
    for status in ("checked", "unchecked", "derived", "assumption"):
        assert f"status_{status}" in keys
    for lang in LANGUAGES:
        assert ntext("years", 3, lang).startswith("3")
    with pytest.raises(KeyError):
        text("years", "en", n=3)  # a phrase with a count is asked for with ntext
