"""Latvian working-day calendar (Europe/Riga) for legal deadlines.

Every deadline in Gaita is counted in *working days*.  Where the rules come from:

* Public holidays, the Monday off when 4 May or 18 November falls on a weekend,
  and the Cabinet's yearly "darba dienu pārcelšana" orders (a bridge day off
  paid back by a working Saturday) all come from the ``holidays`` package
  (``holidays.country_holidays("LV")``).  We ask its ``is_working_day`` and do
  not rebuild those rules here; a working Saturday lives in its
  ``weekend_workdays`` set, not in the holiday dict.
* On top of that sits an override layer of admin-entered days:
  ``extra_working_days`` make a day a working day even if it is a holiday or a
  weekend; ``extra_holidays`` make a working day a day off.  A date in both
  lists is rejected.

Counting convention ("day 0 is the day the event happens"):

* ``add_working_days(start, 0)`` is ``start`` itself when it is a working day,
  otherwise the next working day (a same-day duty that falls on a holiday is
  due on the next working day).
* ``add_working_days(start, n)`` for ``n >= 1`` is the n-th working day strictly
  after ``start``; the start day never counts, whatever kind of day it is.
* ``working_days_between(start, end)`` counts working days ``d`` with
  ``start < d <= end``, so ``working_days_between(s, add_working_days(s, n)) == n``
  for every ``n >= 1``.

Other day counts (``add_period``): a parameter counted in calendar days or months ends
at the end of the n-th calendar day (or the same day n months later, the month's last
day if it is shorter) after the start.  Same-day duties (``same_day``) name their kind
of day: a calendar day (BTAL 73(1): due at the end of the incident's own day, weekends
and holidays too), a school day (MK 89: a working day outside the configured school
holidays; the next one if the day has no lessons) or a working day.

Instants are timezone-aware datetimes.  Calendar dates are taken in Riga local
time; deadlines end at ``day_end`` (23:59:59) Riga time and are returned in UTC.
The module is pure: no clock, no database.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from engine.periods import DayKind, Period, Unit
from i18n import format_moment

__all__ = ["WorkingDayCalendar"]

_UTC = UTC


class WorkingDayCalendar:
    """Working days of one country in one timezone, plus admin overrides."""

    def __init__(
        self,
        *,
        timezone: str = "Europe/Riga",
        country: str = "LV",
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        day_end: time = time(23, 59, 59),
        school_holidays: Iterable[tuple[date, date]] = (),
    ) -> None:
        if day_end.tzinfo is not None:
            raise ValueError("day_end must be a naive local time of day")
        self.timezone: ZoneInfo = ZoneInfo(timezone)
        self.country: str = country
        self.day_end: time = day_end
        self.extra_holidays: frozenset[date] = frozenset(extra_holidays)
        self.extra_working_days: frozenset[date] = frozenset(extra_working_days)
        # (first, last) days without lessons, inclusive
        self.school_holidays: tuple[tuple[date, date], ...] = tuple(sorted(school_holidays))
        for first, last in self.school_holidays:
            if last < first:
                raise ValueError(f"school holiday ends before it starts: {first} - {last}")
        clash = self.extra_holidays & self.extra_working_days
        if clash:
            listed = ", ".join(d.isoformat() for d in sorted(clash))
            raise ValueError(f"dates are both extra holidays and extra working days: {listed}")
        # Expands lazily (expand=True); an unknown country fails here, not later.
        self._holidays: holidays.HolidayBase = holidays.country_holidays(country, years=())
        # year -> sorted ordinals of that year's working days.
        self._working: dict[int, list[int]] = {}
        # year -> ordinals of that year's non-working days (hot path of is_working_day).
        self._off: dict[int, frozenset[int]] = {}

    # -- per-year cache -------------------------------------------------

    def _load_year(self, year: int) -> None:
        # Substitutions may reference the neighbouring year, so populate those too.
        for y in (year - 1, year, year + 1):
            if date.min.year <= y <= date.max.year:
                _ = date(y, 1, 1) in self._holidays  # triggers population of year y
        working: list[int] = []
        off: set[int] = set()
        day = date(year, 1, 1)
        while day.year == year:
            if day in self.extra_working_days:
                is_working = True
            elif day in self.extra_holidays:
                is_working = False
            else:
                is_working = self._holidays.is_working_day(day)
            (working.append if is_working else off.add)(day.toordinal())
            if day == date.max:
                break
            day += timedelta(days=1)
        self._working[year] = working
        self._off[year] = frozenset(off)

    def _working_ordinals(self, year: int) -> list[int]:
        if year not in self._working:
            self._load_year(year)
        return self._working[year]

    # -- dates ----------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        off = self._off.get(day.year)
        if off is None:
            self._load_year(day.year)
            off = self._off[day.year]
        return day.toordinal() not in off

    def next_working_day(self, day: date, *, include_self: bool = True) -> date:
        """The first working day on/after ``day`` (strictly after if not include_self)."""
        if include_self and self.is_working_day(day):
            return day
        return self.add_working_days(day, 1)

    def is_school_day(self, day: date) -> bool:
        """A working day outside the school holidays."""
        return self.is_working_day(day) and not any(
            first <= day <= last for first, last in self.school_holidays)

    def next_school_day(self, day: date) -> date:
        """The first school day on or after ``day``."""
        while not self.is_school_day(day):
            day = self.next_working_day(day, include_self=False)
        return day

    def add_working_days(self, start: date, n: int) -> date:
        """Day ``n`` of a deadline whose event happens on ``start`` (see module docs)."""
        if n < 0:
            raise ValueError(f"working days must be >= 0, got {n}")
        if n == 0:
            return self.next_working_day(start)
        year, after = start.year, start.toordinal()
        while True:
            ordinals = self._working_ordinals(year)
            first = bisect_right(ordinals, after)
            available = len(ordinals) - first
            if n <= available:
                return date.fromordinal(ordinals[first + n - 1])
            n -= available
            year += 1

    def working_days_before(self, day: date, n: int) -> date:
        """The working day ``n`` working days before ``day`` (``n >= 1``)."""
        if n < 1:
            raise ValueError(f"working days before must be >= 1, got {n}")
        ordinal, year = day.toordinal(), day.year
        while True:
            ordinals = self._working_ordinals(year)
            before = bisect_left(ordinals, ordinal)   # working days of this year before `day`
            if n <= before:
                return date.fromordinal(ordinals[before - n])
            n -= before
            year -= 1
            ordinal = date(year, 12, 31).toordinal() + 1

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days ``d`` with ``start < d <= end`` (0 if end <= start)."""
        if end <= start:
            return 0
        lo, hi = start.toordinal(), end.toordinal()
        return sum(
            bisect_right(ords, hi) - bisect_right(ords, lo)
            for ords in map(self._working_ordinals, range(start.year, end.year + 1))
        )

    # -- instants -------------------------------------------------------

    def local_date(self, instant: datetime) -> date:
        """The Riga calendar date of an aware instant."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"instant must be timezone-aware, got naive {instant!r}")
        return instant.astimezone(self.timezone).date()

    def format_local(self, instant: datetime, lang: str | None = None) -> str:
        """The instant in this calendar's time zone.  In a language (pages, emails) as
        people write it, through Babel's locale (``i18n.format_moment``): ``2026. gada
        3. decembris 23:59`` / ``3 December 2026, 23:59``; without one (the command line,
        logs, the engine's messages) ``03.12.2026 23:59``, the form ``parse_local`` reads."""
        local = instant.astimezone(self.timezone)
        if lang is not None:
            return format_moment(local, lang)
        return local.strftime("%d.%m.%Y %H:%M")

    def parse_local(self, text: str) -> datetime:
        """A time as people type it, in this calendar's time zone: ``DD.MM.YYYY HH:MM``,
        ``DD.MM.YYYY`` (the day's start), or ISO 8601 (``2026-12-05T14:30``, with or
        without an offset).  ``ValueError`` for anything else."""
        text = " ".join(text.split())
        for fmt in ("%d.%m.%Y %H:%M", "%d.%m.%Y"):
            try:
                local = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return local.replace(tzinfo=self.timezone).astimezone(_UTC)
        parsed = datetime.fromisoformat(text)   # raises ValueError
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.timezone)
        return parsed.astimezone(_UTC)

    def working_time(self, instant: datetime, start: time, end: time) -> datetime:
        """``instant`` if it falls within working hours (``start`` <= local time < ``end``
        on a working day), else the start of the next working hours (UTC-aware)."""
        local = instant.astimezone(self.timezone)
        day = local.date()
        if self.is_working_day(day) and local.time() < end:
            if local.time() >= start:
                return instant
        else:
            day = self.next_working_day(day + timedelta(days=1))
        return datetime.combine(day, start, tzinfo=self.timezone).astimezone(_UTC)

    def end_of_day(self, day: date) -> datetime:
        """``day_end`` local time on ``day``, as a UTC-aware datetime."""
        return datetime.combine(day, self.day_end, tzinfo=self.timezone).astimezone(_UTC)

    def due_at(self, start: datetime, working_days: int) -> datetime:
        """Deadline instant for an event at ``start``; 0 = end of the same working day."""
        return self.end_of_day(self.add_working_days(self.local_date(start), working_days))

    def add_period(self, start: datetime, period: Period) -> datetime:
        """The end of a period counted from ``start``: working days as ``due_at``; calendar
        days and months end at the end of their last day."""
        if period.unit is Unit.WORKING_DAYS:
            return self.due_at(start, period.count)
        day = self.local_date(start)
        if period.unit is Unit.DAYS:
            return self.end_of_day(day + timedelta(days=period.count))
        return self.end_of_day(add_months(day, period.count))

    def same_day(self, start: datetime, kind: DayKind) -> datetime:
        """When a same-day duty for an event at ``start`` falls due: the end of that
        calendar day, of that school day (the next one if it has no lessons), or of
        that working day (the next one on a day off)."""
        day = self.local_date(start)
        if kind is DayKind.SCHOOL_DAY:
            day = self.next_school_day(day)
        elif kind is DayKind.WORKING_DAY:
            day = self.next_working_day(day)
        return self.end_of_day(day)

    def working_days_left(self, now: datetime, due: datetime) -> int:
        """Working days from today to the due date: 0 = due today, negative = overdue.

        Overdue counts are ``-working_days_between(due_date, today)``, so a deadline
        that expired on Friday still reads 0 on Saturday/Sunday; compare the
        instants (``now > due``) for the overdue flag itself.
        """
        today, due_day = self.local_date(now), self.local_date(due)
        if due_day >= today:
            return self.working_days_between(today, due_day)
        return -self.working_days_between(due_day, today)

    def shift_for_pause(self, due: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
        """Move ``due`` later by the working days the clock was paused.

        The shift is ``working_days_between(local(paused_at), local(resumed_at))``;
        the result keeps ``due``'s Riga wall-clock time (``end_of_day`` for
        deadlines made by ``due_at``) and is returned in UTC.
        """
        due_day = self.local_date(due)  # also rejects a naive ``due``
        paused, resumed = self.local_date(paused_at), self.local_date(resumed_at)
        if resumed < paused:
            raise ValueError("resumed_at is before paused_at")
        shift = self.working_days_between(paused, resumed)
        if shift == 0:
            return due.astimezone(_UTC)
        new_day = self.add_working_days(due_day, shift)
        wall = due.astimezone(self.timezone).time()
        return datetime.combine(new_day, wall, tzinfo=self.timezone).astimezone(_UTC)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (nxt - timedelta(days=1)).day))
