"""``gaita escalations list | add`` and ``gaita meeting proposals | plan | list | show |
decide | minutes``: the cooperation group's queue, meetings and decisions (engine.group)."""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.dates import parse_time_of_day
from engine.group.decisions import AgreedAction, decide
from engine.group.meetings import (
    list_meetings,
    meeting_view,
    plan_meeting,
    time_of_day,
    when_text,
)
from engine.group.queue import escalate, escalation_queue
from engine.group.rhythm import DEFAULT_COUNT, next_open_proposal, proposals
from engine.queries import actor_for
from engine.tables import OPEN_ESCALATIONS, AccessAction, EscalationStatus
from gaita.bootstrap import App
from gaita.cli.common import (
    AsOpt,
    JsonOpt,
    current_app,
    emit_json,
    err,
    handled,
    out,
    reader,
    typed_day,
)
from gaita.mail import mail_settings
from notifications.compose import case_url
from notifications.minutes import write_minutes

escalations_app = typer.Typer(help="The cooperation group's queue of escalated cases.",
                              no_args_is_help=True)
meeting_app = typer.Typer(help="The cooperation group's meetings: agenda, decisions, minutes.",
                          no_args_is_help=True)


def _day(text: str) -> date:
    return typed_day(text, param_hint="--date")


def _local(gaita: App, instant: Any) -> str:
    return gaita.rt.calendar.format_local(instant)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if type(value) is date:   # datetimes: emit_json
        return value.isoformat()
    return value


@escalations_app.command("list")
@handled
def list_cmd(
    all_: Annotated[bool, typer.Option(
        "--all", help="Also decided and withdrawn referrals.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The queue, most urgent first: urgent, risk, days overdue, institutions, time queued."""
    gaita = current_app()
    statuses = tuple(EscalationStatus) if all_ else OPEN_ESCALATIONS
    items = escalation_queue(gaita.db, gaita.rt, statuses=statuses)
    if as_json:
        emit_json([i.as_dict() for i in items])
        return
    for n, i in enumerate(items, 1):
        where = f"meeting {i.meeting_id}" if i.meeting_id else i.status
        out.print(f"{n:>3}. {i.reference:<18} {i.case_type:<20} {'URGENT' if i.urgent else '':<6} "
                  f"risk {i.risk_level:<8} {i.days_overdue:>3} wd overdue  "
                  f"{i.institutions} inst.  {', '.join(i.reasons):<30} {where:<10} "
                  f"queued {_local(gaita, i.queued_at)}", markup=False)
    if not items:
        out.print("the queue is empty")


@escalations_app.command("add")
@handled
def add_cmd(
    reference: str, as_user: AsOpt,
    reason: Annotated[str, typer.Option(help="A reason code configured as manual "
                                             "(cooperation_group.yaml escalation_reasons).")],
    urgent: Annotated[bool, typer.Option(
        help="Urgent: an extraordinary meeting may take it.")] = False,
) -> None:
    """Refer the case REFERENCE to the cooperation group by hand (coordinators)."""
    gaita = current_app()
    escalation_id = escalate(gaita.db, gaita.rt, reference, actor_for(gaita.db, as_user), reason,
                             urgent=urgent)
    out.print(f"{reference}: in the cooperation group's queue (escalation {escalation_id}, "
              f"reason {reason})", markup=False)


@meeting_app.command("proposals")
@handled
def proposals_cmd(
    count: Annotated[int, typer.Option(min=1, max=24, help="How many proposals.")] = DEFAULT_COUNT,
    as_json: JsonOpt = False,
) -> None:
    """The next ordinary meeting days the group's rhythm proposes (cooperation_group.yaml
    rhythm; working days), and the meeting already planned on each.  Accept one with
    ``gaita meeting plan --proposed`` (the first not yet planned) or ``--date``."""
    gaita = current_app()
    found = proposals(gaita.db, gaita.rt, count)
    if as_json:
        emit_json([p.as_dict() for p in found])
        return
    for p in found:
        state = f"planned: meeting {p.meeting_id}" if p.meeting_id else "proposed"
        out.print(f"{p.day:%d.%m.%Y}  {p.day:%A}  {state}", markup=False)


@meeting_app.command("plan")
@handled
def plan_cmd(
    as_user: AsOpt,
    day: Annotated[str | None, typer.Option(
        "--date", help="The meeting day, DD.MM.YYYY or YYYY-MM-DD.")] = None,
    proposed: Annotated[bool, typer.Option(
        "--proposed", help="An ordinary meeting on the first proposed day not yet planned "
                           "(gaita meeting proposals).")] = False,
    extraordinary: Annotated[bool, typer.Option(
        help="Urgent cases only, held by the next working day.")] = False,
    place: Annotated[str, typer.Option(help="Where the group meets.")] = "",
    at: Annotated[str | None, typer.Option(
        "--time", help="The local time of day it starts, HH:MM (e.g. 14:00).")] = None,
    case: Annotated[list[str] | None, typer.Option(
        "--case", help="A queued case to put on the agenda (repeatable); the rest stay "
                       "queued.  Default: every waiting case.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan a meeting: the agenda from the queue (and decisions to review), emailed to the group."""
    gaita = current_app()
    if (day is None) == (not proposed):
        raise typer.BadParameter("give either --date or --proposed", param_hint="--date")
    if proposed and extraordinary:
        raise typer.BadParameter("the rhythm proposes ordinary meetings only",
                                 param_hint="--proposed")
    if day is not None:
        when = _day(day)
    else:
        first = next_open_proposal(gaita.db, gaita.rt)
        if first is None:
            raise typer.BadParameter("every proposed day of the next year is planned already",
                                     param_hint="--proposed")
        when = first
    plan = plan_meeting(gaita.db, gaita.rt, actor_for(gaita.db, as_user), when,
                        extraordinary=extraordinary, place=place,
                        at=None if at is None else parse_time_of_day(at), picked=case,
                        case_url=partial(case_url, mail_settings(gaita).base_url))
    if as_json:
        emit_json(plan.as_dict())
        return
    for w in plan.warnings:
        err.print(f"warning: {w}", markup=False)
    when_at = when_text(gaita.rt, plan.day, plan.starts_at)
    out.print(f"meeting {plan.meeting_id}: {plan.kind}, {when_at}"
              + (f", {plan.place}" if plan.place else "") + f"; {len(plan.items)} case(s)",
              markup=False)
    for n, i in enumerate(plan.items, 1):
        out.print(f"  {n:>2}. {i.reference:<18} {i.case_type:<20} {', '.join(i.reasons)}"
                  + ("  URGENT" if i.urgent else ""), markup=False)


@meeting_app.command("list")
@handled
def meetings_cmd(as_json: JsonOpt = False) -> None:
    """The meetings, by day."""
    gaita = current_app()
    rows = list_meetings(gaita.db)
    if as_json:
        emit_json(_jsonable(rows))
        return
    for m in rows:
        at = time_of_day(gaita.rt, m["starts_at"]) or "--:--"
        out.print(f"{m['id']:>4}  {m['day']:%d.%m.%Y} {at}  {m['kind']:<13} {m['status']:<8} "
                  f"{m['items']} case(s)  {m['place']}", markup=False)
    if not rows:
        out.print("no meetings")


@meeting_app.command("show")
@handled
def show_cmd(
    meeting: int,
    as_user: Annotated[str | None, typer.Option("--as", help="Who reads (access log).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a meeting: its agenda, decisions and agreed tasks."""
    gaita = current_app()
    view = meeting_view(gaita.db, gaita.rt, meeting, reader(gaita, as_user))
    if as_json:
        emit_json(_jsonable(view))
        return
    out.print(f"meeting {view['id']}: {view['kind']}, "
              f"{when_text(gaita.rt, view['day'], view['starts_at'])}"
              + (f", {view['place']}" if view["place"] else "") + f" [{view['status']}]",
              markup=False)
    for n, item in enumerate(view["items"], 1):
        out.print(f"  {n:>2}. {item['reference']} ({item['type_title']}): "
                  f"{'; '.join(item['reason_titles'])}" + ("  URGENT" if item["urgent"] else ""),
                  markup=False)
        d = item["decision"]
        if d is None:
            out.print("      no decision yet", markup=False)
            continue
        out.print(f"      decision: {d['summary']}", markup=False)
        for a in d["actions"]:
            out.print(f"      - {a['institution']}: {a['title']} (due {_local(gaita, a['due_at'])}"
                      + (", done)" if a["done"] else ")"), markup=False)
    if not view["items"]:
        out.print("  no cases on the agenda")


@meeting_app.command("decide")
@handled
def decide_cmd(
    meeting: int, reference: str, as_user: AsOpt,
    summary: Annotated[str, typer.Option(
        help="What the group agreed with the institutions (a recommendation, MK 545).")],
    action: Annotated[list[str] | None, typer.Option(
        help="An action agreed with an institution INSTITUTION:WORKING_DAYS:TEXT "
             "(repeatable); each becomes a tracked task of that institution.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record the action the group agreed on REFERENCE at MEETING (vienošanās par rīcību).

    The group's decisions are recommendations (MK 545): each institution acts within its
    own competence on what it agreed to."""
    gaita = current_app()
    result = decide(gaita.db, gaita.rt, meeting, reference, actor_for(gaita.db, as_user),
                    summary=summary, actions=[AgreedAction.parse(a) for a in action or []])
    if as_json:
        emit_json(result.as_dict())
        return
    out.print(f"{reference}: decision {result.decision_id} recorded at meeting {meeting}",
              markup=False)
    for t in result.tasks:
        due = _local(gaita, t.due_at)
        out.print(f"  task {t.task_id} -> {t.institution}: {t.title} (due {due})",
                  markup=False)


@meeting_app.command("minutes")
@handled
def minutes_cmd(
    meeting: int,
    to: Annotated[Path, typer.Option("--out", help="The .docx file to write.")],
    locale: Annotated[str, typer.Option(help="lv or en.")] = "lv",
    as_user: Annotated[str | None, typer.Option("--as", help="Who exports (access log).")] = None,
) -> None:
    """Write the minutes of MEETING as DOCX for signing (references only, no child data)."""
    if locale not in ("lv", "en"):
        raise typer.BadParameter("expected lv or en", param_hint="--locale")
    if to.suffix.lower() != ".docx":
        raise typer.BadParameter(f"the minutes are a .docx file, got {to.name!r}",
                                 param_hint="--out")
    gaita = current_app()
    view = meeting_view(gaita.db, gaita.rt, meeting, reader(gaita, as_user), locale=locale,
                        action=AccessAction.EXPORT)
    write_minutes(gaita.rt, view, to, locale=locale)
    out.print(f"minutes of meeting {meeting} written to {to}", markup=False)
