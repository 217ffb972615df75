"""Read side: the case view (written to the access log), case lists, and what an
email action link's page shows of its task."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.access_log import log_access
from engine.answers import TaskNotFound
from engine.definitions import Transition, Workflow
from engine.errors import UserNotFound
from engine.events import EventKind, chain_problems
from engine.filings import report_child, report_details, report_status
from engine.ikvd import step_fields
from engine.parties import parties_view
from engine.pause import pause_view
from engine.policy import (
    ALLOW,
    CASE_DATA,
    IDENTITY,
    Action,
    Subject,
    allowed_triggers,
    case_scope,
    decide,
    field_groups_of,
    held_scope,
    subject_of,
    task_scope,
    visible_cases,
    visible_groups,
)
from engine.reports import case_page
from engine.runtime import Actor, Runtime
from engine.search import other_cases_of_child
from engine.store import (
    ACCESS,
    ACTION_TOKEN,
    CASE,
    CHILD,
    EVENT,
    OUTBOX,
    TASK,
    USER,
    Row,
    load_case_row,
)
from engine.tables import AccessAction, CaseStatus, Channel, OutboxStatus, TaskKind
from engine.tasks import task_title


def actor_for(db: sa.Engine, username: str) -> Actor:
    with db.connect() as conn:
        row = conn.execute(sa.select(USER.c.username, USER.c.role, USER.c.institution_code).where(
            USER.c.username == username, USER.c.active.is_(True))).first()
    if row is None:
        raise UserNotFound(username)
    return Actor(row.username, row.role, row.institution_code)


def case_view(db: sa.Engine, rt: Runtime, reference: str, actor: Actor,
              channel: Channel = Channel.CLI) -> dict[str, Any]:
    """Everything a case shows its reader, written to the access log.

    The access policy decides: a case the actor may not read raises
    ``AccessDenied`` (the attempt is logged as ``denied``); otherwise the view
    holds only the field groups the actor sees (``identity`` adds the child's name
    and personal code; ``access_log`` adds who read and wrote the case).  An
    operator at the command line (``engine.runtime.operator``) reads every field
    but the child's identity.
    """
    now = rt.clock.now()
    subject = subject_of(rt, actor)
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        scope = case_scope(conn, case)
        decision = decide(rt.registry, subject, Action.READ_CASES, scope)
        if not decision:
            log_access(conn, case["id"], actor.username, AccessAction.DENIED, channel, now)
        else:
            log_access(conn, case["id"], actor.username, AccessAction.READ, channel, now)
            wf = rt.registry.get(case["case_type"], case["definition_version"])
            task = conn.execute(sa.select(TASK).where(
                TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None),
                TASK.c.kind == TaskKind.STATE)).mappings().first()
            events = conn.execute(sa.select(EVENT).where(EVENT.c.case_id == case["id"])
                                  .order_by(EVENT.c.seq)).mappings().all()
            mail = conn.execute(sa.select(
                OUTBOX.c.id, OUTBOX.c.event_id, OUTBOX.c.template, OUTBOX.c.recipient_role,
                OUTBOX.c.recipient_institution, OUTBOX.c.status, OUTBOX.c.attempts,
                OUTBOX.c.last_error, TASK.c.acknowledged_at,
            ).select_from(OUTBOX.outerjoin(TASK, TASK.c.id == OUTBOX.c.task_id))
                .where(OUTBOX.c.case_id == case["id"]).order_by(OUTBOX.c.id)).mappings().all()
            transfer = conn.execute(sa.select(TASK.c.assignee_institution, TASK.c.due_at).where(
                TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None),
                TASK.c.kind == TaskKind.TRANSFER)).mappings().first()
            groups = visible_groups(rt.registry.roles, subject)
            reports = report_status(conn, wf, case)
            # the case's other children (the aggressor): identity only with ``identity``
            parties = parties_view(conn, rt, case["id"], IDENTITY in groups)
            child = access = None
            others: list[dict[str, Any]] = []
            if IDENTITY in groups:
                child = dict(conn.execute(sa.select(CHILD.c.name, CHILD.c.personal_code).where(
                    CHILD.c.id == case["child_id"])).mappings().one())
                # the child's other cases this reader may reach (engine.search)
                others = other_cases_of_child(conn, rt.registry.roles, subject, case["id"],
                                              case["child_id"])
            if decide(rt.registry, subject, Action.READ_ACCESS_LOG, scope):
                # who read, by name and institution (``engine.access_log.fold`` folds them)
                access = [dict(r) for r in conn.execute(sa.select(
                    ACCESS.c.case_id, ACCESS.c.at, ACCESS.c.actor, ACCESS.c.action,
                    ACCESS.c.channel, USER.c.display_name.label("name"),
                    USER.c.institution_code.label("institution"),
                ).select_from(ACCESS.outerjoin(USER, USER.c.username == ACCESS.c.actor)).where(
                    ACCESS.c.case_id == case["id"]).order_by(ACCESS.c.id)).mappings()]
    decision.or_raise(reference)

    chain = chain_problems(events, case["event_seq"], case["last_event_hash"])
    state = wf.state(case["state"])
    assignee = task["assignee_institution"] if task else None
    due = task["due_at"] if task else None
    as_of = case["paused_at"] or now
    shown = field_groups_of(wf)

    def visible(fields: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if shown.get(k, CASE_DATA) in groups}

    return {
        "reference": case["reference"], "case_type": case["case_type"],
        "definition_version": case["definition_version"], "title": wf.title.lv,
        "state": case["state"], "state_title": state.title.lv, "status": case["status"],
        "outcome": case["outcome"], "version": case["version"], "risk_level": case["risk_level"],
        "owner": assignee, "school": case["school_institution"],
        "opened_at": case["opened_at"],
        # when it happened, and how many days after its first deadline it was entered
        "incident_at": case["incident_at"], "late_days": case["late_days"],
        # a paused clock stands still: days left and overdue as when it was paused
        "due_at": due,
        "working_days_left": rt.calendar.working_days_left(as_of, due) if due else None,
        "overdue": bool(due and as_of > due),
        "paused": pause_view(rt, case, now), "paused_working_days": case["paused_working_days"],
        "allowed_triggers": allowed_triggers(rt.registry, subject, wf, case["state"], scope),
        # the state's declared reports to other institutions, and how each stands
        "reports": [r.as_dict(groups) for r in reports],
        "task": None if task is None else {k: task[k] for k in TASK_ANSWERS},
        "data": visible(case["data"]), "chain_ok": not chain,
        "escalated": scope.escalated, "involved": sorted(scope.involved),
        # a school move waiting for the new school (engine.transfer)
        "transfer": None if transfer is None else {"to": transfer["assignee_institution"],
                                                   "due_at": transfer["due_at"]},
        "parties": parties,
        # MK 474 p. 12: another municipality's receiving address is not known yet
        "waiting_for_address": any(p["waiting_for_address"] for p in parties),
        **({"child": child} if child is not None else {}),
        "child_cases": others,
        **({"access_log": access} if access is not None else {}),
        "timeline": [{
            "seq": e["seq"], "at": e["at"], "actor": e["actor"], "kind": e["kind"],
            "trigger": e["trigger"], "from": e["from_state"], "to": e["to_state"],
            "fields": _event_fields(e, visible, groups),
            "notifications": [_delivery(m) for m in mail if m["event_id"] == e["id"]],
        } for e in events if e["kind"] != EventKind.NOTE or e["payload"].get("group") in groups],
    }


def _event_fields(event: Row, visible: Callable[[Mapping[str, Any]], dict[str, Any]],
                  groups: frozenset[str]) -> dict[str, Any]:
    if event["kind"] == EventKind.NOTE:   # a note's text is in its own group (shown if seen)
        return dict(event["payload"])
    return visible(event["payload"])


#: The open task's answers shown with a case (``engine.answers``).
TASK_ANSWERS = ("id", "ack_due_at", "acknowledged_at", "accepted_at", "declined_at",
                "reported_done_at", "unacknowledged_at", "extension_days")


#: What a case view says of an email: its outbox status, or ``acknowledged`` (sent, and
#: the task it carried was acknowledged since).
ACKNOWLEDGED = "acknowledged"
DELIVERY_STATUSES = frozenset({*OutboxStatus, ACKNOWLEDGED})


def _delivery(mail: Any) -> dict[str, Any]:
    """An email's delivery status (``DELIVERY_STATUSES``)."""
    row = {k: mail[k] for k in ("id", "template", "recipient_role", "recipient_institution",
                                "status", "attempts", "last_error")}
    if mail["status"] == OutboxStatus.SENT and mail["acknowledged_at"] is not None:
        row["status"] = ACKNOWLEDGED
    return row


def list_cases(db: sa.Engine, rt: Runtime, *, case_type: str | None = None,
               state: str | None = None, overdue: bool = False,
               include_closed: bool = False, limit: int = 500) -> list[dict[str, Any]]:
    """``case list``: the first ``limit`` matching cases, oldest first (``engine.reports.
    case_page`` with the columns below)."""
    rows, _ = case_page(db, rt, case_type=case_type, state=state, overdue=overdue,
                        include_closed=include_closed, sort="opened", limit=limit)
    return [{k: r[k] for k in LIST_COLUMNS} for r in rows]


#: The columns of ``list_cases``'s rows.
LIST_COLUMNS = ("reference", "case_type", "state", "status", "owner_institution", "version",
                "due_at", "working_days_left")


def open_tasks(db: sa.Engine, rt: Runtime, subject: Subject, *, offset: int = 0,
               limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The open tasks of the subject's institution on the cases the access policy
    lets it reach (state tasks and the cooperation group's decision tasks), soonest
    due first (no deadline last), and how many there are."""
    if subject.institution is None:
        return [], 0
    task = TASK.alias("t")   # the policy's condition correlates its own ``task``
    where = (task.c.closed_at.is_(None), task.c.assignee_institution == subject.institution,
             visible_cases(rt.registry.roles, subject))
    joined = task.join(CASE, CASE.c.id == task.c.case_id)
    page = (sa.select(task, CASE.c.reference, CASE.c.case_type, CASE.c.definition_version,
                      CASE.c.paused_at)
            .select_from(joined).where(*where)
            .order_by(task.c.due_at.is_(None), task.c.due_at, task.c.id)
            .offset(offset).limit(limit))
    with db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(joined)
                             .where(*where)).scalar_one()
        rows = conn.execute(page).mappings().all()
    now, cal = rt.clock.now(), rt.calendar
    out = []
    for t in rows:
        wf = rt.registry.get(t["case_type"], t["definition_version"])
        due, paused_at = t["due_at"], t["paused_at"]
        # as the case list: a paused clock stands still, days left as when it stopped
        left = cal.working_days_left(paused_at or now, due) if due else None
        out.append({**t, "state_title": _texts(wf.state(t["state"]).title),
                    "title": (task_title(wf, t) or {}).get("lv"),
                    "working_days_left": left,
                    "overdue": bool(due and paused_at is None and now > due),
                    "paused": paused_at is not None})
    return out, int(total)


# --- Email action links (served by gaita.web) ------------------------------------------


def link_actor(rt: Runtime, institution: str) -> Actor:
    """Who acts through an email action link: the institution itself (``link:<code>``),
    in the user role of staff acting on their own tasks."""
    return Actor(f"link:{institution}", rt.registry.roles.own_tasks_role, institution)


def task_for_link(db: sa.Engine, rt: Runtime, task_id: int, *, outbox_id: int | None = None,
                  log: AccessAction | None = None) -> dict[str, Any]:
    """What an action-link page shows of one task, and for whom the link speaks.

    The link speaks for the institution its email went to (``outbox_id``'s
    recipient; without ``outbox_id``, the task's assignee).  ``log`` (``read`` or
    ``write``) writes this access to the access log as that institution's link
    actor, channel ``link``.  No child identity is part of the result.  Raises
    ``TaskNotFound`` for an unknown task, or an email that is not this task's.
    """
    now = rt.clock.now()
    with db.begin() as conn:
        task = conn.execute(sa.select(TASK).where(TASK.c.id == task_id)).mappings().first()
        if task is None:
            raise TaskNotFound(task_id)
        case = conn.execute(sa.select(
            CASE.c.id, CASE.c.reference, CASE.c.case_type, CASE.c.definition_version,
            CASE.c.state, CASE.c.status, CASE.c.data, CASE.c.school_institution,
            CASE.c.child_id).where(
                CASE.c.id == task["case_id"])).mappings().one()
        institution = task["assignee_institution"]
        used: frozenset[str] = frozenset()
        if outbox_id is not None:
            mail = conn.execute(sa.select(OUTBOX.c.task_id, OUTBOX.c.recipient_institution)
                                .where(OUTBOX.c.id == outbox_id)).first()
            if mail is None or mail.task_id != task_id or mail.recipient_institution is None:
                raise TaskNotFound(task_id)
            institution = mail.recipient_institution
            used = frozenset(conn.execute(sa.select(ACTION_TOKEN.c.purpose).where(
                ACTION_TOKEN.c.outbox_id == outbox_id)).scalars())
        actor = link_actor(rt, institution) if institution else None
        decision = ALLOW
        if actor is not None:   # the link speaks for its institution: the policy decides
            decision = decide(rt.registry, subject_of(rt, actor), Action.READ_CASES,
                              task_scope(conn, {**task, "case_type": case["case_type"]}))
            if log is not None or not decision:
                log_access(conn, case["id"], actor.username,
                           log if decision and log else AccessAction.DENIED, Channel.LINK, now)
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        child = report_child(conn, wf, task, case["child_id"]) if decision else None
    decision.or_raise(case["reference"])
    closed = task["closed_at"] is not None
    # a cooperation group's decision task is its agreed action; "done" closes only it
    decision = task["kind"] == TaskKind.DECISION
    transitions = []
    if not closed and actor is not None and task["kind"] == TaskKind.STATE:
        scope = held_scope(case["case_type"], task["assignee_institution"])
        for trigger in allowed_triggers(rt.registry, subject_of(rt, actor), wf, task["state"],
                                        scope):
            t = wf.transition(task["state"], trigger)
            if t is not None:
                transitions.append({**step_view(t), "fields": step_fields(rt.municipality, t)})
    return {
        "task_id": task["id"], "case_id": case["id"], "reference": case["reference"],
        "case_type": case["case_type"], "case_title": _texts(wf.title),
        "definition_version": case["definition_version"],
        "state": task["state"], "decision": decision,
        "task_title": task_title(wf, task) or _texts(wf.state(task["state"]).title),
        "transfer": ({"from": case["school_institution"], "to": task["assignee_institution"]}
                     if task["kind"] == TaskKind.TRANSFER else None),
        "case_state": case["state"], "case_state_title": _texts(wf.state(case["state"]).title),
        "case_closed": case["status"] == CaseStatus.CLOSED,
        "assignee": task["assignee_institution"],
        "institution": institution,
        "institution_name": {loc: rt.municipality.institution_name(institution, loc)
                             for loc in ("lv", "en")},
        "actor": actor, "due_at": task["due_at"], "closed": closed,
        "acknowledged_at": task["acknowledged_at"], "accepted_at": task["accepted_at"],
        "declined_at": task["declined_at"], "reported_done_at": task["reported_done_at"],
        "extension_days": task["extension_days"], "used": used,
        "transitions": transitions,
        # a report task: what the report says and the case fields its recipient may read
        "report": (report_details(wf, task["state"], dict(task), case["data"], child)
                   if task["kind"] == TaskKind.REPORT else None),
        **state_law(wf, None if decision else task["state"]),
    }


def _texts(text: Any) -> dict[str, str]:
    return {"lv": text.lv, "en": text.en}


def state_law(wf: Workflow, state: str | None) -> dict[str, Any]:
    """What the law asks in ``state``, as a task page shows it beside the next steps:
    ``legal_ref`` (the declared citation) and ``legal_note`` (``{lv, en}``), each
    ``None`` when not declared or for no state (a cooperation group's decision task)."""
    declared = wf.state(state) if state is not None else None
    note = declared.note if declared is not None else None
    return {"legal_ref": declared.legal_ref if declared is not None else None,
            "legal_note": _texts(note) if note is not None else None}


def step_view(step: Transition) -> dict[str, Any]:
    """A transition as the task pages offer it: trigger, title, fields, and what the
    law asks of it (``legal_ref``, ``note`` as ``{lv, en}`` or ``None``)."""
    return {"trigger": step.trigger, "title": _texts(step.title), "fields": dict(step.fields),
            "legal_ref": step.legal_ref,
            "note": _texts(step.note) if step.note is not None else None}


def display_names(db: sa.Engine, usernames: list[str] | set[str]) -> dict[str, str]:
    """The display name of each of these users that exists, in one query (a page
    showing who did what loads its names once)."""
    wanted = sorted(set(usernames))
    if not wanted:
        return {}
    with db.connect() as conn:
        rows = conn.execute(sa.select(USER.c.username, USER.c.display_name)
                            .where(USER.c.username.in_(wanted))).all()
    return {r.username: r.display_name for r in rows if r.display_name}
