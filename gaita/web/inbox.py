"""An institution's inbox: its open tasks, answered without an email link.

``GET /inbox`` lists the open tasks held by the user's institution (the case's
own *state* tasks, the cooperation group's *decision* tasks and the *reports*
other institutions made to it), overdue first, then by due date.  A report
task's page shows what the report says and the case fields its recipient may
read (``gaita.web.filings``), and its ``done`` form the declared answer fields.
``GET /inbox/{task}`` shows one task with a form for each
answer still open to it; ``POST /inbox/{task}/{action}`` gives the answer
through ``engine.answers.answer`` as the logged-in user, reading the same form as
the email action-link pages (``gaita.web.links``).  Success: back to the inbox
with ``?done=<action>``; what to correct: the task page again, status 422.

Access is the policy's (``Action.ANSWER_TASK``) on the task's case, with the
task's assignee as the case's holder: a decision task belongs to the
institution the group gave it to, whoever holds the case's own task.  A task
the policy refuses is neither listed nor opened (403), and nothing is written.
Opening a task page is a read of its case (access log, channel ``web``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from engine.access_log import log_access
from engine.answers import (
    AlreadyAnswered,
    TaskAction,
    TaskClosed,
    TaskNotFound,
    check_answer,
    max_extension_days,
)
from engine.filings import report_child
from engine.ikvd import step_fields
from engine.policy import Action, allowed_triggers, held_scope, task_scope
from engine.queries import open_tasks, state_law, step_view
from engine.runtime import Runtime
from engine.store import CASE, TASK, Row
from engine.tables import AccessAction, Channel, TaskKind
from engine.tasks import task_title
from gaita.bootstrap import App
from gaita.web.auth import Viewer, form_user, gaita_of, web_user
from gaita.web.badges import due_badge
from gaita.web.brief import due_text, paused_text, read_brief
from gaita.web.errors import PageError
from gaita.web.filings import report_details_of, report_task_context
from gaita.web.forms import (
    MAX_TEXT,
    FormError,
    first_values,
    read_answer_form,
    try_answer,
)
from gaita.web.render import page
from i18n import translator, working_days

router = APIRouter()

#: The answers in the order the task page offers them.
ACTIONS = (TaskAction.ACKNOWLEDGE, TaskAction.ACCEPT, TaskAction.DONE, TaskAction.MORE_TIME,
           TaskAction.DECLINE)
#: The inputs of the decline and more-time forms share names: their ids carry the action.
_PER_ACTION_IDS = frozenset({"reason", "days"})


# --- working days, shared with the group's pages -----------------------------------------


def due_info(rt: Runtime, lang: str, due: datetime | None,
             as_of: datetime, *, paused_at: datetime | None = None) -> dict[str, Any] | None:
    """A due date as shown: the local day, working days left or overdue, ``late``, and a
    ``badge`` in words (overdue, due today, at most ``badges.SOON_DAYS`` working days left, or
    paused).  ``as_of``: now.  ``paused_at``: when the case's clock was paused; the date
    then stands still and is shown as paused, never as overdue."""
    if due is None:
        return None
    t = translator(lang)
    if paused_at is not None:
        text = paused_text(rt, lang, paused_at)
        return {"day": rt.calendar.local_date(due), "text": text, "late": False,
                "badge": {"kind": "paused", "text": t("inbox.badge.paused")}}
    left = rt.calendar.working_days_left(as_of, due)
    late = as_of > due
    if late:
        text = t("inbox.overdue", days=working_days(lang, -left)) if left < 0 \
            else t("inbox.overdue_today")
    else:
        text = t("inbox.left", days=working_days(lang, left)) if left > 0 else t("inbox.due_today")
    kind = due_badge(late, left, False)
    return {"day": rt.calendar.local_date(due), "text": text, "late": late,
            "badge": {"kind": kind, "text": t(f"inbox.badge.{kind}")} if kind else None}


# --- reading tasks ----------------------------------------------------------------------


def _select(where: Any) -> Any:
    return sa.select(TASK, CASE.c.reference, CASE.c.case_type, CASE.c.definition_version,
                     CASE.c.paused_at, CASE.c.data, CASE.c.child_id).join(
        CASE, CASE.c.id == TASK.c.case_id).where(where)


def _texts(text: Any) -> dict[str, str]:
    return {"lv": text.lv, "en": text.en}


def _describe(app: App, viewer: Viewer, task: Row) -> dict[str, Any]:
    """One task as the inbox and the task page show it (the shape of ``engine.queries.
    task_for_link``, so the link pages' ``_summary.html`` shows it too)."""
    rt, lang, now = app.rt, viewer.lang, app.rt.clock.now()
    t = translator(lang)
    wf = rt.registry.get(task["case_type"], task["definition_version"])
    decision = task["kind"] == TaskKind.DECISION
    title = task_title(wf, task) or _texts(wf.state(task["state"]).title)
    code = task["assignee_institution"]
    due = due_info(rt, lang, task["due_at"], now, paused_at=task["paused_at"])
    return {
        **{k: task[k] for k in ("id", "case_id", "reference", "case_type", "state", "due_at",
                                "acknowledged_at", "accepted_at", "declined_at",
                                "reported_done_at", "extension_days")},
        "task_id": task["id"], "decision": decision, "case_title": _texts(wf.title),
        "task_title": title, "institution": code, "assignee": code,
        "institution_name": _texts(rt.municipality.institution(code).name),
        "due": due, "overdue": bool(due and due["late"]), "paused": task["paused_at"] is not None,
        # "done" reported with no next step: it waits for the coordinator's decision
        "waiting": task["reported_done_at"] is not None,
        # a paused clock: the receipt is late only if it was before the pause
        "answers": _answers(rt, t, lang, task, task["paused_at"] or now),
        "transitions": [] if task["kind"] != TaskKind.STATE or task["closed_at"]
        else _transitions(rt, wf, task, viewer),
        **state_law(wf, None if decision else task["state"]),
        # a report task: what the report asks, what it says, the case fields it may read
        # (the list's rows carry no case data: only the task page shows them)
        **report_task_context(wf, report_details_of(
            wf, task, task.get("data") or {}, _report_child(app, wf, task)), lang),
    }


def _report_child(app: App, wf: Any, task: Row) -> dict[str, Any] | None:
    """The child's identity, on a report task page whose report lets its recipient read
    it (the list's rows carry no case data, and no identity)."""
    if task.get("data") is None or task["kind"] != TaskKind.REPORT:
        return None
    with app.db.connect() as conn:
        return report_child(conn, wf, task, task["child_id"])


def _answers(rt: Runtime, t: Callable[..., str], lang: str, task: Mapping[str, Any],
             now: datetime) -> list[tuple[str, bool]]:
    """What the institution has answered so far: (text, late)."""
    def at(column: str) -> str:
        return rt.calendar.format_local(task[column], lang)

    out: list[tuple[str, bool]] = []
    if task["acknowledged_at"] is not None:
        out.append((t("inbox.acknowledged", at=at("acknowledged_at")), False))
    else:
        late = task["ack_due_at"] is not None and now > task["ack_due_at"]
        out.append((t("inbox.not_acknowledged"), late))
    for column, key in (("accepted_at", "inbox.accepted"), ("declined_at", "inbox.declined"),
                        ("reported_done_at", "inbox.reported_done")):
        if task[column] is not None:
            out.append((t(key, at=at(column)), False))
    if task["extension_days"] is not None:
        out.append((t("inbox.more_time_asked", days=working_days(lang, task["extension_days"])),
                    False))
    return out


def _transitions(rt: Runtime, wf: Any, task: Mapping[str, Any],
                 viewer: Viewer) -> list[dict[str, Any]]:
    """The steps ``done`` may fire: those this user may fire on the task's state."""
    out = []
    for trigger in allowed_triggers(rt.registry, viewer.subject, wf, task["state"],
                                    held_scope(task["case_type"], task["assignee_institution"])):
        step = wf.transition(task["state"], trigger)
        if step is not None:
            out.append({**step_view(step), "fields": step_fields(rt.municipality, step)})
    return out


def _open_task(app: App, viewer: Viewer, task_id: int, *, log: bool) -> dict[str, Any]:
    """The open task, if the policy lets the viewer answer it (``AccessDenied`` otherwise,
    before anything is written); ``log``: record the read of its case."""
    with app.db.begin() as conn:
        task = conn.execute(_select(TASK.c.id == task_id)).mappings().first()
        if task is None:
            raise TaskNotFound(task_id)
        viewer.require(app, Action.ANSWER_TASK, task_scope(conn, task))
        if task["closed_at"] is not None:
            raise TaskClosed("task.closed_short", reference=task["reference"])
        if log:
            log_access(conn, task["case_id"], viewer.actor.username, AccessAction.READ,
                       Channel.WEB, app.rt.clock.now())
    return {**_describe(app, viewer, task),
            "brief": read_brief(app.db, app.rt, task_id, viewer.subject, viewer.lang)}


def _offered(task: Mapping[str, Any]) -> list[str]:
    """The answers still open to the task."""
    offered = []
    for action in ACTIONS:
        try:
            check_answer(task, action)
        except AlreadyAnswered:
            continue
        offered.append(action.value)
    return offered


# --- pages ------------------------------------------------------------------------------


@router.get("/inbox")
def inbox(request: Request, viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    t = translator(viewer.lang)
    institution = viewer.actor.institution
    if institution is None:
        return page(request, app, viewer, "inbox/list.html", title=t("inbox.title"), tasks=[],
                    waiting=[], institution=None, notice=None)
    viewer.require(app, Action.ANSWER_TASK)
    rows, _ = open_tasks(app.db, app.rt, viewer.subject)
    described = [_describe(app, viewer, r) for r in rows]
    # "done" with no next step chosen: out of the open list, waiting for the coordinator
    tasks = [d for d in described if not d["waiting"]]
    waiting = [d for d in described if d["waiting"]]
    done = request.query_params.get("done")
    notice = t(f"{done}.thanks") if done in {a.value for a in TaskAction} else None
    name = app.rt.municipality.institution(institution).name
    return page(request, app, viewer, "inbox/list.html", title=t("inbox.title"), tasks=tasks,
                waiting=waiting, institution=getattr(name, viewer.lang), notice=notice)


@router.get("/inbox/{task_id}")
def task_page(request: Request, task_id: int, viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    return _task_page(request, app, viewer, _open_task(app, viewer, task_id, log=True))


@router.post("/inbox/{task_id}/{action}")
async def answer_task(request: Request, task_id: int, action: str) -> Response:
    viewer, form = await form_user(request)
    return await run_in_threadpool(_answer, request, viewer, task_id, action, first_values(form))


def _answer(request: Request, viewer: Viewer, task_id: int, name: str,
            values: dict[str, str]) -> Response:
    app = gaita_of(request)
    if name not in {a.value for a in TaskAction}:
        raise PageError(404, "not_found")
    action = TaskAction(name)
    task = _open_task(app, viewer, task_id, log=False)
    check_answer(task, action)
    submitted, errors = read_answer_form(action, values, task, viewer.lang,
                                         max_days=max_extension_days(app.rt))
    if not errors:
        result, errors = try_answer(app, task_id, task, action, viewer.actor, submitted,
                                    viewer.lang)
        if result is not None:
            return RedirectResponse(f"/inbox?done={action.value}", status_code=303)
    task = _open_task(app, viewer, task_id, log=True)
    return _task_page(request, app, viewer, task, action=action.value, values=values,
                      errors=[_retarget(action, e) for e in errors], status=422)


def _retarget(action: TaskAction, error: FormError) -> FormError:
    if error.target in _PER_ACTION_IDS:
        return FormError(error.text, f"{action.value}-{error.target}", error.detail)
    return error


def _task_page(request: Request, app: App, viewer: Viewer, task: dict[str, Any], *,
               action: str | None = None, values: dict[str, str] | None = None,
               errors: Sequence[FormError] = (), status: int = 200) -> Response:
    t = translator(viewer.lang)
    return page(request, app, viewer, "inbox/task.html", status=status,
                title=t("inbox.task_title", reference=task["reference"]), task=task,
                offered=_offered(task), failed=action, values=values or {}, errors=errors,
                invalid={e.target for e in errors if e.target},
                due_text=due_text(app, task, viewer.lang), brief=task["brief"],
                max_text=MAX_TEXT, max_days=max_extension_days(app.rt))


