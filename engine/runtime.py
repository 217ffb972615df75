"""What the engine needs to act, assembled once by the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.calendar import WorkingDayCalendar
from engine.clock import Clock
from engine.municipality import MunicipalityConfig
from engine.periods import Period, Unit
from engine.registry import OPERATOR_ROLE, SYSTEM_ROLE, WorkflowRegistry


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (or the system) with one user role and maybe an institution."""

    username: str
    role: str
    institution: str | None = None


#: The actor of what Gaita does by itself (recording an unacknowledged task, a
#: failed email, referring a stalled case).  Not a user role: nobody can log in or
#: act as it; ``engine.policy`` says what it may do.
SYSTEM = Actor("gaita", SYSTEM_ROLE)


def operator(name: str) -> Actor:
    """A person at the command line who names no user (``--as``): reads, never writes."""
    return Actor(f"cli:{name}", OPERATOR_ROLE)


@dataclass
class Runtime:
    registry: WorkflowRegistry
    municipality: MunicipalityConfig
    calendar: WorkingDayCalendar
    clock: Clock
    code_key: bytes   # keys the personal-code lookup hash

    def param(self, name: str) -> object:
        return self.municipality.parameter(name)

    def days(self, value: int | str) -> int:
        """A number of days declared as a number or as a parameter's name (the
        validator checked at load that such a parameter is a whole number)."""
        if isinstance(value, int):
            return value
        days = self.municipality.parameter(value)
        assert isinstance(days, int), f"parameter {value} is not a number of days"
        return days

    def period(self, value: int | str) -> Period:
        """A period declared as a number of working days or as a parameter's name,
        counted in the parameter's unit (working days when it names none)."""
        if isinstance(value, int):
            return Period(value)
        unit = self.municipality.parameters[value].unit
        return Period(self.days(value), Unit.WORKING_DAYS if unit is None else unit)

    def institution_for(self, role: str, case: Mapping[str, Any] | None) -> str | None:
        """The institution code playing ``role`` for this case: the case's school for
        the per-case role, the one institution holding it for every other role."""
        if role in self.registry.roles.per_case:
            return None if case is None else case["school_institution"]
        return self.municipality.institution_for_role(role).code
