"""Gaita's words: Babel message catalogues, Latvian first, English too.

(Interim: the shared package is being built on the ``i18n`` branch; this holds only
the catalogue loader the error messages need.)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGS = ("lv", "en")
DEFAULT_LANG = "lv"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG


@cache
def catalogue(lang: str) -> dict[str, str]:
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
    words = catalogue(pick_lang(lang))

    def t(key: str, **values: object) -> str:
        text = words[key]
        return text.format(**values) if values else text

    return t
