"""Text of the terminal table, charts, maps, report and GeoPackage in English, Russian and Kazakh.

One translation catalogue in gettext form, read at run time (no compiled ``.mo`` file is needed):
``vision_zero/data/i18n/messages.pot`` holds every phrase — ``msgctxt`` is the key the code asks for, ``msgid``
the English text — and ``ru.po`` / ``kk.po`` the same entries with their ``msgstr``. Standard tools (Poedit,
Weblate, ``msgfmt --check``) open these files. ``text(key, lang)`` looks a phrase up; ``str.format`` fields are
filled from keyword arguments. A test fails when an entry of the template is missing or empty in a language
(:func:`untranslated`). Kazakh is a best effort by the authors; corrections by a native speaker are welcome.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Final

from vision_zero.core.errors import ConfigError

__all__ = ["LANGUAGES", "catalogue", "check_lang", "read_po", "text", "untranslated"]

#: Supported languages.
LANGUAGES: Final[tuple[str, ...]] = ("en", "ru", "kk")

_ESCAPES: Final[dict[str, str]] = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(token: str) -> str:
    body = token.strip()
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        raise ValueError(f"expected a quoted string, got {token!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body[1:-1])


def read_po(content: str) -> dict[str, tuple[str, str]]:
    """Entries of a gettext ``.po``/``.pot`` text: ``msgctxt`` -> (``msgid``, ``msgstr``).

    Only what this catalogue uses is read: ``msgctxt``, ``msgid``, ``msgstr`` and their continuation lines;
    comments and the header entry (empty ``msgid``) are skipped.
    """
    entries: dict[str, tuple[str, str]] = {}
    current: dict[str, str] = {}
    field = ""

    def flush() -> None:
        if current.get("msgid"):
            key = current.get("msgctxt", current["msgid"])
            if key in entries:
                raise ValueError(f"duplicate entry {key!r}")
            entries[key] = (current["msgid"], current.get("msgstr", ""))
        current.clear()

    for number, raw in enumerate(content.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith('"'):
                current[field] += _unquote(line)
                continue
            word, _, rest = line.partition(" ")
            if word not in ("msgctxt", "msgid", "msgstr"):
                raise ValueError(f"unknown keyword {word!r}")
            if (
                word == "msgctxt"
                or (word == "msgid" and "msgid" in current and "msgctxt" not in current)
                or (word == "msgid" and "msgstr" in current)
            ):
                flush()
            field = word
            current[field] = _unquote(rest)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"line {number}: {exc}") from None
    flush()
    return entries


def _read(name: str) -> dict[str, tuple[str, str]]:
    return read_po(resources.files("vision_zero").joinpath("data", "i18n", name).read_text("utf-8"))


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Key -> phrase of ``lang``: English from ``messages.pot``, others from ``<lang>.po`` (empty if missing)."""
    template = _read("messages.pot")
    if check_lang(lang) == "en":
        return {key: msgid for key, (msgid, _) in template.items()}
    translated = _read(f"{lang}.po")
    return {key: translated[key][1] if key in translated else "" for key in template}


def untranslated(lang: str) -> list[str]:
    """Keys of the template that ``lang`` lacks, leaves empty, or translates with other ``{fields}``."""
    english = catalogue("en")
    phrases = catalogue(lang)
    fields = re.compile(r"\{(\w*)[^}]*\}")
    return [
        key
        for key, en in english.items()
        if not phrases[key].strip() or set(fields.findall(phrases[key])) != set(fields.findall(en))
    ]


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
        If ``key`` is not in the catalogue (a programming error, caught by the tests).
    """
    phrase = catalogue(lang).get(key) or catalogue("en")[key]
    return phrase.format(**fields) if fields else phrase
