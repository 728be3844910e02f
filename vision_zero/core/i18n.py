"""Text of the terminal table, charts, maps, report and GeoPackage in English, Russian and Kazakh.

One translation catalogue in gettext form, read at run time (no compiled ``.mo`` file is needed):
``vision_zero/data/i18n/messages.pot`` holds every phrase — ``msgctxt`` is the key the code asks for, ``msgid``
the English text — and ``ru.po`` / ``kk.po`` the same entries with their ``msgstr``. Standard tools (Poedit,
Weblate, ``msgfmt --check``) open these files. ``text(key, lang)`` looks a phrase up; ``str.format`` fields are
filled from keyword arguments. A phrase with a count is a gettext plural entry (``msgid_plural``,
``msgstr[0]`` … ``msgstr[k]``); ``ntext(key, n, lang)`` (gettext's ``ngettext``) picks the form for ``n`` by the
file's ``Plural-Forms`` header: English and Kazakh two forms (``n != 1``; CLDR: Kazakh "one"/"other", nouns after
a numeral stay singular), Russian three (1, 21 …; 2–4, 22 …; 0, 5–20, 25 …). A test fails when an entry of the
template is missing or empty in a language, or a plural entry lacks one of its language's forms
(:func:`untranslated`). Kazakh is a best effort by the authors; corrections by a native speaker are welcome.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from vision_zero.core.errors import ConfigError

__all__ = [
    "LANGUAGES",
    "PoEntry",
    "catalogue",
    "check_lang",
    "ntext",
    "parse_po",
    "plural_catalogue",
    "plural_form",
    "read_po",
    "text",
    "untranslated",
]

#: Supported languages.
LANGUAGES: Final[tuple[str, ...]] = ("en", "ru", "kk")

_ESCAPES: Final[dict[str, str]] = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_FIELD: Final = re.compile(r"^(msgctxt|msgid|msgid_plural|msgstr|msgstr\[(\d+)\])$")
#: Plural rule of a catalogue without a Plural-Forms header (the template: English).
_GERMANIC_PLURAL: Final[str] = "nplurals=2; plural=(n != 1);"


@dataclass(frozen=True)
class PoEntry:
    """One entry of a ``.po`` file: ``msgid``, ``msgid_plural`` ("" for a phrase without a count), ``msgstr``.

    ``msgstr`` holds one string for a phrase without a count, else ``msgstr[0]``, ``msgstr[1]`` … in order.
    """

    msgid: str
    msgid_plural: str
    msgstr: tuple[str, ...]


def _unquote(token: str) -> str:
    body = token.strip()
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        raise ValueError(f"expected a quoted string, got {token!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body[1:-1])


def _header(msgstr: str) -> dict[str, str]:
    out = {}
    for line in msgstr.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip()] = value.strip()
    return out


def _entry(fields: dict[str, str]) -> PoEntry:
    """The entry of one block's fields (``msgid``, ``msgid_plural``, ``msgstr`` or ``msgstr[N]`` …)."""
    forms = sorted((int(k[7:-1]), v) for k, v in fields.items() if k.startswith("msgstr["))
    plural = fields.get("msgid_plural", "")
    if forms and [i for i, _ in forms] != list(range(len(forms))):
        raise ValueError("msgstr[N] forms must be numbered 0, 1, … in order")
    if bool(forms) != bool(plural) or (plural and "msgstr" in fields):
        raise ValueError("msgid_plural goes with msgstr[0], msgstr[1] …; a phrase without it with msgstr")
    return PoEntry(fields["msgid"], plural, tuple(v for _, v in forms) or (fields.get("msgstr", ""),))


def parse_po(content: str) -> tuple[dict[str, str], dict[str, PoEntry]]:
    """The header fields and entries of a gettext ``.po``/``.pot`` text (entries keyed by ``msgctxt``).

    Only what this catalogue uses is read: ``msgctxt``, ``msgid``, ``msgid_plural``, ``msgstr``, ``msgstr[N]``
    and their continuation lines; comments are skipped; the header entry (empty ``msgid``) gives the header
    fields (``Plural-Forms`` …).
    """
    entries: dict[str, PoEntry] = {}
    header: dict[str, str] = {}
    current: dict[str, str] = {}
    field = ""

    def flush() -> None:
        if "msgid" in current and not current["msgid"] and "msgctxt" not in current:
            header.update(_header(current.get("msgstr", "")))
        elif current.get("msgid"):
            key = current.get("msgctxt", current["msgid"])
            if key in entries:
                raise ValueError(f"duplicate entry {key!r}")
            try:
                entries[key] = _entry(current)
            except ValueError as exc:
                raise ValueError(f"entry {key!r}: {exc}") from None
        current.clear()

    for number, raw in enumerate([*content.splitlines(), 'msgctxt ""'], 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith('"'):
                current[field] += _unquote(line)
                continue
            word, _, rest = line.partition(" ")
            if not _FIELD.match(word):
                raise ValueError(f"unknown keyword {word!r}")
            if (
                word == "msgctxt"
                or (word == "msgid" and "msgid" in current and "msgctxt" not in current)
                or (word == "msgid" and any(k.startswith("msgstr") for k in current))
            ):
                flush()
            field = word
            current[field] = _unquote(rest)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"line {min(number, len(content.splitlines()))}: {exc}") from None
    return header, entries


def read_po(content: str) -> dict[str, tuple[str, str]]:
    """Entries of a gettext ``.po``/``.pot`` text: ``msgctxt`` -> (``msgid``, ``msgstr`` or ``msgstr[0]``)."""
    return {key: (e.msgid, e.msgstr[0]) for key, e in parse_po(content)[1].items()}


@cache
def _read(name: str) -> tuple[dict[str, str], dict[str, PoEntry]]:
    return parse_po(resources.files("vision_zero").joinpath("data", "i18n", name).read_text("utf-8"))


def _file(lang: str) -> str:
    return "messages.pot" if check_lang(lang) == "en" else f"{lang}.po"


@cache
def _plural_rule(lang: str) -> tuple[int, Callable[[int], int]]:
    """``nplurals`` and the form-index function of ``lang``'s ``Plural-Forms`` header."""
    spec = _read(_file(lang))[0].get("Plural-Forms", _GERMANIC_PLURAL)
    m = re.fullmatch(r"\s*nplurals\s*=\s*(\d+)\s*;\s*plural\s*=\s*(.+?)\s*;?\s*", spec)
    if m is None:
        raise ValueError(f"{_file(lang)}: Plural-Forms: expected 'nplurals=N; plural=EXPR;' (got {spec!r})")
    return int(m.group(1)), gettext.c2py(m.group(2))


def plural_form(lang: str, n: int) -> int:
    """Index of the plural form ``lang`` uses for the count ``n`` (its ``Plural-Forms`` rule)."""
    return _plural_rule(lang)[1](abs(int(n)))


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Key -> phrase of ``lang`` for the phrases without a count (English from ``messages.pot``; empty if missing)."""
    template = {k: e for k, e in _read("messages.pot")[1].items() if not e.msgid_plural}
    if check_lang(lang) == "en":
        return {key: e.msgid for key, e in template.items()}
    translated = _read(_file(lang))[1]
    return {key: translated[key].msgstr[0] if key in translated else "" for key in template}


@cache
def plural_catalogue(lang: str) -> dict[str, tuple[str, ...]]:
    """Key -> the plural forms of ``lang`` (English: ``msgid``, ``msgid_plural``) for the phrases with a count."""
    template = {k: e for k, e in _read("messages.pot")[1].items() if e.msgid_plural}
    if check_lang(lang) == "en":
        return {key: (e.msgid, e.msgid_plural) for key, e in template.items()}
    translated = _read(_file(lang))[1]
    return {key: translated[key].msgstr if key in translated else () for key in template}


_FIELDS: Final = re.compile(r"\{(\w*)[^}]*\}")


def untranslated(lang: str) -> list[str]:
    """Keys of the template that ``lang`` lacks, leaves empty, or translates with other ``{fields}``.

    A plural entry also counts as untranslated when it does not give exactly ``nplurals`` forms of ``lang``.
    """
    english = catalogue("en")
    phrases = catalogue(lang)
    out = [
        key
        for key, en in english.items()
        if not phrases[key].strip() or set(_FIELDS.findall(phrases[key])) != set(_FIELDS.findall(en))
    ]
    nplurals = _plural_rule(lang)[0]
    for key, en_forms in plural_catalogue("en").items():
        forms = plural_catalogue(lang)[key]
        wanted = set(_FIELDS.findall(en_forms[1]))
        if len(forms) != nplurals or any(not f.strip() or set(_FIELDS.findall(f)) != wanted for f in forms):
            out.append(key)
    return out


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise :class:`~vision_zero.core.errors.ConfigError` listing the options."""
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang: expected one of {list(LANGUAGES)} (got {lang!r})")
    return lang


def text(key: str, lang: str = "en", **fields: object) -> str:
    """The phrase ``key`` in ``lang`` (English if the translation is empty), with ``fields`` filled in.

    Raises
    ------
    KeyError
        If ``key`` is not in the catalogue or is a phrase with a count (use :func:`ntext`): a programming error,
        caught by the tests.
    """
    phrase = catalogue(lang).get(key) or catalogue("en")[key]
    return phrase.format(**fields) if fields else phrase


def ntext(key: str, count: float, lang: str = "en", **fields: object) -> str:
    """The phrase ``key`` in the plural form ``lang`` uses for ``count`` (gettext's ``ngettext``).

    ``fields`` fill the phrase; ``count`` fills ``{n}`` unless ``fields`` give ``n`` (e.g. as a formatted
    number). The form is chosen for ``count`` rounded to a whole number. English is used if the translation is
    missing.

    Raises
    ------
    KeyError
        If ``key`` is not a plural entry of the catalogue (a programming error, caught by the tests).
    """
    forms = plural_catalogue(lang).get(key) or plural_catalogue("en")[key]
    if len(forms) != _plural_rule(lang)[0] or not all(f.strip() for f in forms):
        forms, lang = plural_catalogue("en")[key], "en"
    phrase = forms[min(plural_form(lang, round(float(count))), len(forms) - 1)]
    return phrase.format(**({"n": count} | fields))
