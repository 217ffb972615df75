"""The cooperation group's pages: its queue, meetings, decisions and minutes
(``engine.group``, as ``gaita escalations`` and ``gaita meeting`` use it).

- ``GET /group``: the escalation queue, most urgent first, and the meetings;
- ``GET /group/meetings/new``, ``POST /group/meetings``: plan a meeting (day, time
  of day, kind, place); the chair picks its agenda from the queue, listed in the
  queue's order with the urgent cases ticked (``plan_meeting``); then its page;
- ``GET /group/meetings/{id}``: the agenda (each case, its reasons, decided or not,
  a link to decide it) and the group's seats;
- ``GET /group/meetings/{id}/cases/{reference}``: one case of the agenda, its
  decision or the form to record it (``POST`` the same address: ``decide``, whose
  agreed actions become the institutions' tasks), then on to the next undecided case;
- ``GET /group/meetings/{id}/minutes.docx``: the minutes for signing.

The policy decides: ``Action.READ_GROUP`` to read, ``PLAN_MEETING`` and
``DECIDE`` to write.  A meeting's page and its minutes are reads of each case on
its agenda (``meeting_view`` writes the access log).  Pages show references,
case types, reasons and institutions: never anything about the child.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from engine.dates import InvalidDate, InvalidTime, dmy, parse_day, parse_time_of_day
from engine.errors import FieldError, NotPermitted
from engine.group.alerts import waiting_urgent
from engine.group.decisions import AgreedAction, decide, max_action_days
from engine.group.meetings import (
    EXTRAORDINARY_WAIT_PARAM,
    ORDINARY_WAIT_PARAM,
    group_seats,
    list_meetings,
    meeting_view,
    plan_meeting,
    time_of_day,
)
from engine.group.queue import QueueItem, escalation_queue, queue_order
from engine.group.reasons import reason_title
from engine.group.rhythm import proposals
from engine.municipality import EngineReason
from engine.policy import Action
from engine.store import ESCALATION
from engine.tables import AccessAction, Channel, EscalationStatus, MeetingKind, MeetingStatus
from gaita.bootstrap import App
from gaita.mail import mail_settings
from gaita.web.auth import Viewer, form_user, gaita_of, web_user
from gaita.web.errors import PageError
from gaita.web.forms import MAX_TEXT, FormError, first_values
from gaita.web.inbox import due_info
from gaita.web.render import page
from gaita.web.timeline import actor_names
from i18n import format_day, translator, working_days
from i18n.messages import render as said
from notifications.compose import case_url
from notifications.minutes import write_minutes

router = APIRouter()

#: Agreed actions one decision form offers.
ACTION_ROWS = 3
MAX_PLACE = 200
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_DAYS = re.compile(r"[0-9]{1,4}")
#: The engine's refusals about the picked cases: shown at the agenda's checkboxes.
AGENDA_REFUSALS = frozenset({"meeting.not_queued", "meeting.not_urgent", "meeting.nothing_picked"})


def _labels(app: App, lang: str) -> dict[str, dict[str, str]]:
    """The words for stored codes: meeting kinds and statuses, risk levels."""
    t = translator(lang)
    days = app.rt.days(EXTRAORDINARY_WAIT_PARAM)
    wait = working_days(lang, days)
    return {
        "kind": {MeetingKind.ORDINARY: t("group.kind.ordinary"),
                 MeetingKind.EXTRAORDINARY: t("group.kind.extraordinary")},
        "kind_hint": {MeetingKind.ORDINARY: t("group.kind_hint.ordinary"),
                      MeetingKind.EXTRAORDINARY: t("group.kind_hint.extraordinary", days=wait)},
        "status": {MeetingStatus.PLANNED: t("group.status.planned"),
                   MeetingStatus.HELD: t("group.status.held")},
        "risk": {"low": t("group.risk.low"), "medium": t("group.risk.medium"),
                 "high": t("group.risk.high")},
    }


def _page(request: Request, app: App, viewer: Viewer, template: str, **context: Any) -> Response:
    return page(request, app, viewer, template, labels=_labels(app, viewer.lang), **context)


def _reason_titles(app: App, codes: Sequence[str], lang: str) -> list[str]:
    return [reason_title(app.rt, code, lang) for code in codes]


def _type_title(app: App, case_type: str, lang: str) -> str:
    return app.rt.registry.latest(case_type).title.get(lang)


def _institutions(app: App, lang: str) -> list[tuple[str, str]]:
    """The institutions an agreed action may go to: all but the group's own."""
    m = app.rt.municipality
    group = m.institution_for_role(app.rt.registry.roles.group).code
    return sorted(((i.code, str(getattr(i.name, lang))) for i in m.institutions
                   if i.code != group), key=lambda pair: _collation_key(pair[1]))


def _collation_key(text: str) -> tuple[str, str]:
    """Alphabetical near enough for Latvian: letters first without their marks, case aside."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return bare.casefold(), text


# --- the queue --------------------------------------------------------------------------


@router.get("/group")
def queue_page(request: Request, viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_GROUP)
    lang, cal = viewer.lang, app.rt.calendar
    items = escalation_queue(app.db, app.rt)
    meetings = [{**m, "time": time_of_day(app.rt, m["starts_at"])} for m in list_meetings(app.db)]
    by_id = {m["id"]: m for m in meetings}
    who = _queued_by(app, items, lang)
    today = cal.local_date(app.rt.clock.now())
    with app.db.connect() as conn:
        unplanned = {w.escalation_id: w for w in waiting_urgent(conn, app.rt)}
    rows = [{
        "item": i, "type_title": _type_title(app, i.case_type, lang),
        "reasons": _reason_titles(app, i.reasons, lang),
        "queued_at": app.rt.calendar.format_local(i.queued_at, lang),
        "by": who[i.escalation_id],
        "waiting": working_days(lang, cal.working_days_between(cal.local_date(i.queued_at), today)),
        "overdue": working_days(lang, i.days_overdue) if i.days_overdue else None,
        "meeting": by_id.get(i.meeting_id),
        "no_meeting": _no_meeting(app, unplanned.get(i.escalation_id), lang),
    } for i in items]
    name = app.rt.municipality.cooperation_group.name   # the group's own, as configured
    return _page(request, app, viewer, "group/queue.html", title=str(getattr(name, lang)),
                 rows=rows, meetings=list(reversed(meetings)),
                 may_plan=viewer.may(app, Action.PLAN_MEETING))


def _no_meeting(app: App, waiting: Any, lang: str) -> dict[str, Any] | None:
    """An urgent referral with no meeting planned: since when the chair and the coordinator
    are alerted daily (``engine.group.alerts``), or from when they will be."""
    if waiting is None:
        return None
    t = translator(lang)
    if waiting.alerting:
        return {"late": True, "text": t("group.no_meeting_alerting",
                                        waited=working_days(lang, waiting.waited))}
    return {"late": False, "text": t("group.no_meeting_alert_from",
                                     when=app.rt.calendar.format_local(waiting.alert_from, lang))}


def _queued_by(app: App, items: Sequence[QueueItem], lang: str) -> dict[int, str]:
    """Who queued each escalation, named as ``actor_names`` names them."""
    if not items:
        return {}
    with app.db.connect() as conn:
        rows = conn.execute(sa.select(ESCALATION.c.id, ESCALATION.c.queued_by).where(
            ESCALATION.c.id.in_([i.escalation_id for i in items]))).all()
    names = actor_names(app, (r.queued_by for r in rows), lang)
    return {r.id: names[r.queued_by] for r in rows}


# --- planning a meeting -----------------------------------------------------------------


@router.get("/group/meetings/new")
def new_meeting(request: Request, viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.PLAN_MEETING)
    cal = app.rt.calendar
    day = cal.next_working_day(cal.local_date(app.rt.clock.now()))
    proposed = request.query_params.get("day", "")   # a proposal the chair chose
    try:
        if proposed:
            day = parse_day(proposed)
    except InvalidDate:
        pass   # the form shows the next working day; nothing was submitted
    items = _waiting(app)
    return _plan_form(request, app, viewer, {"day": dmy(day), "kind": MeetingKind.ORDINARY},
                      [], 200, items, {i.reference for i in items if i.urgent})


@router.post("/group/meetings")
async def plan(request: Request) -> Response:
    viewer, form = await form_user(request)
    picked = [v.strip() for v in form.getlist("case") if isinstance(v, str) and v.strip()]
    return await run_in_threadpool(_plan, request, viewer, first_values(form), picked)


def _waiting(app: App) -> list[QueueItem]:
    """The cases a meeting may take, in the queue's order: queued, or scheduled for a
    meeting whose day has passed without a decision (as ``plan_meeting`` takes them)."""
    today = app.rt.calendar.local_date(app.rt.clock.now())
    past = {m["id"] for m in list_meetings(app.db) if m["day"] < today}
    return [i for i in escalation_queue(app.db, app.rt)
            if i.status == EscalationStatus.QUEUED or i.meeting_id in past]


def _plan(request: Request, viewer: Viewer, values: dict[str, str],
          picked: list[str]) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.PLAN_MEETING)
    t, cal = translator(viewer.lang), app.rt.calendar
    items = _waiting(app)
    errors: list[FormError] = []
    try:
        day = parse_day(values.get("day", ""))
    except InvalidDate as exc:
        errors.append(FormError(t("group.day_invalid"), "day", said(viewer.lang, exc)))
    else:
        if day < cal.local_date(app.rt.clock.now()):
            errors.append(FormError(t("group.day_past"), "day"))
        elif not cal.is_working_day(day):
            errors.append(FormError(t("group.day_not_working",
                                      next=format_day(cal.next_working_day(day), viewer.lang)),
                                    "day"))
    try:
        at = parse_time_of_day(values.get("time", ""))
    except InvalidTime as exc:
        errors.append(FormError(t("group.time_invalid"), "time", said(viewer.lang, exc)))
    kind = values.get("kind", "")
    if kind not in (MeetingKind.ORDINARY, MeetingKind.EXTRAORDINARY):
        errors.append(FormError(t("group.kind_invalid"), "kind-ordinary"))
    elif kind == MeetingKind.EXTRAORDINARY and not any(i.urgent for i in items):
        errors.append(FormError(_no_urgent_text(app, viewer.lang, items), "kind-extraordinary"))
    place = values.get("place", "")
    if len(place) > MAX_PLACE:
        errors.append(FormError(t("too_long", limit=MAX_PLACE), "place"))
    if items and not picked:
        errors.append(FormError(t("group.pick_none"), "agenda"))
    if not errors:
        try:
            planned = plan_meeting(app.db, app.rt, viewer.actor, day,
                                   extraordinary=kind == MeetingKind.EXTRAORDINARY, place=place,
                                   at=at, picked=picked if items else None,
                                   case_url=partial(case_url, mail_settings(app).base_url))
        except NotPermitted as exc:   # e.g. a picked case no longer queued, or not urgent
            target = "agenda" if exc.code in AGENDA_REFUSALS else None
            errors.append(FormError(t("engine_refused"), target, said(viewer.lang, exc)))
        else:
            return RedirectResponse(f"/group/meetings/{planned.meeting_id}?planned=1",
                                    status_code=303)
    return _plan_form(request, app, viewer, values, errors, 422, items, set(picked))


def _no_urgent_text(app: App, lang: str, items: Sequence[QueueItem]) -> str:
    """Why there can be no extraordinary meeting now, in plain words."""
    t = translator(lang)
    return t("group.no_urgent_explained", queued=len(items))


def _plan_form(request: Request, app: App, viewer: Viewer, values: dict[str, str],
               errors: Sequence[FormError], status: int, items: Sequence[QueueItem],
               checked: set[str]) -> Response:
    t, lang = translator(viewer.lang), viewer.lang
    today = app.rt.calendar.local_date(app.rt.clock.now())
    rows = [{"item": i, "type_title": _type_title(app, i.case_type, lang),
             "reasons": _reason_titles(app, i.reasons, lang),
             "waiting": working_days(lang, app.rt.calendar.working_days_between(
                 app.rt.calendar.local_date(i.queued_at), today)),
             "checked": i.reference in checked} for i in items]
    urgent = sum(1 for i in items if i.urgent)
    return _page(request, app, viewer, "group/new.html", status=status,
                 title=t("group.plan_title"), values=values, errors=errors,
                 invalid={e.target for e in errors if e.target}, queued=len(items),
                 urgent=urgent, rows=rows, max_place=MAX_PLACE,
                 no_urgent=None if urgent else _no_urgent_text(app, lang, items),
                 proposals=proposals(app.db, app.rt))


# --- a meeting ------------------------------------------------------------------------


@router.get("/group/meetings/{meeting_id}")
def meeting_page(request: Request, meeting_id: int,
                 viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_GROUP)
    rt, lang, t = app.rt, viewer.lang, translator(viewer.lang)
    view = _view(app, viewer, meeting_id)
    notice = None
    if request.query_params.get("planned"):
        notice = t("group.planned", cases=len(view["items"]))
    decided = request.query_params.get("decided")
    shown = next((i for i in view["items"] if i["reference"] == decided and i["decision"]), None)
    if shown is not None:
        notice = t("group.decided", reference=shown["reference"],
                   tasks=len(shown["decision"]["actions"]))
        if not _undecided(view):
            notice += " " + t("group.all_decided")
    today = rt.calendar.local_date(rt.clock.now())
    title = t("group.meeting_title", id=view["id"], day=format_day(view["day"], lang))
    return _page(request, app, viewer, "group/meeting.html", title=title, meeting=view,
                 notice=notice, warnings=_wait_warnings(app, view, lang),
                 may_decide=viewer.may(app, Action.DECIDE), day_reached=view["day"] <= today,
                 scheduled=EscalationStatus.SCHEDULED, seats=group_seats(rt, lang),
                 next_case=next(iter(_undecided(view)), None))


def _view(app: App, viewer: Viewer, meeting_id: int) -> dict[str, Any]:
    """The meeting as ``meeting_view`` gives it (an access-logged read of each case on
    its agenda), with each decision's words for the page."""
    rt, lang = app.rt, viewer.lang
    view = meeting_view(app.db, rt, meeting_id, viewer.actor, locale=lang, channel=Channel.WEB)
    now = rt.clock.now()
    who = actor_names(app, (i["decision"]["decided_by"] for i in view["items"] if i["decision"]),
                      lang)
    for n, item in enumerate(view["items"], 1):
        item["number"] = n
        item["url"] = _case_url(view["id"], item["reference"])
        if item["decision"] is None:
            continue
        item["decision"]["decided_text"] = rt.calendar.format_local(
            item["decision"]["decided_at"], lang)
        item["decision"]["decided_by_name"] = who[item["decision"]["decided_by"]]
        for action in item["decision"]["actions"]:
            action["due_day"] = rt.calendar.local_date(action["due_at"])
            action["due"] = None if action["done"] else due_info(rt, lang, action["due_at"], now)
    return view


def _undecided(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The agenda's cases still to decide, in the agenda's order."""
    return [i for i in view["items"]
            if i["decision"] is None and i["status"] == EscalationStatus.SCHEDULED]


def _case_url(meeting_id: int, reference: str) -> str:
    return f"/group/meetings/{meeting_id}/cases/{quote(reference, safe='')}"


# --- one case of a meeting: its decision ------------------------------------------------


@router.get("/group/meetings/{meeting_id}/cases/{reference}")
def meeting_case(request: Request, meeting_id: int, reference: str,
                 viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_GROUP)
    return _case_page(request, app, viewer, meeting_id, reference)


@router.post("/group/meetings/{meeting_id}/cases/{reference}")
async def record_decision(request: Request, meeting_id: int, reference: str) -> Response:
    viewer, form = await form_user(request)
    return await run_in_threadpool(_decide, request, viewer, meeting_id, reference,
                                   first_values(form))


def _decide(request: Request, viewer: Viewer, meeting_id: int, reference: str,
            values: dict[str, str]) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.DECIDE)
    t = translator(viewer.lang)
    summary, actions, errors = _read_decision(app, viewer.lang, values)
    if not errors:
        try:
            decide(app.db, app.rt, meeting_id, reference, viewer.actor, summary=summary,
                   actions=actions)
        except FieldError as exc:
            target = "summary" if exc.field == "summary" else None
            errors = [FormError(t("engine_refused"), target, said(viewer.lang, exc))]
        except NotPermitted as exc:   # not on the agenda, decided already, a day too early
            errors = [FormError(t("engine_refused"), None, said(viewer.lang, exc))]
        else:
            return RedirectResponse(_after_decision(app, meeting_id, reference), status_code=303)
    return _case_page(request, app, viewer, meeting_id, reference, values=values,
                      errors=errors, status=422)


def _after_decision(app: App, meeting_id: int, reference: str) -> str:
    """Where the chair goes after deciding: the next undecided case of the agenda (after
    this one, then from the top), or the meeting's page when all are decided."""
    with app.db.connect() as conn:
        rows = conn.execute(sa.select(ESCALATION.c.case_id, ESCALATION.c.status).where(
            ESCALATION.c.meeting_id == meeting_id)).all()
    undecided = {r.case_id for r in rows if r.status == EscalationStatus.SCHEDULED}
    order = [i.reference for i in sorted(
        (i for i in escalation_queue(app.db, app.rt, statuses=(EscalationStatus.SCHEDULED,))
         if i.meeting_id == meeting_id and i.case_id in undecided), key=queue_order)]
    if not order:
        return f"/group/meetings/{meeting_id}?decided={quote(reference, safe='')}"
    return _case_url(meeting_id, order[0]) + f"?decided={quote(reference, safe='')}"


def _read_decision(app: App, lang: str,
                   values: dict[str, str]) -> tuple[str, list[AgreedAction], list[FormError]]:
    """The summary and the filled action rows of a decision form, or what to correct."""
    t = translator(lang)
    errors: list[FormError] = []
    summary = values.get("summary", "").strip()
    if not summary:
        errors.append(FormError(t("group.summary_required"), "summary"))
    elif len(summary) > MAX_TEXT:
        errors.append(FormError(t("too_long", limit=MAX_TEXT), "summary"))
    codes = {code for code, _ in _institutions(app, lang)}
    most = max_action_days(app.rt)   # the engine refuses more too
    actions = []
    for n in range(1, ACTION_ROWS + 1):
        code, days, text = (values.get(f"a{n}.{k}", "").strip()
                            for k in ("institution", "days", "text"))
        if not (code or days or text):
            continue   # an empty row
        ok = True
        if code not in codes:
            errors.append(FormError(t("group.action_institution", n=n), f"a{n}-institution"))
            ok = False
        if not (_DAYS.fullmatch(days) and 1 <= int(days) <= most):
            errors.append(FormError(t("group.action_days", n=n, max=most), f"a{n}-days"))
            ok = False
        if not text or len(text) > MAX_TEXT:
            errors.append(FormError(t("group.action_text", n=n, limit=MAX_TEXT), f"a{n}-text"))
            ok = False
        if ok:
            actions.append(AgreedAction(code, int(days), text))
    return summary, actions, errors


def _case_page(request: Request, app: App, viewer: Viewer, meeting_id: int, reference: str, *,
               values: dict[str, str] | None = None, errors: Sequence[FormError] = (),
               status: int = 200) -> Response:
    """One case of a meeting's agenda: its decision, or (for the chair, from the
    meeting's day) the form to record it."""
    rt, lang, t = app.rt, viewer.lang, translator(viewer.lang)
    view = _view(app, viewer, meeting_id)
    item = next((i for i in view["items"] if i["reference"] == reference), None)
    if item is None:
        raise PageError(404, "not_found")
    today = rt.calendar.local_date(rt.clock.now())
    notice = None
    decided = request.query_params.get("decided")
    shown = next((i for i in view["items"] if i["reference"] == decided and i["decision"]), None)
    if shown is not None and status == 200:
        notice = t("group.decided", reference=shown["reference"],
                   tasks=len(shown["decision"]["actions"]))
    left = _undecided(view)
    position = next((n for n, i in enumerate(left, 1) if i["reference"] == reference), None)
    title = t("group.case_title", reference=reference)
    return _page(request, app, viewer, "group/case.html", status=status, title=title,
                 meeting=view, item=item, notice=notice,
                 meeting_title=t("group.meeting_title", id=view["id"],
                                 day=format_day(view["day"], lang)),
                 may_decide=viewer.may(app, Action.DECIDE), day_reached=view["day"] <= today,
                 left=len(left), position=position,
                 institutions=_institutions(app, lang), rows=ACTION_ROWS,
                 max_days=max_action_days(rt), max_text=MAX_TEXT, values=values or {},
                 errors=errors, invalid={e.target for e in errors if e.target},
                 scheduled=EscalationStatus.SCHEDULED)


def _wait_warnings(app: App, view: dict[str, Any], lang: str) -> list[str]:
    """A planned meeting's cases that will have waited longer than the group's limit by its
    day (what ``plan_meeting`` warned of, in the reader's language)."""
    if view["status"] != MeetingStatus.PLANNED:
        return []
    rt, t, cal = app.rt, translator(lang), app.rt.calendar
    limit = rt.days(ORDINARY_WAIT_PARAM)
    out = []
    for item in escalation_queue(app.db, rt, statuses=(EscalationStatus.SCHEDULED,)):
        if item.meeting_id != view["id"] or item.reasons == (EngineReason.FOLLOW_UP,):
            continue   # a review is not a case waiting for the group
        queued = cal.local_date(item.queued_at)
        if view["day"] > cal.add_working_days(queued, limit):
            out.append(t("group.waited_too_long", reference=item.reference,
                         queued=format_day(queued, lang),
                         waited=working_days(lang, cal.working_days_between(queued, view["day"])),
                         limit=working_days(lang, limit)))
    return out


# --- the minutes ----------------------------------------------------------------------


@router.get("/group/meetings/{meeting_id}/minutes.docx")
def minutes(request: Request, meeting_id: int, viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_GROUP)
    view = meeting_view(app.db, app.rt, meeting_id, viewer.actor, locale=viewer.lang,
                        action=AccessAction.EXPORT, channel=Channel.WEB)
    with TemporaryDirectory() as tmp:
        body = write_minutes(app.rt, view, Path(tmp) / "minutes.docx",
                             locale=viewer.lang).read_bytes()
    t = translator(viewer.lang)
    return Response(body, media_type=DOCX, headers={
        "Content-Disposition": f'attachment; filename="{t("group.minutes_file", id=meeting_id)}"'})
