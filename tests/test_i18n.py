"""The message catalogues of every domain (pages, emails, minutes): both languages have
every key, the same placeholders, and every key a template or module uses exists."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from engine.answers import TaskAction
from engine.definitions import RISK_LEVELS
from engine.outbox import Template
from engine.tables import MeetingKind
from i18n import DEFAULT_LANG, LANGS, LOCALE_DIR, catalogue, format_day, translator

ROOT = Path(__file__).resolve().parents[1]
#: Where keys are used: every template and module that calls ``t(...)``.
SOURCES = {
    "gaita/web": ("*.html", "*.py"),
    "notifications/templates": ("*.html", "*.txt"),
    "notifications": ("*.py",),
}
#: ``t("key"`` / ``t('key'`` (keys are literal strings).
_USED = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")
#: A key named as a string literal in a notifications module, e.g. in a table of keys.
_NAMED = re.compile(r"""["']((?:email|minutes)\.[a-z0-9_.]+)["']""")
_FIELDS = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")
#: Keys built from a vocabulary (``t("email.action." ~ action.purpose)``): the
#: vocabulary the engine declares, each of which must have its word.
VOCABULARIES = {
    "email.action.": [a.value for a in TaskAction],
    "email.risk.": list(RISK_LEVELS),
    "minutes.kind.": [k.value for k in MeetingKind],
    "cases.mail.": [m.value for m in Template],   # the case timeline names each email
}
DOMAINS = sorted(p.stem for p in (LOCALE_DIR / DEFAULT_LANG / "LC_MESSAGES").glob("*.po"))


def domain(lang: str, name: str) -> dict[str, str]:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{name}.po").open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f, locale=lang) if m.id}


def test_every_domain_exists_in_every_language() -> None:
    assert {"common", "email", "minutes"} <= set(DOMAINS)
    for lang in LANGS:
        assert sorted(p.stem for p in (LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")) == DOMAINS


@pytest.mark.parametrize("name", DOMAINS)
def test_both_languages_have_the_same_keys(name: str) -> None:
    lv, en = domain("lv", name), domain("en", name)
    assert sorted(set(lv) ^ set(en)) == []
    assert [k for k in lv if not lv[k].strip() or not en[k].strip()] == []


@pytest.mark.parametrize("name", DOMAINS)
def test_placeholders_match_between_languages(name: str) -> None:
    lv, en = domain("lv", name), domain("en", name)
    assert [k for k in lv if set(_FIELDS.findall(lv[k])) | OMITTED.get(k, set())
            != set(_FIELDS.findall(en[k]))] == []


#: Placeholders a Latvian text leaves out on purpose: there the state is named by its
#: title already (the English names it by its code, then its title), a guard's code
#: says nothing its reason does not, and a page never repeats a digit of a personal code.
OMITTED = {"error.pause.not_pausable": {"state_title"}, "error.guard.failed": {"guard"},
           "error.personal_code.check": {"got", "expected"},
           "error.personal_code.century": {"digit"},
           "error.personal_code.unexpected_letter": {"char"},
           "error.personal_code.unexpected_character": {"char"},
           "error.personal_code.leap_day": {"month"}}   # always February


def test_counted_words_have_both_forms() -> None:
    words = catalogue("lv")
    families = {k.removesuffix(".one") for k in words if k.endswith(".one")}
    assert sorted(families) and [f for f in sorted(families) if f"{f}.other" not in words] == []


def known(key: str, words: dict[str, str]) -> bool:
    """A key, or a counted family (``t(key, n=…)`` picks ``key.one`` / ``key.other``)."""
    return key in words or f"{key}.one" in words


def test_every_key_used_in_templates_and_code_exists() -> None:
    used: dict[str, str] = {}
    for folder, patterns in SOURCES.items():
        for pattern in patterns:
            for path in sorted((ROOT / folder).rglob(pattern) if folder != "notifications"
                               else (ROOT / folder).glob(pattern)):
                text = path.read_text(encoding="utf-8")
                named = _NAMED.findall(text) if folder == "notifications" else []
                for key in [*_USED.findall(text), *named]:
                    used.setdefault(key, str(path.relative_to(ROOT)))
    assert any(where.startswith("notifications/templates") for where in used.values())
    assert any(where == "notifications/minutes.py" for where in used.values())
    words = catalogue("lv")
    built = {k for k in used if k.endswith(".")}   # a prefix completed from a vocabulary
    assert sorted(built - set(VOCABULARIES)) == []
    assert {k: where for k, where in used.items() if k not in built and not known(k, words)} == {}


@pytest.mark.parametrize("prefix", sorted(VOCABULARIES))
def test_every_word_of_a_vocabulary_has_its_message(prefix: str) -> None:
    assert [w for w in VOCABULARIES[prefix] if f"{prefix}{w}" not in catalogue("lv")] == []


def test_days_are_written_as_people_write_them() -> None:
    assert format_day(date(2026, 11, 30), "lv") == "2026. gada 30. novembris"
    assert format_day(date(2026, 11, 30), "en") == "30 November 2026"
    assert set(LANGS) == {"lv", "en"}


@pytest.mark.parametrize(("n", "lv", "en"), [
    (1, "1 darba diena", "1 working day"), (21, "21 darba diena", "21 working days"),
    (3, "3 darba dienas", "3 working days"), (11, "11 darba dienas", "11 working days"),
    (0, "0 darba dienas", "0 working days"),
])
def test_counted_words_take_the_form_of_their_number(n: int, lv: str, en: str) -> None:
    assert translator("lv")("working_days", n=n) == lv
    assert translator("en")("working_days", n=n) == en


def test_an_unknown_key_or_language() -> None:
    with pytest.raises(KeyError):
        translator("lv")("no.such.key")
    assert translator("de")("working_days", n=1) == "1 darba diena"   # Latvian first


#: Words written the same in both languages (a name, a pair of placeholders).
SAME_IN_BOTH = {"app_name", "cases.event.transition", "error.declaration.problem",
                "error.declaration.invalid", "error.input.invalid", "error.schema.at",
                "audit.times", "cases.access.via.api"}   # "×3", "API"


def test_no_latvian_message_is_the_english_one() -> None:
    lv, en = catalogue("lv"), catalogue("en")
    assert [k for k in lv if lv[k] == en[k] and k not in SAME_IN_BOTH] == []
