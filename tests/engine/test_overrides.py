"""Administrators' calendar overrides reach the deadlines."""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import NotFound, PermissionDenied
from engine.overrides import list_overrides, remove_override, set_override
from engine.queries import actor_for
from gaita.bootstrap import make_calendar
from tests.conftest import START, make_test_app


def test_an_ad_hoc_holiday_moves_deadlines_and_only_admins_set_it(db_url: str) -> None:
    app = make_test_app(db_url)
    roles, admin = app.rt, actor_for(app.db, "admin")
    before = make_calendar(app.rt.municipality, app.db).due_at(START, 1)   # Tuesday 1 Dec 2026
    with pytest.raises(PermissionDenied, match="only administrators"), app.db.begin() as conn:
        set_override(conn, roles, actor_for(app.db, "koordinatore"), date(2026, 12, 1),
                     "holiday", "", START)
    with app.db.begin() as conn:   # the caller's transaction: both or neither
        set_override(conn, roles, admin, date(2026, 12, 1), "holiday",
                     "Valdības rīkojums Nr. 1", START)
        set_override(conn, roles, admin, date(2026, 12, 5), "working_day",
                     "pārcelta darba diena", START)
    assert [r["note"] for r in list_overrides(app.db)] == ["Valdības rīkojums Nr. 1",
                                                          "pārcelta darba diena"]
    calendar = make_calendar(app.rt.municipality, app.db)
    assert calendar.local_date(before) == date(2026, 12, 1)
    assert calendar.local_date(calendar.due_at(START, 1)) == date(2026, 12, 2)
    assert calendar.is_working_day(date(2026, 12, 5))   # a Saturday made a working day
    with app.db.begin() as conn:
        remove_override(conn, roles, admin, date(2026, 12, 1))
    with pytest.raises(NotFound), app.db.begin() as conn:
        remove_override(conn, roles, admin, date(2026, 12, 1))
