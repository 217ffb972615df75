"""Days typed DD.MM.GGGG or YYYY-MM-DD, through the one parser (``engine.dates``), at every
entry point the engine owns: a declared ``type: date`` field (the CLI, the web and the API
all coerce through it), an opening, a config file's day.  The edges' own day inputs are
tested with them: tests/cli (calendar, meeting plan, --field), tests/web (admin calendar,
meeting form, opening form, REST API)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError

from engine.cases import open_case
from engine.dates import Day, InvalidDate, dmy, parse_day
from engine.definitions import FieldSpec, Text
from engine.errors import FieldError
from engine.fields import coerce_fields
from engine.municipality import CalendarSettings
from engine.queries import actor_for
from engine.store import CASE
from gaita.bootstrap import App
from gaita.demo import sample_fields
from i18n.messages import render
from tests.conftest import snapshot

DATE = FieldSpec(type="date", title=Text(lv="Gadījuma datums", en="Date of the incident"))


@pytest.mark.parametrize(("typed", "day"), [
    ("31.01.2026", date(2026, 1, 31)),
    ("1.2.2026", date(2026, 2, 1)),
    ("2026-01-31", date(2026, 1, 31)),
    ("  29.02.2028 ", date(2028, 2, 29)),   # a leap day, spaces around it
    (date(2026, 5, 4), date(2026, 5, 4)),
])
def test_both_forms_name_the_same_day(typed: Any, day: date) -> None:
    assert parse_day(typed) == day


@pytest.mark.parametrize(("typed", "code"), [
    ("31.02.2026", "date.no_such_day"),
    ("29.02.2027", "date.no_such_day"),
    ("2026-02-31", "date.no_such_day"),
    ("00.01.2026", "date.no_such_day"),
    ("1.2.26", "date.format"),        # two-digit year
    ("31/01/2026", "date.format"),
    ("20260131", "date.format"),      # date.fromisoformat would read these two
    ("2026-W05-6", "date.format"),
    ("\u0663\u0661.\u0660\u0661.2026", "date.format"),   # other scripts' digits
    ("31.01.2026.", "date.format"),
    ("", "date.format"),
])
def test_anything_else_is_refused_with_a_precise_code(typed: str, code: str) -> None:
    with pytest.raises(InvalidDate) as refused:
        parse_day(typed)
    assert refused.value.code == code and refused.value.params == {"value": typed.strip()}
    latvian = render("lv", refused.value)
    assert typed.strip() in latvian
    assert ("nepastāv" if code == "date.no_such_day" else "DD.MM.GGGG") in latvian


def test_a_day_is_written_back_as_people_type_it() -> None:
    assert dmy(date(2026, 3, 1)) == "01.03.2026"
    assert parse_day(dmy(date(2026, 3, 1))) == date(2026, 3, 1)


def test_a_date_field_takes_both_forms_and_stores_iso() -> None:
    assert coerce_fields({"d": DATE}, {"d": "05.12.2026"}) == {"d": "2026-12-05"}
    assert coerce_fields({"d": DATE}, {"d": "2026-12-05"}) == {"d": "2026-12-05"}
    for typed, code in (("31.02.2026", "date.no_such_day"), ("5.12.26", "date.format"),
                        (20261205, "date.format"), (True, "date.format")):
        with pytest.raises(FieldError) as refused:
            coerce_fields({"d": DATE}, {"d": typed})
        assert refused.value.field == "d" and refused.value.reason.code == code, typed


def test_a_config_day_takes_both_forms_and_says_what_is_wrong() -> None:
    days = TypeAdapter(tuple[Day, ...])
    assert days.validate_python(["24.12.2026", "2026-12-31", date(2027, 1, 2)]) == (
        date(2026, 12, 24), date(2026, 12, 31), date(2027, 1, 2))
    settings = CalendarSettings.model_validate({
        "country": "LV", "timezone": "Europe/Riga", "day_end": "23:59",
        "extra_holidays": ["24.12.2026"]})
    assert settings.extra_holidays == (date(2026, 12, 24),)
    for typed, code in (("30.02.2027", "date.no_such_day"), ("2027/02/01", "date.format"),
                        (20270201, "date.format")):
        with pytest.raises(ValidationError) as refused:
            days.validate_python([typed])
        assert refused.value.errors()[0]["type"] == code, typed


def test_an_opening_takes_a_typed_day_and_a_bad_one_writes_nothing(gaita: App) -> None:
    coordinator = actor_for(gaita.db, "koordinatore")

    def opening(day: str) -> str:
        return open_case(gaita.db, gaita.rt, "unregistered_child", coordinator,
                         child_name="Jānis Bērziņš", child_code="120514-21234",
                         fields={**sample_fields(gaita.rt.registry.latest(
                             "unregistered_child").open.fields), "ikvd_list_date": day}
                         ).reference

    before = snapshot(gaita.db)
    for bad, code in (("31.11.2026", "date.no_such_day"), ("30.11.26", "date.format")):
        with pytest.raises(FieldError) as refused:
            opening(bad)
        assert (refused.value.field, refused.value.reason.code) == ("ikvd_list_date", code)
        assert render("lv", refused.value).startswith("lauks „"), render("lv", refused.value)
    assert snapshot(gaita.db) == before
    reference = opening("30.11.2026")
    with gaita.db.connect() as conn:
        data = conn.execute(sa.select(CASE.c.data).where(CASE.c.reference == reference)).scalar()
    assert data["ikvd_list_date"] == "2026-11-30"
