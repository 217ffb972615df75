"""The web pages' words: Babel message catalogues, Latvian first, English too.

``gaita/web/locale/<lang>/LC_MESSAGES/*.po`` hold the texts, one file per
part of the app (``common.po``: shared words, the action-link pages and
errors; ``auth.po``, ``cases.po``, …).  The msgids are keys such as
``dashboard.overdue``; templates call ``t(<key>, name=value)``, never spell
a text.  Placeholders are ``{name}`` (flag ``python-brace-format``).  A test
checks both languages have every key, and that every key a template or
module uses exists.

Dates and numbers follow the language through Babel (``format_day``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.pofile import read_po

LANGS = ("lv", "en")
DEFAULT_LANG = "lv"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The locale dates and numbers are written in, per language.
BABEL_LOCALES = {"lv": "lv_LV", "en": "en_GB"}


def pick_lang(value: str | None) -> str:
    """``value`` when it is a known language, else Latvian."""
    return value if value in LANGS else DEFAULT_LANG


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, from all its ``.po`` files (read once)."""
    words: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f, locale=lang):
                if not message.id:
                    continue
                if message.id in words:
                    raise ValueError(f"{path}: key {message.id!r} is defined twice")
                words[str(message.id)] = str(message.string)
    return words


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``lang``."""
    words = catalogue(pick_lang(lang))

    def t(key: str, **values: object) -> str:
        text = words[key]
        return text.format(**values) if values else text

    return t


def format_day(value: date | datetime | None, lang: str) -> str:
    """A day as people write it: ``2026. gada 30. novembris`` / ``30 November 2026``."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, format="long", locale=BABEL_LOCALES[pick_lang(lang)])


def plural(lang: str, n: int) -> str:
    """``one`` or ``other``: the form a word counted ``n`` times takes in ``lang`` (CLDR:
    Latvian 1, 21, 31… but not 11 are ``one``; its ``zero`` form is written as ``other``)."""
    form = Locale.parse(BABEL_LOCALES[pick_lang(lang)]).plural_form(abs(n))
    return "one" if form == "one" else "other"


def working_days(lang: str, n: int) -> str:
    """``n`` working days in ``lang``: ``1 darba diena``, ``21 darba diena``, ``3 darba dienas``."""
    return translator(lang)(f"working_days.{plural(lang, n)}", n=n)
