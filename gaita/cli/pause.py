"""``gaita case pause | resume``: stop and restart a case's clock (engine.pause)."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.pause import pause, resume
from engine.queries import actor_for
from gaita.cli.common import (
    AsOpt,
    JsonOpt,
    case_app,
    current_app,
    emit_json,
    handled,
    out,
)


@case_app.command("pause")
@handled
def pause_cmd(
    reference: str,
    as_user: AsOpt,
    reason: Annotated[str, typer.Option(
        help="Reason code from the municipality's pauses.yaml (e.g. child_abroad).")],
    expect_version: Annotated[int | None, typer.Option(
        help="Fail with a conflict (exit 5) unless the case is at this version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pause the clock of REFERENCE: no reminders or escalation until it is resumed."""
    gaita = current_app()
    result = pause(gaita.db, gaita.rt, reference, actor_for(gaita.db, as_user), reason,
                   expected_version=expect_version)
    if as_json:
        emit_json({"reference": result.reference, "reason": result.reason,
                   "paused_at": result.paused_at, "limit_at": result.limit_at,
                   "version": result.version})
        return
    tz = gaita.rt.calendar.timezone
    title = gaita.rt.municipality.pauses.reasons[result.reason].title.lv
    out.print(f"{result.reference}: PAUSED since {result.paused_at.astimezone(tz):%d.%m.%Y %H:%M} "
              f"({result.reason}: {title})", markup=False)
    out.print(f"  flagged to the coordinator if still paused after "
              f"{result.limit_at.astimezone(tz):%d.%m.%Y %H:%M}", markup=False)


@case_app.command("resume")
@handled
def resume_cmd(
    reference: str,
    as_user: AsOpt,
    expect_version: Annotated[int | None, typer.Option(
        help="Fail with a conflict (exit 5) unless the case is at this version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restart the clock of REFERENCE; due dates move by the paused working days."""
    gaita = current_app()
    result = resume(gaita.db, gaita.rt, reference, actor_for(gaita.db, as_user),
                    expected_version=expect_version)
    if as_json:
        emit_json({"reference": result.reference, "reason": result.reason,
                   "paused_at": result.paused_at, "resumed_at": result.resumed_at,
                   "working_days": result.working_days,
                   "total_working_days": result.total_working_days,
                   "due_at": result.due_at, "version": result.version})
        return
    tz = gaita.rt.calendar.timezone
    out.print(f"{result.reference}: resumed after {result.working_days} paused working day(s) "
              f"({result.reason})", markup=False)
    if result.due_at is not None:
        out.print(f"  now due {result.due_at.astimezone(tz):%d.%m.%Y %H:%M}", markup=False)
