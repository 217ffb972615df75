"""Assemble the engine's runtime from settings: the one place that wires things."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from engine.calendar import WorkingDayCalendar
from engine.clock import Clock, FixedClock, SystemClock
from engine.db import create_db_engine
from engine.definitions import KnownNames
from engine.municipality import MunicipalityConfig, load_municipality
from engine.overrides import HOLIDAY, OVERRIDE, list_overrides
from engine.registry import WorkflowRegistry, known_names, load_registry, load_roles
from engine.runtime import Runtime
from gaita.dbsetup import require_current_schema
from gaita.settings import Settings
from notifications.catalogue import template_names


@dataclass
class App:
    settings: Settings
    db: sa.Engine
    rt: Runtime


def load_declarations(settings: Settings) -> tuple[MunicipalityConfig, WorkflowRegistry]:
    municipality, known = load_known_names(settings)
    registry = load_registry(settings.workflows, templates=known.templates,
                             parameters=known.parameters, parameter_units=known.parameter_units,
                             ikvd_statuses=known.ikvd_statuses)
    return municipality, registry


def load_known_names(settings: Settings) -> tuple[MunicipalityConfig, KnownNames]:
    """The municipality config, and what workflow declarations may name."""
    roles = load_roles(settings.workflows)
    municipality = load_municipality(settings.config, institution_roles=roles.institution_roles,
                                     shared_roles=roles.per_case)
    ikvd = municipality.ikvd_statuses
    return municipality, known_names(
        roles, template_names(), parameter_values(municipality),
        municipality.cooperation_group.escalation_reasons,
        parameter_units={name: p.unit for name, p in municipality.parameters.items()},
        ikvd_statuses=tuple(ikvd.statuses) if ikvd else None)


def parameter_values(municipality: MunicipalityConfig) -> dict[str, object]:
    return {name: p.value for name, p in municipality.parameters.items()}


def make_clock(settings: Settings) -> Clock:
    return FixedClock(settings.now) if settings.now else SystemClock()


def make_calendar(municipality: MunicipalityConfig,
                  db: sa.Engine | None = None) -> WorkingDayCalendar:
    """The configured calendar plus the administrators' overrides stored in the database."""
    cal = municipality.calendar
    holidays, working = set(cal.extra_holidays), set(cal.extra_working_days)
    if db is not None and sa.inspect(db).has_table(OVERRIDE.name):   # not yet, before `init`
        for row in list_overrides(db):   # an override beats the configured list
            is_holiday = row["kind"] == HOLIDAY
            (holidays if is_holiday else working).add(row["day"])
            (working if is_holiday else holidays).discard(row["day"])
    return WorkingDayCalendar(timezone=cal.timezone, country=cal.country, day_end=cal.day_end,
                              extra_holidays=holidays, extra_working_days=working,
                              school_holidays=[(h.first, h.last) for h in cal.school_holidays])


def build_app(settings: Settings, *, create: bool = False) -> App:
    """Everything a command needs.  Without ``create`` the database must exist at the
    schema revision this code expects (``gaita init`` creates or upgrades it)."""
    municipality, registry = load_declarations(settings)
    db = create_db_engine(settings.database_url, create=create)
    if not create:
        require_current_schema(db)
    rt = Runtime(
        registry=registry, municipality=municipality, calendar=make_calendar(municipality, db),
        clock=make_clock(settings),
        code_key=hashlib.sha256(b"gaita-personal-code:" + settings.secret_key.encode()).digest(),
    )
    return App(settings, db, rt)
