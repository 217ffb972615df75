"""The message catalogues: both languages have every key, and every key used exists."""

from __future__ import annotations

import re
from pathlib import Path

from i18n import LANGS, catalogue, format_day

WEB = Path(__file__).resolve().parents[1] / "gaita" / "web"
#: ``t("key"`` / ``t('key'`` in templates and modules (keys are literal strings).
_USED = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")


def test_both_languages_have_the_same_keys() -> None:
    lv, en = catalogue("lv"), catalogue("en")
    assert sorted(set(lv) ^ set(en)) == []
    assert [k for k in lv if not lv[k].strip() or not en[k].strip()] == []


def test_placeholders_match_between_languages() -> None:
    lv, en = catalogue("lv"), catalogue("en")
    fields = re.compile(r"\{(\w+)\}")
    assert [k for k in lv if set(fields.findall(lv[k])) != set(fields.findall(en[k]))] == []


def test_every_key_used_in_templates_and_code_exists() -> None:
    used: dict[str, str] = {}
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        for key in _USED.findall(path.read_text(encoding="utf-8")):
            used.setdefault(key, str(path.relative_to(WEB)))
    missing = {k: where for k, where in used.items() if k not in catalogue("lv")}
    assert missing == {}


def test_days_are_written_as_people_write_them() -> None:
    from datetime import date
    assert format_day(date(2026, 11, 30), "lv") == "2026. gada 30. novembris"
    assert format_day(date(2026, 11, 30), "en") == "30 November 2026"
    assert set(LANGS) == {"lv", "en"}
