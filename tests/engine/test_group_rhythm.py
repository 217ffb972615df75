"""The rhythm of ordinary meetings (engine.group.rhythm): proposed days, working days only."""

from __future__ import annotations

from datetime import date

from engine.group.rhythm import proposals, proposed_days
from gaita.bootstrap import App
from tests.engine.test_group import plan


def set_rhythm(app: App, **changes: object) -> None:
    m = app.rt.municipality
    group = m.cooperation_group
    app.rt.municipality = m.model_copy(update={"cooperation_group": group.model_copy(
        update={"rhythm": group.rhythm.model_copy(update=changes)})})


def test_the_configured_rhythm_proposes_the_second_thursday_of_each_quarter(gaita: App) -> None:
    assert proposed_days(gaita.rt, date(2026, 11, 30), 5) == [
        date(2027, 1, 14), date(2027, 4, 8), date(2027, 7, 8), date(2027, 10, 14),
        date(2028, 1, 13)]
    assert proposed_days(gaita.rt, date(2027, 1, 14), 1) == [date(2027, 1, 14)]   # on the day
    assert proposed_days(gaita.rt, date(2027, 1, 15), 1) == [date(2027, 4, 8)]


def test_a_proposal_on_a_day_off_moves_to_the_next_working_day(gaita: App) -> None:
    # the first Friday of January 2027 is New Year's Day
    set_rhythm(gaita, months=(1,), weekday="friday", week=1)
    assert proposed_days(gaita.rt, date(2026, 12, 1), 1) == [date(2027, 1, 4)]
    # the third Thursday of November 2027 is 18 November (Proclamation Day)
    set_rhythm(gaita, months=(11,), weekday="thursday", week=3)
    assert proposed_days(gaita.rt, date(2027, 1, 1), 1) == [date(2027, 11, 19)]
    # the last Monday of each month; monthly
    set_rhythm(gaita, months=tuple(range(1, 13)), weekday="monday", week=-1)
    assert proposed_days(gaita.rt, date(2026, 11, 30), 3) == [
        date(2026, 11, 30), date(2026, 12, 28), date(2027, 1, 25)]


def test_changing_the_rhythm_changes_the_proposals_and_a_planned_one_is_shown(gaita: App) -> None:
    set_rhythm(gaita, months=(12,), weekday="wednesday", week=2)
    found = proposals(gaita.db, gaita.rt, 2)
    assert [p.day for p in found] == [date(2026, 12, 9), date(2027, 12, 8)]
    assert [p.meeting_id for p in found] == [None, None]
    meeting = plan(gaita, date(2026, 12, 9)).meeting_id
    assert [p.meeting_id for p in proposals(gaita.db, gaita.rt, 2)] == [meeting, None]
