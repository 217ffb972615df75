"""``gaita calendar list | set | remove``: administrators' holiday and working-day overrides.

``--as`` names the administrator the change is checked against; every change is in
the admin log, by ``cli`` (as ``gaita user`` and ``gaita token`` changes are).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from engine.overrides import list_overrides
from engine.queries import actor_for
from gaita import config_edit
from gaita.cli.common import (
    AsOpt,
    JsonOpt,
    current_app,
    emit_json,
    handled,
    out,
    typed_day,
)

calendar_app = typer.Typer(help="Administrators' holiday and working-day overrides.",
                           no_args_is_help=True)

ACTOR = "cli"   # who the admin log says made the change, as in gaita.cli.users


def _day(text: str) -> date:
    return typed_day(text, param_hint="DAY")


@calendar_app.command("list")
@handled
def list_cmd(as_json: JsonOpt = False) -> None:
    """List the overrides added by administrators (the Latvian calendar itself is built in)."""
    rows = list_overrides(current_app().db)
    if as_json:
        emit_json([{**r, "day": r["day"].isoformat()} for r in rows])
        return
    for r in rows:
        out.print(f"{r['day']:%d.%m.%Y}  {r['kind']:<12} {r['note']}  ({r['created_by']})",
                  markup=False)
    if not rows:
        out.print("no overrides")


@calendar_app.command("set")
@handled
def set_cmd(
    day: Annotated[str, typer.Argument(help="The date, DD.MM.YYYY or YYYY-MM-DD.")],
    kind: Annotated[str, typer.Option(help="holiday or working_day.")],
    as_user: AsOpt,
    note: Annotated[str, typer.Option(help="Why (e.g. the Cabinet order).")] = "",
) -> None:
    """Make DAY a holiday or a working day; deadlines computed from now on follow it."""
    gaita = current_app()
    config_edit.set_calendar_override(gaita.db, gaita.rt, actor_for(gaita.db, as_user),
                                      _day(day), kind, note, logged_as=ACTOR)
    out.print(f"{day}: {kind}")


@calendar_app.command("remove")
@handled
def remove_cmd(day: Annotated[str, typer.Argument(help="The date, DD.MM.YYYY or YYYY-MM-DD.")],
               as_user: AsOpt) -> None:
    """Remove the override on DAY."""
    gaita = current_app()
    config_edit.remove_calendar_override(gaita.db, gaita.rt, actor_for(gaita.db, as_user),
                                         _day(day), logged_as=ACTOR)
    out.print(f"{day}: override removed")
