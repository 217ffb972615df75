"""Administrators' calendar overrides: ad-hoc holidays and extra working days.

Stored in ``calendar_override`` and merged into the working-day calendar when a
runtime is built (``gaita.bootstrap.make_calendar``).  Only roles declared with
``administers: true`` in ``workflows/roles.yaml`` may change them.  The changes take
the caller's connection: ``gaita.config_edit`` writes the admin-log row in the same
transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa

from engine.errors import FieldError, NotFound, PermissionDenied
from engine.registry import Roles
from engine.runtime import Actor
from engine.tables import CalendarOverride

OVERRIDE = CalendarOverride.__table__
Kind = Literal["holiday", "working_day"]
KINDS: tuple[str, ...] = Kind.__args__
HOLIDAY = KINDS[0]


def _require_admin(roles: Roles, actor: Actor) -> None:
    if not roles.administers(actor.role):
        raise PermissionDenied(f"only an administrator may change the calendar (you are {actor.role!r})")


def set_override(conn: sa.Connection, roles: Roles, actor: Actor, day: date, kind: str,
                 note: str, now: datetime) -> None:
    """Add or replace the override for ``day``, in the caller's transaction."""
    _require_admin(roles, actor)
    if kind not in KINDS:
        raise FieldError("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    conn.execute(sa.delete(OVERRIDE).where(OVERRIDE.c.day == day))
    conn.execute(sa.insert(OVERRIDE).values(day=day, kind=kind, note=note.strip(),
                                            created_by=actor.username, created_at=now))


def remove_override(conn: sa.Connection, roles: Roles, actor: Actor, day: date) -> None:
    """Remove the override for ``day``, in the caller's transaction."""
    _require_admin(roles, actor)
    if conn.execute(sa.delete(OVERRIDE).where(OVERRIDE.c.day == day)).rowcount == 0:
        raise NotFound(f"no calendar override on {day.isoformat()}")


def list_overrides(db: sa.Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(OVERRIDE).order_by(OVERRIDE.c.day)).mappings()]
