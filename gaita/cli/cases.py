"""``gaita case open | fire | aggressor | address | show | list | search | verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from engine.answers import TaskAction, answer, decide_extension
from engine.cases import FireResult, fire, open_case
from engine.errors import FieldError, msg
from engine.events import verify_chain
from engine.filings import file_report, waive_report
from engine.ikvd import reported
from engine.parties import add_aggressor, give_report_address
from engine.queries import actor_for, case_view, list_cases
from engine.search import search_cases
from engine.store import load_case_row
from engine.tables import Channel, OutboxStatus
from engine.tasks import open_task_of
from engine.transfer import pending_task_of, transfer_school
from engine.versioning import load_plan, migrate_cases
from gaita.bootstrap import App
from gaita.cli.common import (
    AsOpt,
    FieldOpt,
    JsonOpt,
    case_app,
    current_app,
    emit_json,
    err,
    handled,
    out,
    parse_fields,
    reader,
)


def _print_result(gaita: App, result: FireResult, as_json: bool) -> None:
    task = result.task
    left = (gaita.rt.calendar.working_days_left(gaita.rt.clock.now(), task.due_at)
            if task and task.due_at else None)
    if as_json:
        emit_json({"reference": result.reference, "trigger": result.trigger,
                   "from": result.from_state, "state": result.to_state,
                   "version": result.version, "outcome": result.outcome,
                   "owner": task.assignee if task else None,
                   "due_at": task.due_at if task else None, "working_days_left": left,
                   "late_days": result.late_days, "warnings": list(result.warnings)})
        return
    for w in result.warnings:
        err.print(f"warning: {w}", markup=False)
    out.print(f"{result.reference}: {result.from_state or '(new)'} -> {result.to_state}")
    if task:
        out.print(f"  owner: {task.assignee}")
        due = _due_text(gaita, task.due_at, left) if task.due_at else "no deadline"
        out.print(f"  due: {due}")
    elif result.outcome:
        out.print(f"  closed: {result.outcome}")


def _due_text(gaita: App, due: Any, left: int | None) -> str:
    local = due.astimezone(gaita.rt.calendar.timezone)
    return f"{local:%d.%m.%Y %H:%M} ({left} working days left)"


@case_app.command("open")
@handled
def open_cmd(
    case_type: str,
    as_user: AsOpt,
    child_code: Annotated[str, typer.Option(help="Personal code (old or new format).")],
    child_name: Annotated[str, typer.Option(help="The child's name (stored, never emailed).")],
    school: Annotated[str | None, typer.Option(help="Institution code of the school.")] = None,
    risk: Annotated[str, typer.Option(help="Risk level: low, medium, high.")] = "medium",
    incident_at: Annotated[str | None, typer.Option(
        help="When it happened, Riga time: 'DD.MM.YYYY HH:MM' (or ISO 8601). Default: now. "
             "The first step's deadline counts from it; a case entered after that deadline "
             "opens overdue, marked as reported late.")] = None,
    start_state: Annotated[str | None, typer.Option(
        help="Open at this later state, if the type offers it (open.start_states; e.g. "
             "absences: board_assessment when the count is already over the threshold), "
             "with that state's --field values.  Default: the type's initial state.")] = None,
    field: FieldOpt = None,
    anyway: Annotated[bool, typer.Option(
        "--anyway", help="Open it even though the child already has an open case of TYPE "
                         "(without it that is refused, exit 5, naming the open case; a case "
                         "of TYPE opened within the repeat window is queued for the "
                         "cooperation group as repeated).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Open a case of TYPE."""
    gaita = current_app()
    actor = actor_for(gaita.db, as_user)
    incident = None
    if incident_at is not None:
        try:
            incident = gaita.rt.calendar.parse_local(incident_at)
        except ValueError:
            raise FieldError("incident_at", msg("incident.unparsable", text=incident_at)) from None
    result = open_case(gaita.db, gaita.rt, case_type, actor, child_name=child_name,
                       child_code=child_code, school=school, fields=parse_fields(field),
                       risk_level=risk, incident_at=incident, start_state=start_state,
                       warn_duplicate=not anyway)
    if result.repeated is not None and not as_json:
        err.print(f"note: queued for the cooperation group as a repeated case "
                  f"(earlier case {result.repeated})", markup=False)
    _print_result(gaita, result, as_json)


@case_app.command("fire")
@handled
def fire_cmd(
    reference: str, trigger: str, as_user: AsOpt, field: FieldOpt = None,
    expect_version: Annotated[int | None, typer.Option(
        help="Fail with a conflict (exit 5) unless the case is at this version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fire TRIGGER on the case REFERENCE."""
    gaita = current_app()
    actor = actor_for(gaita.db, as_user)
    result = fire(gaita.db, gaita.rt, reference, trigger, actor, parse_fields(field),
                  expected_version=expect_version)
    _print_result(gaita, result, as_json)


@case_app.command("answer")
@handled
def answer_cmd(
    reference: str,
    action: Annotated[TaskAction, typer.Argument(
        help="The institution's answer on its open task.")],
    as_user: AsOpt,
    reason: Annotated[str | None, typer.Option(
        help="Why (required for decline and more_time; a note for done).")] = None,
    days: Annotated[int | None, typer.Option(
        help="more_time: extra working days asked for.")] = None,
    trigger: Annotated[str | None, typer.Option(
        help="done: also fire this transition (with --field), as the email's done page "
             "offers.")] = None,
    field: FieldOpt = None,
    task: Annotated[int | None, typer.Option(
        help="Answer this task of the case (e.g. a report task: `case show` lists them) "
             "instead of the case's open state task.")] = None,
) -> None:
    """Answer the open task of REFERENCE as its institution (what the email links do).
    On a report task, `done` takes the report's declared answer fields (--field)."""
    gaita = current_app()
    actor = actor_for(gaita.db, as_user)
    if (trigger or field) and action is not TaskAction.DONE:
        raise typer.BadParameter("--trigger and --field go with 'done' only",
                                 param_hint="--trigger")
    task_id = task if task is not None else open_task_of(gaita.db, reference)
    result = answer(gaita.db, gaita.rt, task_id, action, actor,
                    reason=reason, days=days, trigger=trigger, fields=parse_fields(field))
    if result.fired is not None:
        _print_result(gaita, result.fired, False)
    else:
        out.print(f"{result.reference}: task {result.task_id} {action.value} recorded",
                  markup=False)


@case_app.command("report")
@handled
def report_cmd(
    reference: str,
    report: Annotated[str, typer.Argument(help="The report's code (`case show` lists them).")],
    as_user: AsOpt, field: FieldOpt = None,
    expect_version: Annotated[int | None, typer.Option(
        help="Fail with a conflict (exit 5) unless the case is at this version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a report the case's state declares (e.g. violence: state_police, orphans_court):
    its recipient gets a task of its own, with the report's --field values to read."""
    gaita = current_app()
    filed = file_report(gaita.db, gaita.rt, reference, report, actor_for(gaita.db, as_user),
                        parse_fields(field), expected_version=expect_version)
    due = filed.task.due_at
    if as_json:
        emit_json({"reference": filed.reference, "report": filed.report,
                   "task": filed.task.id, "to": filed.task.assignee, "due_at": due,
                   "version": filed.version})
        return
    out.print(f"{filed.reference}: report {filed.report} made; task {filed.task.id} for "
              f"{filed.task.assignee}"
              + (f", due {gaita.rt.calendar.format_local(due)}" if due else ""), markup=False)


@case_app.command("waive")
@handled
def waive_cmd(
    reference: str,
    report: Annotated[str, typer.Argument(help="The report's code (`case show` lists them).")],
    as_user: AsOpt,
    reason: Annotated[str, typer.Option(help="Why the report is not made (required).")],
    expect_version: Annotated[int | None, typer.Option(
        help="Fail with a conflict (exit 5) unless the case is at this version.")] = None,
) -> None:
    """Record that a report the case's state declares is not made, and why."""
    gaita = current_app()
    waive_report(gaita.db, gaita.rt, reference, report, actor_for(gaita.db, as_user), reason,
                 expected_version=expect_version)
    out.print(f"{reference}: report {report} waived", markup=False)


@case_app.command("transfer")
@handled
def transfer_cmd(
    reference: str, as_user: AsOpt,
    to: Annotated[str, typer.Option("--to", help="Institution code of the new school.")],
    reason: Annotated[str | None, typer.Option(help="A note on the move.")] = None,
    expect_version: Annotated[int | None, typer.Option(
        help="Fail with a conflict (exit 5) unless the case is at this version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The pupil moved school: ask the new school to take the case REFERENCE over (the
    case stays open; the new school accepts with `gaita case transfer-accept`)."""
    gaita = current_app()
    result = transfer_school(gaita.db, gaita.rt, reference, to, actor_for(gaita.db, as_user),
                             reason=reason, expected_version=expect_version)
    if as_json:
        emit_json({"reference": result.reference, "from": result.from_school,
                   "to": result.to_school, "task": result.task_id, "due_at": result.due_at,
                   "version": result.version})
        return
    due = result.due_at.astimezone(gaita.rt.calendar.timezone)
    out.print(f"{reference}: transfer {result.from_school} -> {result.to_school} asked; "
              f"{result.to_school} to accept by {due:%d.%m.%Y %H:%M}", markup=False)


@case_app.command("transfer-accept")
@handled
def transfer_accept_cmd(
    reference: str, as_user: AsOpt,
    decline: Annotated[str | None, typer.Option(
        help="Decline the transfer, with this reason, instead of accepting it.")] = None,
) -> None:
    """The new school takes the case REFERENCE over (or declines it, with --decline)."""
    gaita = current_app()
    action = TaskAction.ACCEPT if decline is None else TaskAction.DECLINE
    answer(gaita.db, gaita.rt, pending_task_of(gaita.db, reference), action,
           actor_for(gaita.db, as_user), reason=decline, channel=Channel.CLI)
    with gaita.db.connect() as conn:
        school = load_case_row(conn, reference)["school_institution"]
    word = "accepted" if decline is None else "declined"
    out.print(f"{reference}: transfer {word}; school: {school}", markup=False)


@case_app.command("aggressor")
@handled
def aggressor_cmd(
    reference: str, as_user: AsOpt,
    child_name: Annotated[str, typer.Option(
        help="The aggressor's name (stored like the child's, never emailed).")],
    child_code: Annotated[str, typer.Option(help="The aggressor's personal code.")],
    school: Annotated[str, typer.Option(
        help="The aggressor's school: an institution code, or its name if it is elsewhere.")],
    municipality: Annotated[str, typer.Option(
        help="Code of the municipality of the declared residence (config "
             "municipalities.yaml, e.g. jelgava, riga, jelgavas-novads).")],
    municipality_name: Annotated[str | None, typer.Option(
        help="For a municipality outside municipalities.yaml: its name.")] = None,
    address: Annotated[str | None, typer.Option(
        help="That municipality's receiving email address for the MK 474 p. 12 report, if "
             "the directory has none (else Gaita asks the coordinator: `case address`).")
    ] = None,
    expect_version: Annotated[int | None, typer.Option(
        help="Fail with a conflict (exit 5) unless the case is at this version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record the pupil who used violence on the case REFERENCE (MK 474 p. 12 goes to the
    municipality of their declared residence)."""
    gaita = current_app()
    result = add_aggressor(gaita.db, gaita.rt, reference, actor_for(gaita.db, as_user),
                           name=child_name, code=child_code, school=school,
                           municipality=municipality, municipality_name=municipality_name,
                           address=address, expected_version=expect_version)
    res = result.residence
    if as_json:
        emit_json({"reference": reference, "role": result.role, "version": result.version,
                   "municipality": res.code, "ours": res.ours, "address": res.address,
                   "waiting_for_address": res.waiting, "warnings": list(result.warnings)})
        return
    for w in result.warnings:
        err.print(f"warning: {w}", markup=False)
    where = "ours" if res.ours else (res.address or "ADDRESS NEEDED")
    out.print(f"{reference}: {result.role} recorded; municipality {res.code} "
              f"({res.name['lv']}): {where}", markup=False)


@case_app.command("address")
@handled
def address_cmd(
    reference: str, as_user: AsOpt,
    address: Annotated[str, typer.Option(
        help="The receiving email address of the aggressor's municipality.")],
) -> None:
    """Give the receiving address of the aggressor's municipality when Gaita has none; a
    waiting MK 474 p. 12 report is sent with it."""
    gaita = current_app()
    result = give_report_address(gaita.db, gaita.rt, reference, actor_for(gaita.db, as_user),
                                 address)
    out.print(f"{reference}: address {result.address} recorded"
              + ("; the MK 474 p. 12 report is sent" if result.sent else ""), markup=False)


@case_app.command("extension")
@handled
def extension_cmd(
    reference: str, as_user: AsOpt,
    approve: Annotated[bool, typer.Option("--approve/--refuse", help="The decision.")],
) -> None:
    """Decide on the open task's request for more time; approval moves the due date."""
    gaita = current_app()
    due = decide_extension(gaita.db, gaita.rt, reference, actor_for(gaita.db, as_user),
                           approve=approve)
    if approve and due is not None:
        local = due.astimezone(gaita.rt.calendar.timezone)
        out.print(f"{reference}: approved; now due {local:%d.%m.%Y %H:%M}")
    else:
        out.print(f"{reference}: {'approved' if approve else 'refused'}")


@case_app.command()
@handled
def show(reference: str,
         as_user: Annotated[str | None, typer.Option(
             "--as", help="Show the triggers this user may fire.")] = None,
         as_json: JsonOpt = False) -> None:
    """Show a case: state, owner, due date, allowed triggers and timeline."""
    gaita = current_app()
    # Without --as: the operator, recorded in the access log, offered no triggers.
    view = case_view(gaita.db, gaita.rt, reference, reader(gaita, as_user))
    if as_json:
        emit_json(view)
        return
    out.print(f"[bold]{view['reference']}[/]  {view['title']}  (v{view['definition_version']}, "
              f"version {view['version']}, risk {view['risk_level']})")
    out.print(f"state: {view['state']} — {view['state_title']}  [{view['status']}]", markup=False)
    if view["outcome"]:
        out.print(f"outcome: {view['outcome']}")
    if view["incident_at"] is not None:
        out.print(f"incident: {gaita.rt.calendar.format_local(view['incident_at'])}"
                  + (f"  [bold red]REPORTED LATE[/] ({view['late_days']} d. after the first "
                     "deadline)" if view["late_days"] is not None else ""))
    ikvd = reported(gaita.rt.municipality.ikvd_statuses, view["data"], "lv")
    if ikvd:
        out.print(f"IKVD status: {ikvd['code']} — {ikvd['title']} (reported to IKVD: "
                  f"{ikvd['report']}; list version {ikvd['version']})", markup=False)
    if view["school"]:
        out.print(f"school: {view['school']}")
    if view.get("transfer"):
        by = view["transfer"]["due_at"].astimezone(gaita.rt.calendar.timezone)
        out.print(f"transfer pending: to {view['transfer']['to']} (to accept by "
                  f"{by:%d.%m.%Y %H:%M})", markup=False)
    for p in view["parties"]:
        who = (f"{p['child']['name']} ({p['child']['personal_code']}), " if "child" in p
               else "")
        school_text = p["school"] or p["school_text"]
        where = "ours" if p["ours"] else (p["address"] or "[bold red]ADDRESS NEEDED[/]")
        out.print(f"{p['role']}: {who}school {school_text}; municipality {p['municipality']} "
                  f"({p['municipality_name']['lv']}): {where}"
                  + ("  [bold red]MK 474 p. 12 REPORT WAITING FOR THE ADDRESS[/] "
                     "(gaita case address)" if p["report_waiting"] else ""))
    if view["owner"]:
        out.print(f"owner: {view['owner']}")
        due = (_due_text(gaita, view["due_at"], view["working_days_left"])
               if view["due_at"] else "no deadline")
        out.print(f"due: {due}" + ("  [bold red]OVERDUE[/]" if view["overdue"] else ""))
    if view["paused"]:
        p, tz = view["paused"], gaita.rt.calendar.timezone
        out.print(f"PAUSED since {p['since'].astimezone(tz):%d.%m.%Y %H:%M} ({p['reason']}: "
                  f"{p['reason_title']['lv']}; {p['working_days']} working days so far"
                  + ("; OVER THE LIMIT" if p["over_limit"] else "") + ")", markup=False)
    if view["task"]:
        out.print(f"task: {_answers(gaita, view['task'])}", markup=False)
    for r in view["reports"]:
        how = ("made " + gaita.rt.calendar.format_local(r["filed_at"])
               + f" (task {r['task']} for {r['assignee']}: {r['task_status']}"
               + (f"; answer {r['answer']}" if r["answer"] else "") + ")"
               if r["task"] else f"waived: {r['waived']}" if r["waived"] is not None
               else "not made")
        out.print(f"report {r['code']} → {r['to']}{' (required)' if r['required'] else ''}: "
                  f"{how}", markup=False)
    out.print("next: " + (", ".join(view["allowed_triggers"]) or "(nothing for this user)"))
    out.print("timeline:" + ("" if view["chain_ok"] else "  [bold red]HASH CHAIN BROKEN[/]"))
    for e in view["timeline"]:
        what = e["trigger"] or e["kind"]
        if "action" in e["fields"]:   # an institution's answer, or a decision on it
            what = f"{e['kind']} {e['fields']['action']}"
        if "reason" in e["fields"] or "error" in e["fields"]:
            what += f" ({e['fields'].get('reason') or e['fields']['error']})"
        mails = ", ".join(
            f"{m['template']}→{m['recipient_institution']} ({m['status']}"
            + (f": {m['last_error']}" if m["status"] == OutboxStatus.FAILED else "") + ")"
            for m in e["notifications"])
        at = e['at'].astimezone(gaita.rt.calendar.timezone)
        out.print(f"  {e['seq']:>3}. {at:%d.%m.%Y %H:%M} {e['actor']}: {what} -> {e['to']}"
                  + (f"  ✉ {mails}" if mails else ""), markup=False)


def _answers(gaita: App, task: dict[str, Any]) -> str:
    """The assignee's answers on the open task, e.g. "acknowledged 30.11.2026 10:02"."""
    tz = gaita.rt.calendar.timezone
    parts = [f"{label} {task[key].astimezone(tz):%d.%m.%Y %H:%M}" for key, label in (
        ("acknowledged_at", "acknowledged"), ("accepted_at", "accepted"),
        ("declined_at", "DECLINED"), ("reported_done_at", "reported done"),
        ("unacknowledged_at", "NOT ACKNOWLEDGED in time, recorded")) if task[key]]
    if task["extension_days"]:
        parts.append(f"asks {task['extension_days']} more working days (awaiting decision)")
    if not task["acknowledged_at"] and task["ack_due_at"]:
        by = task["ack_due_at"].astimezone(tz)
        parts.append(f"receipt to be acknowledged by {by:%d.%m.%Y %H:%M}")
    return "; ".join(parts) or "no answer yet"


@case_app.command("list")
@handled
def list_cmd(
    case_type: Annotated[str | None, typer.Option("--type", help="Only this case type.")] = None,
    state: Annotated[str | None, typer.Option(help="Only cases in this state.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only cases whose open task is overdue.")] = False,
    closed: Annotated[bool, typer.Option(help="Include closed cases.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List cases."""
    gaita = current_app()
    rows = list_cases(gaita.db, gaita.rt, case_type=case_type, state=state, overdue=overdue,
                      include_closed=closed)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        left = "" if r["working_days_left"] is None else f"{r['working_days_left']:>4} wd"
        out.print(f"{r['reference']:<18} {r['case_type']:<20} {r['state']:<26} "
                  f"{r['owner_institution'] or '-':<22} {left}", markup=False)
    if not rows:
        out.print("no cases")


@case_app.command("search")
@handled
def search_cmd(
    query: Annotated[str, typer.Argument(help="A case reference (or its beginning), the "
                                              "child's name (diacritics optional) or the "
                                              "child's whole personal code.")],
    as_user: Annotated[str | None, typer.Option(
        "--as", help="Search as this user (names and codes only for a user who sees the "
                     "child's identity; without --as: the operator, by reference only).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find cases by reference, child name or personal code (newest first, at most 50)."""
    gaita = current_app()
    found = search_cases(gaita.db, gaita.rt, reader(gaita, as_user), query)
    if as_json:
        emit_json({"items": found.rows, "more": found.more, "names_searched": found.identity})
        return
    for r in found.rows:
        opened = gaita.rt.calendar.local_date(r["opened_at"]).strftime("%d.%m.%Y")
        out.print(f"{r['reference']:<18} {r['case_type']:<20} {r['state']:<26} "
                  f"{r['status']:<7} {r['owner_institution'] or '-':<22} {opened}"
                  + (f"  {r['child_name']}" if r["child_name"] else ""), markup=False)
    if not found.rows:
        out.print("nothing found")
    elif found.more:
        out.print(f"(only the first {len(found.rows)}: narrow the search)")


@case_app.command()
@handled
def migrate(
    plan: Annotated[Path, typer.Argument(help="Migration plan YAML (see docs/examples/).")],
    as_user: AsOpt,
    dry_run: Annotated[bool, typer.Option(help="Show what would move; change nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Move open cases pinned to an older workflow version to a newer one."""
    gaita = current_app()
    actor = actor_for(gaita.db, as_user)
    moved = migrate_cases(gaita.db, gaita.rt, load_plan(plan, gaita.rt.registry), actor,
                          dry_run=dry_run)
    if as_json:
        emit_json([m.__dict__ for m in moved])
        return
    for m in moved:
        out.print(f"{m.reference}: {m.from_state} -> {m.to_state}")
    out.print(f"{len(moved)} case(s) {'would be ' if dry_run else ''}migrated")


@case_app.command()
@handled
def verify(reference: str, as_json: JsonOpt = False) -> None:
    """Verify the case's event hash chain; exit 1 if it was tampered with."""
    gaita = current_app()
    with gaita.db.connect() as conn:
        case = load_case_row(conn, reference)
        problems = verify_chain(conn, case["id"])
    if as_json:
        emit_json({"reference": reference, "events": case["event_seq"], "ok": not problems,
                   "problems": problems})
        raise typer.Exit(1 if problems else 0)
    for p in problems:
        err.print(p, markup=False)
    if problems:
        raise typer.Exit(1)
    out.print(f"{reference}: hash chain verifies ({case['event_seq']} events)")
