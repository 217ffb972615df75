"""The regular rhythm of the cooperation group's ordinary meetings: proposed days.

``cooperation_group.yaml`` ``rhythm`` says on which day of which months an
ordinary meeting is held (e.g. the second Thursday of January, April, July and
October).  A proposed day that is not a working day moves to the next working
day.  The chair accepts a proposal by planning an ordinary meeting on it
(``engine.group.meetings.plan_meeting``); a proposal with an ordinary meeting
already planned on its day shows that meeting.
"""

from __future__ import annotations

import calendar as cal_module
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from engine.municipality import WEEKDAYS, Rhythm
from engine.runtime import Runtime
from engine.store import MEETING
from engine.tables import MeetingKind

#: How many proposals are shown by default.
DEFAULT_COUNT = 3


@dataclass(frozen=True)
class Proposal:
    day: date
    meeting_id: int | None   # the ordinary meeting planned on that day: accepted

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "meeting": self.meeting_id}


def rhythm_day(rhythm: Rhythm, year: int, month: int) -> date:
    """The rhythm's day in ``year``-``month`` (before moving off a day off)."""
    weekday = WEEKDAYS.index(rhythm.weekday)
    days = cal_module.monthrange(year, month)[1]
    if rhythm.week == -1:
        last = date(year, month, days)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (rhythm.week - 1))


def proposed_days(rt: Runtime, start: date, count: int = DEFAULT_COUNT) -> list[date]:
    """The next ``count`` proposed ordinary meeting days on or after ``start``, each a
    working day."""
    rhythm = rt.municipality.cooperation_group.rhythm
    months = sorted(set(rhythm.months))
    out: list[date] = []
    year, month = start.year, start.month
    while len(out) < count:
        if month in months:
            day = rt.calendar.next_working_day(rhythm_day(rhythm, year, month))
            if day >= start and day not in out:
                out.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def proposals(db: sa.Engine, rt: Runtime, count: int = DEFAULT_COUNT) -> list[Proposal]:
    """The next proposed ordinary meeting days from today, each with the ordinary meeting
    already planned on it, if any."""
    days = proposed_days(rt, rt.calendar.local_date(rt.clock.now()), count)
    with db.connect() as conn:
        planned = dict(conn.execute(sa.select(MEETING.c.day, MEETING.c.id).where(
            MEETING.c.day.in_(days), MEETING.c.kind == MeetingKind.ORDINARY)
            .order_by(MEETING.c.id)).all())
    return [Proposal(d, planned.get(d)) for d in days]


def next_open_proposal(db: sa.Engine, rt: Runtime, horizon: int = 12) -> date | None:
    """The first proposed day with no ordinary meeting planned yet."""
    return next((p.day for p in proposals(db, rt, horizon) if p.meeting_id is None), None)
