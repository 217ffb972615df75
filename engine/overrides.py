"""Administrators' calendar overrides: ad-hoc holidays and extra working days.

Stored in ``calendar_override`` and merged into the working-day calendar when a
runtime is built (``gaita.bootstrap.make_calendar``).  Only administrators may
change them (``engine.policy``: roles declared ``administers: true``).  The changes take
the caller's connection: ``gaita.config_edit`` writes the admin-log row in the same
transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa

from engine import policy
from engine.errors import FieldError, NotFound, msg
from engine.runtime import Actor, Runtime
from engine.tables import CalendarOverride, table

OVERRIDE = table(CalendarOverride)
Kind = Literal["holiday", "working_day"]
KINDS: tuple[str, ...] = get_args(Kind)
HOLIDAY = KINDS[0]


def set_override(conn: sa.Connection, rt: Runtime, actor: Actor, day: date, kind: str,
                 note: str, now: datetime) -> None:
    """Add or replace the override for ``day``, in the caller's transaction."""
    policy.require(rt, actor, policy.Action.ADMINISTER)
    if kind not in KINDS:
        raise FieldError("kind", msg("field.not_choice", value=repr(kind), choices=KINDS))
    conn.execute(sa.delete(OVERRIDE).where(OVERRIDE.c.day == day))
    conn.execute(sa.insert(OVERRIDE).values(day=day, kind=kind, note=note.strip(),
                                            created_by=actor.username, created_at=now))


def remove_override(conn: sa.Connection, rt: Runtime, actor: Actor, day: date) -> None:
    """Remove the override for ``day``, in the caller's transaction."""
    policy.require(rt, actor, policy.Action.ADMINISTER)
    if conn.execute(sa.delete(OVERRIDE).where(OVERRIDE.c.day == day)).rowcount == 0:
        raise NotFound("calendar.no_override", day=day.isoformat())


def list_overrides(db: sa.Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(OVERRIDE).order_by(OVERRIDE.c.day)).mappings()
        return [dict(r) for r in rows]
