"""The Latvian working-day calendar: holidays, overrides, deadlines and pauses.

Expected dates were worked out by hand from a wall calendar; each table row
says why.  Riga is UTC+2 in winter (EET) and UTC+3 in summer (EEST); in 2025
summer time runs from 30 March to 26 October.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import WorkingDayCalendar

UTC = UTC
CAL = WorkingDayCalendar()


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def eod(y: int, mo: int, d: int) -> datetime:
    """End of that Riga day, in UTC."""
    return CAL.end_of_day(date(y, mo, d))


# --- which days are working days ----------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # 4 May (Restoration of Independence) on a weekend -> Monday off.
        (date(2024, 5, 4), False),  # Saturday holiday
        (date(2024, 5, 6), False),  # Monday in lieu
        (date(2024, 5, 7), True),
        (date(2025, 5, 4), False),  # Sunday holiday
        (date(2025, 5, 5), False),  # Monday in lieu
        # 18 November (Proclamation Day) on a weekend -> Monday off.
        (date(2023, 11, 18), False),  # Saturday
        (date(2023, 11, 20), False),  # Monday in lieu
        (date(2023, 11, 21), True),
        (date(2029, 11, 18), False),  # Sunday
        (date(2029, 11, 19), False),  # Monday in lieu
        # Midsummer: Līgo 23 June, Jāņi 24 June.
        (date(2025, 6, 23), False),  # Monday, Līgo
        (date(2025, 6, 24), False),  # Tuesday, Jāņi
        (date(2025, 6, 25), True),
        # ...but Midsummer on a weekend gives no Monday off (only 4 May / 18 Nov do).
        (date(2029, 6, 25), True),
        # Christmas Eve to New Year.
        (date(2025, 12, 24), False),
        (date(2025, 12, 25), False),
        (date(2025, 12, 26), False),
        (date(2025, 12, 29), True),
        (date(2025, 12, 31), False),
        (date(2026, 1, 1), False),
        # Easter 2025: Good Friday 18 April, Easter Monday 21 April.
        (date(2025, 4, 17), True),
        (date(2025, 4, 18), False),
        (date(2025, 4, 21), False),
        (date(2025, 4, 22), True),
        # Cabinet transfers: a bridge day off, paid back by a working Saturday.
        (date(2025, 5, 2), False),  # Friday bridge day ...
        (date(2025, 5, 10), True),  # ... worked on Saturday 10 May
        (date(2025, 11, 17), False),  # Monday bridge day ...
        (date(2025, 11, 8), True),  # ... worked on Saturday 8 November
        (date(2026, 1, 2), False),  # Friday bridge day ...
        (date(2026, 1, 17), True),  # ... worked on Saturday 17 January
        (date(2024, 12, 14), True),  # working Saturday for Monday 23 Dec 2024
        (date(2024, 12, 23), False),
        # Ordinary days.
        (date(2025, 3, 12), True),  # Wednesday
        (date(2025, 3, 15), False),  # Saturday
        (date(2025, 3, 16), False),  # Sunday
    ],
    ids=str,
)
def test_a_day_is_a_working_day_according_to_latvian_law(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    "saturday", [date(2024, 12, 14), date(2025, 5, 10), date(2026, 6, 27)], ids=str
)
def test_transferred_working_saturdays_come_from_the_holidays_package(saturday: date) -> None:
    assert saturday.weekday() == 5
    assert saturday in holidays.country_holidays("LV", years=saturday.year).weekend_workdays
    assert CAL.is_working_day(saturday)


def test_a_year_has_as_many_working_days_as_the_holidays_package_counts() -> None:
    # 2025: 261 weekdays - 14 weekday holidays + 2 working Saturdays = 249.
    lv = holidays.country_holidays("LV", years=2025)
    assert CAL.working_days_between(date(2024, 12, 31), date(2025, 12, 31)) == 249
    assert lv.get_working_days_count(date(2025, 1, 1), date(2025, 12, 31)) == 249


# --- admin overrides -----------------------------------------------------


def test_an_extra_holiday_makes_a_working_day_a_day_off() -> None:
    cal = WorkingDayCalendar(extra_holidays=[date(2025, 3, 12)])
    assert not cal.is_working_day(date(2025, 3, 12))
    assert cal.is_working_day(date(2025, 3, 13))
    # Tuesday 11 March + 1 skips the extra holiday on Wednesday.
    assert cal.add_working_days(date(2025, 3, 11), 1) == date(2025, 3, 13)


@pytest.mark.parametrize(
    "day",
    [date(2025, 3, 15), date(2025, 12, 24), date(2024, 5, 6)],  # Saturday, holiday, Monday in lieu
    ids=str,
)
def test_an_extra_working_day_overrides_a_weekend_or_a_holiday(day: date) -> None:
    cal = WorkingDayCalendar(extra_working_days=[day])
    assert not CAL.is_working_day(day)
    assert cal.is_working_day(day)


def test_an_extra_working_saturday_counts_towards_a_deadline() -> None:
    cal = WorkingDayCalendar(extra_working_days=[date(2025, 3, 15)])
    assert cal.add_working_days(date(2025, 3, 14), 1) == date(2025, 3, 15)
    assert CAL.add_working_days(date(2025, 3, 14), 1) == date(2025, 3, 17)


def test_a_day_cannot_be_both_an_extra_holiday_and_an_extra_working_day() -> None:
    with pytest.raises(ValueError, match="2025-03-12"):
        WorkingDayCalendar(
            extra_holidays=[date(2025, 3, 12)], extra_working_days=[date(2025, 3, 12)]
        )


# --- counting working days -----------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2025, 3, 10), 0, date(2025, 3, 10)),  # Monday: day 0 is the event day
        (date(2025, 3, 10), 1, date(2025, 3, 11)),
        (date(2025, 3, 10), 5, date(2025, 3, 17)),  # Tue..Fri = 4, Mon = 5
        (date(2025, 3, 15), 0, date(2025, 3, 17)),  # Saturday event: day 0 is Monday
        (date(2025, 3, 15), 1, date(2025, 3, 17)),  # ... and so is day 1
        # Event on a holiday (Līgo, Mon 23 June 2025): Jāņi is off too.
        (date(2025, 6, 23), 0, date(2025, 6, 25)),
        (date(2025, 6, 23), 1, date(2025, 6, 25)),
        (date(2025, 6, 23), 3, date(2025, 6, 27)),
        (date(2025, 6, 23), 5, date(2025, 7, 1)),  # 25, 26, 27, 30 Jun, 1 Jul
        # Easter: Thu 17 April 2025 -> Fri, Sat, Sun, Mon off -> Tue 22.
        (date(2025, 4, 17), 1, date(2025, 4, 22)),
        # May 2025: 1 (Thu), 2 (bridge), 3-4 weekend, 5 (Monday in lieu) off.
        (date(2025, 4, 30), 1, date(2025, 5, 6)),
        (date(2025, 4, 30), 4, date(2025, 5, 9)),
        (date(2025, 4, 30), 5, date(2025, 5, 10)),  # the working Saturday
        (date(2025, 4, 30), 6, date(2025, 5, 12)),
        # 18 Nov 2023 on Saturday: Fri 17 -> Sat, Sun, Mon 20 off -> Tue 21.
        (date(2023, 11, 17), 1, date(2023, 11, 21)),
        # Year boundary: 24-26 Dec off, 27-28 weekend, 29-30 working,
        # 31 Dec, 1 Jan, 2 Jan (bridge) off, 3-4 Jan weekend.
        (date(2025, 12, 23), 1, date(2025, 12, 29)),
        (date(2025, 12, 23), 2, date(2025, 12, 30)),
        (date(2025, 12, 23), 3, date(2026, 1, 5)),
        (date(2025, 12, 23), 10, date(2026, 1, 14)),  # 5,6,7,8,9,12,13,14 Jan = days 3..10
    ],
    ids=str,
)
def test_a_deadline_of_n_working_days_falls_on_the_expected_date(
    start: date, n: int, expected: date
) -> None:
    assert CAL.add_working_days(start, n) == expected
    if n >= 1:
        assert CAL.working_days_between(start, expected) == n


def test_a_negative_number_of_working_days_is_rejected() -> None:
    with pytest.raises(ValueError, match="working days must be >= 0, got -1"):
        CAL.add_working_days(date(2025, 3, 10), -1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2025, 3, 10), date(2025, 3, 10), 0),  # same day
        (date(2025, 3, 11), date(2025, 3, 10), 0),  # end before start
        (date(2025, 3, 14), date(2025, 3, 17), 1),  # Fri -> Mon: only Monday
        (date(2025, 5, 9), date(2025, 5, 12), 2),  # the working Saturday counts
        (date(2025, 12, 23), date(2026, 1, 5), 3),  # 29, 30 Dec and 5 Jan
    ],
    ids=str,
)
def test_working_days_between_counts_days_after_start_up_to_end(
    start: date, end: date, expected: int
) -> None:
    assert CAL.working_days_between(start, end) == expected


@pytest.mark.parametrize(
    ("day", "include_self", "expected"),
    [
        (date(2025, 3, 12), True, date(2025, 3, 12)),
        (date(2025, 3, 12), False, date(2025, 3, 13)),
        (date(2025, 12, 24), True, date(2025, 12, 29)),
        (date(2025, 12, 31), True, date(2026, 1, 5)),
    ],
    ids=str,
)
def test_next_working_day_skips_weekends_and_holidays(
    day: date, include_self: bool, expected: date
) -> None:
    assert CAL.next_working_day(day, include_self=include_self) == expected


# --- instants in Riga time -----------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (utc(2025, 3, 14, 21, 59), date(2025, 3, 14)),  # 23:59 EET
        (utc(2025, 3, 14, 22, 30), date(2025, 3, 15)),  # 00:30 EET next day
        (utc(2025, 6, 22, 20, 59), date(2025, 6, 22)),  # 23:59 EEST
        (utc(2025, 6, 22, 21, 30), date(2025, 6, 23)),  # 00:30 EEST next day
    ],
    ids=str,
)
def test_the_local_date_is_the_date_in_riga(instant: datetime, expected: date) -> None:
    assert CAL.local_date(instant) == expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (utc(2026, 12, 3, 21, 59), "03.12.2026 23:59"),  # EET
        (utc(2026, 12, 31, 22, 0), "01.01.2027 00:00"),  # EET, the next year in Riga
        (utc(2025, 6, 22, 20, 59), "22.06.2025 23:59"),  # EEST
    ],
    ids=str,
)
def test_an_instant_is_shown_in_riga_time_day_first(instant: datetime, expected: str) -> None:
    assert CAL.format_local(instant) == expected


def test_a_naive_instant_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.local_date(datetime(2025, 3, 14, 12, 0))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 15), utc(2025, 1, 15, 21, 59, 59)),  # winter, UTC+2
        (date(2025, 7, 15), utc(2025, 7, 15, 20, 59, 59)),  # summer, UTC+3
    ],
    ids=str,
)
def test_end_of_day_is_one_second_before_riga_midnight_in_utc(
    day: date, expected: datetime
) -> None:
    result = CAL.end_of_day(day)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


def test_end_of_day_follows_a_configured_closing_time() -> None:
    closing_at_five = WorkingDayCalendar(day_end=time(17, 0))
    assert closing_at_five.end_of_day(date(2025, 1, 15)) == utc(2025, 1, 15, 15)


@pytest.mark.parametrize(
    ("start", "working_days", "expected"),
    [
        # BTAL 73(1) same-day duty: end of that working day (Wed 12 March 2025).
        (utc(2025, 3, 12, 7), 0, utc(2025, 3, 12, 21, 59, 59)),
        # Reported 00:30 Saturday Riga time (22:30 UTC Friday): day 0 is Monday.
        (utc(2025, 3, 14, 22, 30), 0, utc(2025, 3, 17, 21, 59, 59)),
        # Fri 24 Oct 2025 is summer time; Mon 27 Oct is winter time (DST ended 26 Oct).
        (utc(2025, 10, 24, 10), 0, utc(2025, 10, 24, 20, 59, 59)),
        (utc(2025, 10, 24, 10), 1, utc(2025, 10, 27, 21, 59, 59)),
        # Fri 28 March 2025 is winter time; Mon 31 March is summer time (DST began 30 March).
        (utc(2025, 3, 28, 10), 1, utc(2025, 3, 31, 20, 59, 59)),
    ],
    ids=str,
)
def test_due_at_is_the_end_of_the_riga_working_day_in_utc(
    start: datetime, working_days: int, expected: datetime
) -> None:
    assert CAL.due_at(start, working_days) == expected


# --- days left and paused clocks -----------------------------------------

# Event Monday 10 March 2025, 5 working days -> due Monday 17 March 23:59:59 Riga.
DUE_17_MARCH = CAL.due_at(utc(2025, 3, 10, 9), 5)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2025, 3, 10, 12), 5),  # 11, 12, 13, 14, 17
        (utc(2025, 3, 15, 12), 1),  # Saturday: only Monday left
        (utc(2025, 3, 16, 22, 30), 0),  # already Monday 00:30 in Riga: due today
        (utc(2025, 3, 17, 21), 0),
        (utc(2025, 3, 18, 8), -1),  # overdue by Tuesday
        (utc(2025, 3, 21, 8), -4),  # 18, 19, 20, 21
        (utc(2025, 3, 22, 8), -4),  # the weekend adds no overdue days
    ],
    ids=str,
)
def test_working_days_left_counts_down_to_the_deadline_and_goes_negative_when_overdue(
    now: datetime, expected: int
) -> None:
    assert utc(2025, 3, 17, 21, 59, 59) == DUE_17_MARCH
    assert CAL.working_days_left(now, DUE_17_MARCH) == expected


def test_a_deadline_missed_on_friday_reads_zero_days_left_over_the_weekend() -> None:
    due_friday = CAL.end_of_day(date(2025, 3, 14))
    saturday = utc(2025, 3, 15, 10)
    assert saturday > due_friday  # overdue by instant ...
    assert CAL.working_days_left(saturday, due_friday) == 0  # ... but no working day has passed


@pytest.mark.parametrize(
    ("due", "paused_at", "resumed_at", "expected"),
    [
        # Paused Fri 20 June 2025, resumed Thu 26 June: Sat, Sun, Līgo (Mon), Jāņi (Tue)
        # are off, so Wed 25 + Thu 26 = 2 working days. Due Mon 30 June -> Wed 2 July.
        (eod(2025, 6, 30), utc(2025, 6, 20, 9), utc(2025, 6, 26, 9), eod(2025, 7, 2)),
        # Paused Fri 22 June 2029, resumed Mon 25 June: Midsummer falls on Sat/Sun,
        # only Monday counts = 1. Due Thu 28 June -> Fri 29 June.
        (eod(2029, 6, 28), utc(2029, 6, 22, 9), utc(2029, 6, 25, 9), eod(2029, 6, 29)),
        # Paused Tue 23 Dec 2025, resumed Mon 5 Jan 2026: 29, 30 Dec and 5 Jan = 3.
        # Due Wed 7 Jan 2026 -> 8, 9, 12 Jan.
        (eod(2026, 1, 7), utc(2025, 12, 23, 9), utc(2026, 1, 5, 9), eod(2026, 1, 12)),
        # Pause across the DST change: Mon 20 -> Tue 21 Oct 2025 = 1 working day.
        # Due Fri 24 Oct 23:59:59 EEST -> Mon 27 Oct 23:59:59 EET (21:59:59 UTC).
        (
            utc(2025, 10, 24, 20, 59, 59),
            utc(2025, 10, 20, 9),
            utc(2025, 10, 21, 9),
            utc(2025, 10, 27, 21, 59, 59),
        ),
        # Paused and resumed the same day, or only over a weekend: no shift.
        (eod(2025, 3, 20), utc(2025, 3, 12, 8), utc(2025, 3, 12, 14), eod(2025, 3, 20)),
        (eod(2025, 3, 20), utc(2025, 3, 15, 8), utc(2025, 3, 16, 14), eod(2025, 3, 20)),
    ],
    ids=[
        "midsummer-2025",
        "midsummer-2029-weekend",
        "christmas-new-year",
        "dst-change",
        "same-day",
        "weekend-only",
    ],
)
def test_a_paused_clock_moves_the_deadline_by_the_working_days_it_was_paused(
    due: datetime, paused_at: datetime, resumed_at: datetime, expected: datetime
) -> None:
    assert CAL.shift_for_pause(due, paused_at, resumed_at) == expected


def test_a_pause_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="resumed_at is before paused_at"):
        CAL.shift_for_pause(eod(2025, 3, 20), utc(2025, 3, 12), utc(2025, 3, 10))


# --- properties -----------------------------------------------------------

DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=DATES, n=st.integers(min_value=1, max_value=60))
def test_counting_back_the_working_days_to_a_deadline_gives_n(start: date, n: int) -> None:
    due = CAL.add_working_days(start, n)
    assert due > start
    assert CAL.is_working_day(due)
    assert CAL.working_days_between(start, due) == n
    assert CAL.working_days_between(start, due - timedelta(days=1)) == n - 1


@settings(max_examples=100, deadline=None)
@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 12, 31)),
    n=st.integers(min_value=1, max_value=60),
    extra=st.sets(st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 3, 31)), max_size=20),
    split=st.integers(min_value=0, max_value=20),
)
def test_overrides_keep_the_counting_consistent(
    start: date, n: int, extra: set[date], split: int
) -> None:
    ordered = sorted(extra)
    cal = WorkingDayCalendar(extra_holidays=ordered[:split], extra_working_days=ordered[split:])
    due = cal.add_working_days(start, n)
    assert cal.is_working_day(due)
    assert cal.working_days_between(start, due) == n
    assert cal.next_working_day(start, include_self=False) == cal.add_working_days(start, 1)
