"""The injectable clock.  Every time value in Gaita comes from a ``Clock``.

``SystemClock`` reads the real time; ``FixedClock`` is fixed (``GAITA_NOW`` /
``--now``) and can be advanced, for demos, tests and replaying a scenario.
All instants are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    def __init__(self, instant: datetime):
        self._now = as_utc(instant)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def set(self, instant: datetime) -> None:
        self._now = as_utc(instant)


def as_utc(instant: datetime) -> datetime:
    """Aware UTC; a naive value is refused rather than guessed."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no timezone; give an offset, e.g. +02:00 or Z")
    return instant.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """ISO 8601 with an offset (``2026-11-30T09:00:00+02:00`` or ``...Z``)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    return as_utc(value)
