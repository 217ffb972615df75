"""What the engine needs to act, assembled once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from engine.calendar import WorkingDayCalendar
from engine.clock import Clock
from engine.municipality import MunicipalityConfig
from engine.registry import WorkflowRegistry


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (or the system) with one user role and maybe an institution."""

    username: str
    role: str
    institution: str | None = None


#: The actor of what Gaita does by itself (recording an unacknowledged task, a
#: failed email).  Not a user role: nobody can log in or act as it.
SYSTEM = Actor("gaita", "system")


@dataclass
class Runtime:
    registry: WorkflowRegistry
    municipality: MunicipalityConfig
    calendar: WorkingDayCalendar
    clock: Clock
    code_key: bytes   # keys the personal-code lookup hash

    def param(self, name: str) -> object:
        return self.municipality.parameter(name)
