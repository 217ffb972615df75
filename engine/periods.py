"""Units of the municipality's parameters, and periods of time counted in them.

A parameter (``config/<m>/parameters.yaml``) declares its ``unit``.  A deadline, a
reminder or an escalation step that names a parameter is counted in that unit: working
days on the Latvian calendar, calendar days, or months (``engine.calendar.add_period``).
Counts of things (lessons, incidents) are units too, but not periods.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DayKind(StrEnum):
    """Which days a same-day duty counts (the law says which, so the declaration must)."""

    CALENDAR = "calendar"        # "ne vēlāk kā tajā pašā dienā" (BTAL 73(1)): weekends too
    SCHOOL_DAY = "school_day"    # "tajā pašā mācību dienā" (MK 89): a day with lessons
    WORKING_DAY = "working_day"  # the same working day (the next one on a day off)


class Unit(StrEnum):
    WORKING_DAYS = "working_days"
    DAYS = "days"            # calendar days
    MONTHS = "months"
    LESSONS = "lessons"
    INCIDENTS = "incidents"
    SEATS = "seats"


#: The units a period of time can be counted in.
TIME_UNITS = frozenset({Unit.WORKING_DAYS, Unit.DAYS, Unit.MONTHS})


@dataclass(frozen=True)
class Period:
    count: int
    unit: Unit = Unit.WORKING_DAYS

    def __post_init__(self) -> None:
        if self.unit not in TIME_UNITS:
            raise ValueError(f"{self.unit} is not a unit of time")
        if self.count < 0:
            raise ValueError(f"a period must be >= 0, got {self.count}")
