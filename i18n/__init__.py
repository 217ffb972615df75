"""Gaita's words: Babel message catalogues, Latvian first, English too.

One translation system for every text a person reads: the web pages, the
emails, the cooperation group's minutes and the engine's refusals.
``i18n/locale/<lang>/LC_MESSAGES/<domain>.po`` hold the texts, one file per
part of the app (``common.po``: shared words, the action-link pages and
error pages; ``auth.po``, ``cases.po``, … for the pages; ``email.po`` for the
emails; ``minutes.po`` for the DOCX minutes; ``errors.po`` for the messages by
code that errors, refusals and declaration problems carry, rendered by
``i18n.messages``).  The msgids are keys such as
``dashboard.overdue``, one namespace across the domains; code and templates
call ``t(<key>, name=value)``, never spell a text.  Placeholders are
``{name}`` (flag ``python-brace-format``).

A word counted by ``n`` is a family ``<key>.one`` / ``<key>.other`` (CLDR's
categories; Latvian ``zero`` is written as ``other``): ``t("working_days",
n=21)`` picks ``working_days.one`` in Latvian ("21 darba diena") and
``working_days.other`` in English.  ``tests/test_i18n.py`` checks both
languages have every key and the same placeholders, and that every key a
template or module uses exists.

Dates and numbers follow the language through Babel (``format_day``).

A leaf: this package imports the standard library and Babel only, so the
engine may use it too (``tests/test_layers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.pofile import read_po

LANGS = ("lv", "en")
DEFAULT_LANG = "lv"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The locale dates and numbers are written in, per language.
BABEL_LOCALES = {"lv": "lv_LV", "en": "en_GB"}


def pick_lang(value: str | None) -> str:
    """``value`` when it is a known language, else Latvian."""
    return value if value in LANGS else DEFAULT_LANG


def catalogue_files(lang: str) -> list[Path]:
    """The ``.po`` files of one language, one per domain."""
    return sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po"))


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, from all its ``.po`` files (read once)."""
    words: dict[str, str] = {}
    for path in catalogue_files(lang):
        with path.open("rb") as f:
            for message in read_po(f, locale=lang):
                if not message.id:
                    continue
                if message.id in words:
                    raise ValueError(f"{path}: key {message.id!r} is defined twice")
                words[str(message.id)] = str(message.string)
    return words


def message(lang: str, key: str, values: Mapping[str, object] | None = None) -> str:
    """The unformatted text of ``key`` in ``lang``; the form ``values["n"]`` takes if
    ``key`` is a counted family.  ``KeyError`` names an unknown key."""
    words = catalogue(pick_lang(lang))
    text = words.get(key)
    if text is not None:
        return text
    n = (values or {}).get("n")
    if isinstance(n, int) and f"{key}.one" in words:
        return words[f"{key}.{plural(lang, n)}"]
    raise KeyError(key)


def translator(lang: str, text_type: Callable[[str], str] = str) -> Callable[..., str]:
    """``t(key, **values)`` in ``lang``.  HTML templates pass ``text_type=markupsafe.Markup``:
    the catalogue's text is trusted markup and only the values are escaped."""
    lang = pick_lang(lang)

    def t(key: str, **values: object) -> str:
        text = text_type(message(lang, key, values))
        return text.format(**values) if values else text

    return t


def format_day(value: date | datetime | None, lang: str) -> str:
    """A day as people write it: ``2026. gada 30. novembris`` / ``30 November 2026``."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, format="long", locale=BABEL_LOCALES[pick_lang(lang)])


def format_moment(value: datetime, lang: str) -> str:
    """A moment (in the time zone it carries) as people write it, the day in words and the
    time to the minute: ``2026. gada 7. februārī plkst. 23:59`` / ``7 February 2026, 23:59``
    (``moment`` in the catalogue).  Latvian puts the month in the locative ("when"), which
    reads right both alone and in a sentence ("apstiprināts 2026. gada 7. februārī")."""
    lang = pick_lang(lang)
    locale = BABEL_LOCALES[lang]
    day = format_date(value.date(), format="long", locale=locale)
    if lang == "lv":
        month = Locale.parse(locale).months["format"]["wide"][value.month]
        day = day.replace(month, _lv_locative(month))
    time = format_time(value.time(), format="HH:mm", locale=locale)
    return translator(lang)("moment", day=day, time=time)


def _lv_locative(month: str) -> str:
    """``februāris`` → ``februārī``, ``marts`` → ``martā`` (the locative of a month's name)."""
    return month[:-2] + "ī" if month.endswith("is") else month[:-1] + "ā"


def plural(lang: str, n: int) -> str:
    """``one`` or ``other``: the form a word counted ``n`` times takes in ``lang`` (CLDR:
    Latvian 1, 21, 31… but not 11 are ``one``; its ``zero`` form is written as ``other``)."""
    return "one" if _plural_rule(pick_lang(lang))(abs(n)) == "one" else "other"


@cache
def _plural_rule(lang: str) -> Callable[[int], str]:
    rule: Callable[[int], str] = Locale.parse(BABEL_LOCALES[lang]).plural_form
    return rule


def working_days(lang: str, n: int) -> str:
    """``n`` working days in ``lang``: ``1 darba diena``, ``21 darba diena``, ``3 darba dienas``."""
    return translator(lang)("working_days", n=n)
