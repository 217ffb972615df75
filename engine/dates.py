"""Days as people type them: ``DD.MM.GGGG`` (Latvian usage) or ISO ``YYYY-MM-DD``.

The one parser for every day a person types: a declared ``type: date`` field
(``engine.fields``; CLI ``--field``, web forms, the REST API), a meeting day,
a calendar override, a REST API request's day, a day in a config file
(``Day``, the pydantic type).  Anything else is refused with
a code that says what is wrong: ``date.format`` (neither form, e.g. ``1.2.26``
or ``2026/02/01``) or ``date.no_such_day`` (the right form, but no such day in
the calendar, e.g. ``31.02.2026``).  Days are written back as ISO (storage,
JSON) or ``DD.MM.YYYY`` (``dmy``, for a form's value).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from engine.errors import NotPermitted

#: The accepted forms, ASCII digits only (``int`` would also read other scripts' digits).
_DMY = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
#: How a day is written for people (the hint beside a date input says the same).
DAY_FORMAT = "DD.MM.GGGG"


class InvalidDate(NotPermitted):
    """A typed day that is not one: ``date.format`` or ``date.no_such_day``, with the
    ``value`` as typed."""

    def __init__(self, code: str, value: str):
        self.value = value
        super().__init__(code, value=value)


def parse_day(value: Any) -> date:
    """The day ``value`` names: ``DD.MM.YYYY`` (``D.M.YYYY`` too) or ``YYYY-MM-DD``, with
    spaces around it ignored; a ``date`` as it is.  Raises ``InvalidDate``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value).strip()
    if m := _DMY.fullmatch(text):
        day, month, year = (int(g) for g in m.groups())
    elif m := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise InvalidDate("date.format", text)
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidDate("date.no_such_day", text) from None


#: A time of day as people type it: ``14:00`` (``9:30``, ``14.00`` too).
_HM = re.compile(r"([0-9]{1,2})[:.]([0-9]{2})")
#: How a time of day is written for people.
TIME_FORMAT = "HH:MM"


class InvalidTime(NotPermitted):
    """A typed time of day that is not one: ``time.format`` (not ``HH:MM``) or
    ``time.no_such_time`` (e.g. ``25:00``), with the ``value`` as typed."""

    def __init__(self, code: str, value: str):
        self.value = value
        super().__init__(code, value=value)


def parse_time_of_day(value: Any) -> time:
    """The time of day ``value`` names: ``HH:MM`` (``H:MM``, ``HH.MM`` too), spaces
    around it ignored; a ``time`` as it is.  Raises ``InvalidTime``."""
    if isinstance(value, time):
        return value
    text = str(value).strip()
    m = _HM.fullmatch(text)
    if m is None:
        raise InvalidTime("time.format", text)
    hour, minute = (int(g) for g in m.groups())
    if hour > 23 or minute > 59:
        raise InvalidTime("time.no_such_time", text)
    return time(hour, minute)


def hm(value: time) -> str:
    """A time of day as people write it: ``14:00``."""
    return f"{value:%H:%M}"


def dmy(day: date) -> str:
    """``day`` as people type it: ``01.02.2026``."""
    return f"{day:%d.%m.%Y}"


def _schema_day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("date.format", "{value} is not a day: DD.MM.YYYY or "
                                  "YYYY-MM-DD", {"value": str(value)})
    try:
        return parse_day(value)
    except InvalidDate as exc:
        raise PydanticCustomError(exc.code, "{value} is not a day: DD.MM.YYYY or YYYY-MM-DD",
                                  {"value": exc.value}) from None


#: A day in a pydantic model (a REST API request, a config file): a ``date``, or a string
#: ``parse_day`` reads; refused with the code ``date.format`` or ``date.no_such_day``.
Day = Annotated[date, BeforeValidator(_schema_day), WithJsonSchema(
    {"type": "string", "description": "A day: DD.MM.YYYY or YYYY-MM-DD.",
     "examples": ["31.01.2026", "2026-01-31"]})]
