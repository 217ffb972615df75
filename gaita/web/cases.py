"""The coordinator's case pages: opening a case, and one case's page.

``GET /cases/new`` lists the case types the user may open; ``/cases/new/{case_type}``
is the opening form, generated from the declaration's ``open`` (its typed
fields) with the child, the school and the risk level; its POST calls
``engine.cases.open_case``.

``GET /cases/{reference}`` is one case as ``engine.queries.case_view`` gives it
(the access policy decides, the read is logged, fields are redacted by group):
its summary, its declaration as a diagram (``gaita.web.diagram``), the steps
the user may take now, the timeline with each event's emails (in words:
``gaita.web.timeline``), the notes, and for auditors the access log.  Each
form is shown only when the policy allows it; its POST asks the policy again
(``require_on_case``: a 403 before the form is read), then calls the one
engine function that writes it (``fire``, ``add_note``, ``pause``/``resume``,
``escalate``, ``decide_extension``), which asks the policy itself.  Then a
redirect to the page (PRG); an error the user can fix shows the page again
(422) with what to correct; a form older than the case is refused as stale
(409, by the app's handler).

The child's name and personal code are shown only when the policy grants the
``identity`` field group, and never put in a URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from engine.access_log import fold
from engine.answers import TaskAction, answer, decide_extension
from engine.cases import NAME_KEPT, fire, open_case
from engine.definitions import RISK_LEVELS, FieldSpec, Workflow
from engine.errors import (
    DuplicateCase,
    FieldError,
    GaitaError,
    GuardFailed,
    InvalidPersonalCode,
    NotFound,
    NotPermitted,
)
from engine.events import EventKind
from engine.fields import coerce_fields
from engine.filings import file_report, waive_report
from engine.group.queue import escalate
from engine.group.reasons import manual_reasons, reason_title
from engine.guards import GUARD_FIELDS
from engine.ikvd import reported, step_fields
from engine.notes import MAX_NOTE, NOTE_GROUPS, add_note
from engine.parties import add_aggressor, give_report_address
from engine.pause import AlreadyPaused, NotPausable, NotPaused, pause, resume
from engine.personal_code import NEW_FORMAT_CHECKSUM_WARNING, parse_personal_code
from engine.policy import Action, CaseScope, openable_types, stored_case_scope, visible_groups
from engine.queries import case_view, state_law, step_view
from engine.store import load_case_row
from engine.tables import CaseStatus, Channel
from engine.transfer import pending_task_of, pending_transfer, transfer_school
from gaita.bootstrap import App
from gaita.web.audit import reads_words
from gaita.web.auth import Viewer, form_user, gaita_of, web_user
from gaita.web.diagram import Texts, outline, svg
from gaita.web.errors import PageError
from gaita.web.filings import FILED, WAIVED, ReportState, case_reports, report_tasks
from gaita.web.forms import MAX_TEXT, FormError, field_value, first_values
from gaita.web.notices import changed, event_seq
from gaita.web.render import page
from gaita.web.search import duplicate_warning, other_cases
from gaita.web.timeline import actor_names, case_summary, institution_name, timeline_event
from i18n import translator, working_days
from i18n.messages import render as said

router = APIRouter()

ViewerDep = Annotated[Viewer, Depends(web_user)]
#: The risk level a new case starts with unless the form says otherwise.
DEFAULT_RISK = "medium"
#: What ``?notice=`` may say on a case page after a form (anything else is ignored).
NOTICES = ("opened", "opened_late", "saved", "code_checksum", "name_kept", "transfer_requested",
           "transfer_accepted", "report_filed", "report_waived", "aggressor_added",
           "address_given", "address_needed", "repeated")
#: The notices of a case just opened (kept beside what an event says changed).
OPENING_NOTICES = frozenset({"opened", "opened_late", "code_checksum", "name_kept", "repeated"})


class Invalid(Exception):
    """What to correct in a form, found before (or by) the engine."""

    def __init__(self, errors: list[FormError]) -> None:
        super().__init__(errors)
        self.errors = errors


# --- shared ------------------------------------------------------------------------------


def require_on_case(app: App, viewer: Viewer, reference: str, action: Action) -> None:
    """The policy's word on ``action`` on this stored case (``AccessDenied`` if no)."""
    viewer.require(app, action, stored_case_scope(app.db, reference))


def _field_errors(specs: Mapping[str, FieldSpec], values: Mapping[str, str], prefix: str,
                  lang: str) -> list[FormError]:
    """Each declared field the engine would refuse (``engine.fields``), in words."""
    errors = []
    for name, spec in specs.items():
        raw, target = values.get(f"f.{prefix}.{name}", ""), f"f-{prefix}-{name}"
        if len(raw) > MAX_TEXT:
            errors.append(FormError(translator(lang)("too_long", limit=MAX_TEXT), target))
            continue
        try:
            coerce_fields({name: spec}, {name: raw})
        except FieldError as exc:   # a date also says what is wrong (no such day, the form)
            errors.append(FormError(_field_message(spec, raw, lang), target,
                                    said(lang, exc.reason) if spec.type == "date" and raw.strip()
                                    else None))
    return errors


def _field_message(spec: FieldSpec, raw: str, lang: str) -> str:
    t, title = translator(lang), spec.title.get(lang)
    if not raw.strip():
        return t("cases.field.required", field=title)
    if spec.type == "int":
        digits = raw.strip().lstrip("-")
        if digits.isascii() and digits.isdigit() and len(digits) < 10 and spec.min is not None:
            return t("cases.field.min", field=title, min=spec.min)
        return t("cases.field.int", field=title)
    if spec.type in ("bool", "date", "choice"):
        return t(f"cases.field.{spec.type}", field=title)
    return t("field_problem", field=title)


def _fields_of(specs: Mapping[str, FieldSpec], values: Mapping[str, str],
               prefix: str) -> dict[str, str]:
    return {name: values.get(f"f.{prefix}.{name}", "") for name in specs}


def _refused(exc: GaitaError, lang: str, target: str | None) -> FormError:
    """An engine refusal the user can act on: what it is, in the engine's words."""
    return FormError(translator(lang)("engine_refused"), target, said(lang, exc))


# --- opening a case ----------------------------------------------------------------------


@router.get("/cases/new")
def choose_type(request: Request, viewer: ViewerDep) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.OPEN_CASE)
    reg = app.rt.registry
    types = [(ct, reg.latest(ct).title.get(viewer.lang))
             for ct in openable_types(reg, viewer.subject)]
    return page(request, app, viewer, "cases/new.html",
                title=translator(viewer.lang)("cases.new.title"), types=types)


@router.get("/cases/new/{case_type}")
def open_form(request: Request, case_type: str, viewer: ViewerDep) -> Response:
    app = gaita_of(request)
    wf = _openable(app, viewer, case_type)
    return _open_page(request, app, viewer, wf, values={"risk_level": DEFAULT_RISK}, errors=[])


@router.post("/cases/new/{case_type}")
async def open_submit(request: Request, case_type: str) -> Response:
    viewer, form = await form_user(request)
    return await run_in_threadpool(_open, request, viewer, case_type, first_values(form))


def _openable(app: App, viewer: Viewer, case_type: str) -> Workflow:
    if case_type not in app.rt.registry.case_types:
        raise PageError(404, "not_found")
    viewer.require(app, Action.OPEN_CASE, case_type=case_type)
    return app.rt.registry.latest(case_type)


def _schools(app: App, viewer: Viewer, *, every: bool = False) -> list[tuple[str, str]]:
    """The institutions a case's school may be (those holding a per-case role); staff
    acting on their own tasks open cases for their own institution only (``every``:
    all of them, e.g. the schools a case may move to)."""
    roles = app.rt.registry.roles
    found = {i.code: i for r in sorted(roles.per_case)
             for i in app.rt.municipality.institutions_with_role(r)}
    if roles.own_tasks_only(viewer.subject.role) and not every:
        found = {c: i for c, i in found.items() if c == viewer.subject.institution}
    return sorted(((c, institution_name(app, c, viewer.lang)) for c in found),
                  key=lambda pair: pair[1])


def _school_required(app: App, wf: Workflow) -> bool:
    per_case = app.rt.registry.roles.per_case
    return any(s.owner in per_case for s in wf.states.values())


def _open(request: Request, viewer: Viewer, case_type: str, values: dict[str, str]) -> Response:
    app = gaita_of(request)
    wf = _openable(app, viewer, case_type)
    lang, t = viewer.lang, translator(viewer.lang)
    errors = _check_opening(app, viewer, wf, values)
    duplicate = None
    start = wf.open.start(values.get("start_state") or "")
    if values.get("start_state") and start is None:
        errors.append(FormError(t("cases.open.start_state_invalid"), "start_state"))
    elif start is not None:
        errors += _field_errors(start.fields, values, f"at_{start.state}", lang)
    if not errors:
        try:
            result = open_case(
                app.db, app.rt, case_type, viewer.actor, child_name=values.get("child_name", ""),
                child_code=values.get("child_code", ""), school=values.get("school") or None,
                fields={**_fields_of(wf.open.fields, values, "open"),
                        **({k: v for k, v in _fields_of(start.fields, values,
                                                        f"at_{start.state}").items() if v}
                           if start is not None else {})},
                risk_level=values.get("risk_level", ""),
                start_state=start.state if start is not None else None,
                incident_at=_incident_of(app, values),
                # an open case of the child's: warn first, open once confirmed
                warn_duplicate=values.get("anyway") != "1")
        except DuplicateCase as exc:
            duplicate = duplicate_warning(app, viewer, exc)
        except InvalidPersonalCode as exc:
            errors = [_code_error(exc, lang)]
        except FieldError as exc:   # risk_level, child_name, school or a declared field
            spec = wf.open.fields.get(exc.field)
            errors = [_refused(exc, lang, exc.field) if spec is None else FormError(
                _field_message(spec, values.get(f"f.open.{exc.field}", ""), lang),
                f"f-open-{exc.field}", said(lang, exc))]
        except NotFound as exc:   # an institution no longer in the database
            errors = [FormError(t("cases.open.school_invalid"), "school", said(lang, exc))]
        except NotPermitted as exc:   # e.g. the start state's guard: the count not over it
            errors = [_refused(exc, lang, "start_state" if start is not None else None)]
        else:
            notice = "opened"
            if NEW_FORMAT_CHECKSUM_WARNING in result.warnings:
                notice = "code_checksum"
            elif NAME_KEPT in result.warnings:
                notice = "name_kept"
            if result.late_days is not None:   # says "opened" itself; the late notice first
                notice = "opened_late" + ("" if notice == "opened" else f"&notice={notice}")
            if result.repeated is not None:   # queued for the group: never silently
                notice += "&notice=repeated"
            return RedirectResponse(f"/cases/{quote(result.reference)}?notice={notice}",
                                    status_code=303)
    if duplicate is not None:
        return _open_page(request, app, viewer, wf, values=values, errors=[],
                          duplicate=duplicate, status=409)
    return _open_page(request, app, viewer, wf, values=values, errors=errors, status=422)


def _check_opening(app: App, viewer: Viewer, wf: Workflow,
                   values: dict[str, str]) -> list[FormError]:
    """Everything wrong with an opening form at once (the engine stops at the first)."""
    lang, t = viewer.lang, translator(viewer.lang)
    errors: list[FormError] = []
    name = values.get("child_name", "")
    if len(name) > 200:
        errors.append(FormError(t("too_long", limit=200), "child_name"))
    elif not any(ch.isalpha() for ch in name):
        errors.append(FormError(t("cases.open.name_required"), "child_name"))
    try:
        parse_personal_code(values.get("child_code", ""))
    except InvalidPersonalCode as exc:
        errors.append(_code_error(exc, lang))
    school = values.get("school", "")
    if school and school not in dict(_schools(app, viewer)):
        errors.append(FormError(t("cases.open.school_invalid"), "school"))
    elif not school and _school_required(app, wf):
        errors.append(FormError(t("cases.open.school_required"), "school"))
    if values.get("risk_level") not in RISK_LEVELS:
        errors.append(FormError(t("cases.open.risk_required"), "risk_level"))
    try:
        _incident_of(app, values)
    except ValueError:
        errors.append(FormError(t("cases.open.incident_invalid"), "incident_at"))
    return errors + _field_errors(wf.open.fields, values, "open", lang)


def _incident_of(app: App, values: Mapping[str, str]) -> datetime | None:
    """The typed incident time (``DD.MM.GGGG SS:MM``); None when left empty (now)."""
    text = values.get("incident_at", "").strip()
    return app.rt.calendar.parse_local(text) if text else None


def _code_error(exc: InvalidPersonalCode, lang: str) -> FormError:
    """The engine's reason for refusing a personal code, in ``lang`` (it never repeats
    the code)."""
    return FormError(said(lang, exc.reason), "child_code")


def _open_page(request: Request, app: App, viewer: Viewer, wf: Workflow, *,
               values: dict[str, str], errors: list[FormError], status: int = 200,
               duplicate: dict[str, Any] | None = None) -> Response:
    t = translator(viewer.lang)
    return page(request, app, viewer, "cases/open.html", status=status, duplicate=duplicate,
                title=t("cases.open.title", type=wf.title.get(viewer.lang)), wf=wf,
                values=values, errors=errors, invalid={e.target for e in errors if e.target},
                schools=_schools(app, viewer), school_required=_school_required(app, wf),
                risk_levels=[(r, t(f"cases.risk.{r}")) for r in RISK_LEVELS], max_text=MAX_TEXT)


# --- the case page -----------------------------------------------------------------------


@router.get("/cases/{reference}")
def show_case(request: Request, reference: str, viewer: ViewerDep) -> Response:
    query = request.query_params
    notices = [n for n in query.getlist("notice") if n in NOTICES]
    order = query.get("order")
    return _case_page(request, gaita_of(request), viewer, reference,
                      notice=" ".join(notices) or None, event=event_seq(query.get("event")),
                      order=order if order in TIMELINE_ORDERS else None)


#: How the timeline may be read (``?order=``); the first is the default: the newest
#: first, as the coordinator comes back to a case to see what happened since.
TIMELINE_ORDERS = ("newest", "oldest")
#: The blocks of the "next steps" section, in their order (a refused form's block first).
ACTION_BLOCKS = ("extension", "transfer_accept", "steps", "pause", "resume", "escalate",
                 "transfer", "note")


def _case_page(request: Request, app: App, viewer: Viewer, reference: str, *,
               values: Mapping[str, str] | None = None, errors: list[FormError] | None = None,
               form: str | None = None, notice: str | None = None, event: int | None = None,
               order: str | None = None, status: int = 200) -> Response:
    """The case page; after a refused form: ``errors`` and the ``values`` given in the
    form ``form`` (its anchor id): that form comes first among the next steps, open,
    each error beside its input (or atop the form), the first invalid input focused.
    ``notice``: the codes of what a form did, ``event`` the event it wrote
    (``gaita.web.notices``); ``order``: the timeline's (``TIMELINE_ORDERS``)."""
    view = case_view(app.db, app.rt, reference, viewer.actor, channel=Channel.WEB)
    rt, lang = app.rt, viewer.lang
    t = translator(lang)
    wf = rt.registry.get(view["case_type"], view["definition_version"])
    scope = CaseScope(view["case_type"], frozenset(view["involved"]), view["owner"],
                      view["escalated"])
    is_open = view["status"] == CaseStatus.OPEN
    state = wf.state(view["state"])
    role_title = {r: (s.en if lang == "en" else s.lv)
                  for r, s in rt.registry.roles.institution_roles.items()}
    group_title = {g: (s.en if lang == "en" else s.lv)
                   for g, s in rt.registry.roles.field_groups.items()}

    def may(action: Action) -> bool:
        return viewer.may(app, action, scope)

    filings = case_reports(app.db, rt, reference, viewer.subject)
    blocked = {trigger: said(lang, exc) for trigger, exc in filings.blocked.items()}
    steps = []
    if is_open and may(Action.ADVANCE):
        for trigger in view["allowed_triggers"]:
            tr = wf.transition(view["state"], trigger)
            if tr is not None:
                steps.append({**step_view(tr), "title": tr.title.get(lang),
                              "fields": step_fields(rt.municipality, tr),
                              "dest": wf.state(tr.dest).title.get(lang),
                              "blocked": blocked.get(trigger)})
    seen = visible_groups(rt.registry.roles, viewer.subject)
    note_groups = ([(g, group_title.get(g, g)) for g in NOTE_GROUPS if g in seen]
                   if may(Action.ADD_NOTE) else [])
    pausing = may(Action.PAUSE)
    task = view["task"]
    who = actor_names(app, (e["actor"] for e in view["timeline"]), lang)
    report_specs = report_tasks(app.db, wf, reference)
    timeline = [timeline_event(app, wf, e, lang, group_title, who, report_specs)
                for e in view["timeline"]]
    notes = [e for e in timeline if e["kind"] == EventKind.NOTE]
    order = order or TIMELINE_ORDERS[0]
    if order == "newest":
        timeline.reverse()
    if form is not None and form.startswith("step-"):   # the refused step first
        steps.sort(key=lambda s: f"step-{s['trigger']}" != form)
    summary = case_summary(app, view, wf, lang)
    transfer = _transfer_context(app, viewer, view, lang, is_open and may(Action.TRANSFER_SCHOOL))
    aggressor = _aggressor_context(app, view, wf, lang, is_open, may)
    pause_reasons = ([(c, r.title.en if lang == "en" else r.title.lv)
                      for c, r in rt.municipality.pauses.reasons.items()]
                     if pausing and is_open and state.pausable and not view["paused"] else [])
    escalate_reasons = ([(c, reason_title(rt, c, lang)) for c in manual_reasons(rt)]
                        if is_open and may(Action.ESCALATE) else [])
    extension = (working_days(lang, task["extension_days"]) if task and task["extension_days"]
                 is not None and may(Action.DECIDE_EXTENSION) else None)
    reports = [_report_words(app, r, lang) for r in filings.reports] if is_open else []
    shown = {"extension": extension is not None, "transfer_accept": bool(
        transfer["transfer_pending"]), "steps": bool(steps), "pause": bool(pause_reasons),
        "resume": pausing and bool(view["paused"]), "escalate": bool(escalate_reasons),
        "transfer": bool(transfer["transfer_schools"]) and not transfer["transfer_pending"],
        "note": bool(note_groups)}
    blocks = [b for b in ACTION_BLOCKS if shown[b]]
    refused_block = "steps" if form is not None and form.startswith("step-") else form
    blocks.sort(key=lambda b: b != refused_block)
    placed = {*(b for b in blocks if b != "steps"), *(f"step-{s['trigger']}" for s in steps),
              *(f"{kind}-{r['code']}" for r in reports if r["may_file"]
                for kind in ("report", "waive")),
              *(["aggressor"] if aggressor and aggressor["can_add"] else []),
              *(["report_address_form"] if aggressor and aggressor["can_give_address"] else [])}
    errors = errors or []
    field_errors: dict[str, list[FormError]] = {}
    for e in errors:
        if e.target is not None and e.target != form:
            field_errors.setdefault(e.target, []).append(e)
    form_level = [e for e in errors if e.target is None or e.target == form]
    focus = next(iter(field_errors), form if form_level else None)
    said_now = [t(f"cases.notice.{n}") for n in notice.split()] if notice else []
    if event is not None:
        what = changed(app, wf, view, summary, event, viewer.actor.username, lang)
        if what is not None:   # says what the form did: instead of its code's text
            said_now = [s for n, s in zip(notice.split() if notice else [], said_now,
                                          strict=True) if n in OPENING_NOTICES] + [what]
    diagram = svg(wf, lang=lang, current=view["state"], role_title=role_title, texts=Texts(
        title=t("cases.diagram.title", type=wf.title.get(lang)),
        desc=t("cases.diagram.desc", state=state.title.get(lang)),
        current=t("cases.diagram.current")))
    return page(
        request, app, viewer, "cases/case.html", status=status,
        title=t("cases.case.title", reference=view["reference"]),
        view=view, wf_title=wf.title.get(lang), state_title=state.title.get(lang),
        is_open=is_open, summary=summary,
        ikvd=reported(rt.municipality.ikvd_statuses, view["data"], lang),
        **transfer, aggressor=aggressor,
        child=view.get("child"), diagram=diagram, law=state_law(wf, view["state"]),
        other_cases=other_cases(app, view, lang),   # the child's other cases (gaita.web.search)
        states=outline(wf, lang, role_title), current=view["state"],
        steps=steps, timeline=timeline, order=order,
        other_order=(other := next(o for o in TIMELINE_ORDERS if o != order)),
        order_text=t(f"cases.timeline.order.{order}"),
        toggle_text=t(f"cases.timeline.show.{other}"),
        reports=reports,
        reports_blocked=[blocked[s["trigger"]] for s in steps if s["blocked"]],
        notes=notes, note_groups=note_groups, action_blocks=blocks,
        pause_reasons=pause_reasons, escalate_reasons=escalate_reasons, extension=extension,
        # who read the case, by name and institution, repeated reads folded
        access_log=reads_words(app, fold(view.get("access_log") or [],
                                         rt.calendar.timezone), lang),
        has_access_log="access_log" in view,
        values=values or {}, errors=errors, form=form,
        invalid={e.target for e in errors if e.target}, field_errors=field_errors,
        form_level=form_level, focus=focus,
        orphan_errors=errors if form is not None and form not in placed else [],
        notice=" ".join(said_now) or None,
        max_text=MAX_TEXT,
        max_note=MAX_NOTE)


def _report_words(app: App, r: ReportState, lang: str) -> dict[str, Any]:
    """One declared report of the case's state in words: to whom, required or not, its
    status (made at ... and the recipient's answer; waived with the reason; not yet made)."""
    t, cal = translator(lang), app.rt.calendar
    task, recipient = r.task, None
    if r.status == FILED and task is not None:
        status = t("cases.reports.filed", at=cal.format_local(r.filed_at, lang)) if r.filed_at \
            else t("cases.reports.filed_short")
        if task["status"] == "done":
            recipient = t("cases.reports.task.done",
                          at=cal.format_local(task["reported_done_at"] or task["closed_at"], lang))
        elif task["status"] == "cancelled":
            recipient = t("cases.reports.task.cancelled")
        elif task["declined_at"] is not None:
            recipient = t("cases.reports.task.declined",
                          at=cal.format_local(task["declined_at"], lang))
        elif task["acknowledged_at"] is not None:
            recipient = t("cases.reports.task.acknowledged",
                          at=cal.format_local(task["acknowledged_at"], lang))
        elif task["due_at"] is not None:
            recipient = t("cases.reports.task.waiting_due",
                          due=cal.format_local(task["due_at"], lang))
        else:
            recipient = t("cases.reports.task.waiting")
    elif r.status == WAIVED:
        status = t("cases.reports.waived", reason=r.waived or "")
    else:
        status = t("cases.reports.missing")
    spec = r.spec
    roles = app.rt.registry.roles.institution_roles
    return {
        "code": spec.code, "title": spec.title.get(lang), "legal_ref": spec.legal_ref,
        "to": institution_name(app, r.institution, lang) or (
            roles[spec.to].get(lang) if spec.to in roles else spec.to),
        "required": r.required, "status": r.status, "status_text": status,
        "recipient": recipient, "may_file": r.may_file, "fields": spec.fields,
        "filed": [(spec.fields[k].title.get(lang), field_value(spec.fields[k], v, lang))
                  for k, v in r.filed.items()],
        "answer": [(spec.answer[k].title.get(lang), field_value(spec.answer[k], v, lang))
                   for k, v in r.answer.items()],
    }


def _transfer_context(app: App, viewer: Viewer, view: Mapping[str, Any], lang: str,
                      may_transfer: bool) -> dict[str, Any]:
    """A school move (``engine.transfer``): the schools the case may move to, or the
    transfer waiting for the new school (which that school's users may accept here)."""
    with app.db.connect() as conn:
        waiting = pending_transfer(conn, load_case_row(conn, view["reference"])["id"])
    if waiting is not None:
        school = waiting["assignee_institution"]
        return {"transfer_schools": [], "transfer_pending": {
            "school": institution_name(app, school, lang),
            "due": app.rt.calendar.format_local(waiting["due_at"], lang),
            "can_accept": viewer.subject.institution == school}}
    schools = ([(c, n) for c, n in _schools(app, viewer, every=True) if c != view["school"]]
               if may_transfer and view["school"] else [])
    return {"transfer_schools": schools, "transfer_pending": None}


def _aggressor_context(app: App, view: Mapping[str, Any], wf: Workflow, lang: str,
                       is_open: bool, may: Callable[[Action], bool]) -> dict[str, Any] | None:
    """The pupil who used violence (``engine.parties``), where a step of the type reports
    to their municipality (MK 474 p. 12): who it is (the name and code only if the view
    has them), where the report goes, and the forms to record them or give the address."""
    parties = view["parties"]
    if not parties and not any(t.report_to_residence for t in wf.transitions):
        return None
    directory = app.rt.municipality.directory_of_municipalities
    shown = []
    for p in parties:
        shown.append({**p, "school_name": (institution_name(app, p["school"], lang)
                                           if p["school"] else p["school_text"]),
                      "municipality_title": p["municipality_name"][lang]})
    return {
        "parties": shown,
        "can_add": is_open and not parties and may(Action.ADD_PARTY),
        "can_give_address": is_open and may(Action.GIVE_ADDRESS)
        and any(p["waiting_for_address"] for p in parties),
        "municipalities": [(m.code, m.name.get(lang)) for m in directory.municipalities
                           if m.merged_into is None] if directory else [],
    }


# --- the case page's forms ---------------------------------------------------------------

Write = Callable[[App, Viewer, dict[str, str]], str]


async def _case_form(request: Request, reference: str, action: Action, form_id: str,
                     write: Write) -> Response:
    viewer, form = await form_user(request)
    return await run_in_threadpool(_case_write, request, viewer, reference, action, form_id,
                                   write, first_values(form))


def _case_write(request: Request, viewer: Viewer, reference: str, action: Action, form_id: str,
                write: Write, values: dict[str, str]) -> Response:
    """Ask the policy, let ``write`` call the engine, then back to the page: with a
    notice, or (422) with what to correct in the form ``form_id``."""
    app = gaita_of(request)
    require_on_case(app, viewer, reference, action)
    try:
        notice = write(app, viewer, values)
    except Invalid as exc:
        errors = exc.errors
    except NotPermitted as exc:   # FieldError, GuardFailed, TransitionNotAllowed …
        errors = [_refused(exc, viewer.lang, form_id)]
    else:   # the event the write appended: the page says what changed (gaita.web.notices)
        with app.db.connect() as conn:
            seq = load_case_row(conn, reference)["event_seq"]
        return RedirectResponse(f"/cases/{quote(reference)}?notice={notice}&event={seq}",
                                status_code=303)
    return _case_page(request, app, viewer, reference, values=values, errors=errors,
                      form=form_id, status=422)


def _expected_version(values: Mapping[str, str]) -> int:
    raw = values.get("expected_version", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise PageError(400, "bad_request")
    return int(raw)


@router.post("/cases/{reference}/fire/{trigger}")
async def fire_step(request: Request, reference: str, trigger: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        version = _expected_version(values)
        with app.db.connect() as conn:
            case = load_case_row(conn, reference)
        wf = app.rt.registry.get(case["case_type"], case["definition_version"])
        tr = wf.transition(case["state"], trigger)
        specs = step_fields(app.rt.municipality, tr) if tr else {}
        try:
            _submit(specs, values, trigger, viewer.lang, lambda fields: fire(
                app.db, app.rt, reference, trigger, viewer.actor, fields,
                expected_version=version))
        except GuardFailed as exc:   # said at the first of the step's inputs it reads
            read = GUARD_FIELDS.get(exc.guard, ())
            target = next((f"f-{trigger}-{name}" for name in specs if name in read), None)
            if target is None:
                raise
            raise Invalid([_refused(exc, viewer.lang, target)]) from None
        return "saved"
    return await _case_form(request, reference, Action.ADVANCE, f"step-{trigger}", write)


def _submit(specs: Mapping[str, FieldSpec], values: Mapping[str, str], prefix: str, lang: str,
            write: Callable[[dict[str, Any]], object]) -> None:
    """Check a form's declared fields, then ``write`` them; a field the engine refuses
    is said beside that field (``Invalid``)."""
    errors = _field_errors(specs, values, prefix, lang)
    if errors:
        raise Invalid(errors)
    try:
        write(_fields_of(specs, values, prefix))
    except FieldError as exc:
        spec = specs.get(exc.field)
        if spec is None:
            raise
        raise Invalid([FormError(_field_message(spec, values.get(
            f"f.{prefix}.{exc.field}", ""), lang), f"f-{prefix}-{exc.field}",
            said(lang, exc))]) from None


@router.post("/cases/{reference}/reports/{code}")
async def file_report_form(request: Request, reference: str, code: str) -> Response:
    """File the declared report ``code`` of the case's state with its fields."""
    prefix = f"report-{code}"

    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        version = _expected_version(values)
        specs = _declared_fields(app, reference, code)
        _submit(specs, values, prefix, viewer.lang, lambda fields: file_report(
            app.db, app.rt, reference, code, viewer.actor, fields, expected_version=version))
        return "report_filed"
    return await _case_form(request, reference, Action.ADVANCE, prefix, write)


@router.post("/cases/{reference}/reports/{code}/waiver")
async def waive_report_form(request: Request, reference: str, code: str) -> Response:
    """Record, with its reason, that the declared report ``code`` is not made."""
    target = f"waive-{code}-reason"

    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        version = _expected_version(values)
        t = translator(viewer.lang)
        reason = values.get("waive_reason", "")
        if len(reason) > MAX_TEXT:
            raise Invalid([FormError(t("too_long", limit=MAX_TEXT), target)])
        try:
            waive_report(app.db, app.rt, reference, code, viewer.actor, reason,
                         expected_version=version)
        except FieldError as exc:   # no reason given: the engine says which report
            raise Invalid([FormError(t("cases.reports.reason_required"), target,
                                     said(viewer.lang, exc))]) from None
        return "report_waived"
    return await _case_form(request, reference, Action.ADVANCE, f"waive-{code}", write)


def _declared_fields(app: App, reference: str, code: str) -> Mapping[str, FieldSpec]:
    """The fields of the report ``code`` of the case's state (none if it declares no
    such report: the engine then refuses it by name)."""
    with app.db.connect() as conn:
        case = load_case_row(conn, reference)
    wf = app.rt.registry.get(case["case_type"], case["definition_version"])
    spec = wf.state(case["state"]).report(code)
    return spec.fields if spec is not None else {}


@router.post("/cases/{reference}/notes")
async def note(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        version = _expected_version(values)
        t = translator(viewer.lang)
        text, group = values.get("note_text", ""), values.get("note_group", "")
        errors = []
        if not text.strip():
            errors.append(FormError(t("cases.notes.empty"), "note_text"))
        elif len(text) > MAX_NOTE:
            errors.append(FormError(t("too_long", limit=MAX_NOTE), "note_text"))
        seen = visible_groups(app.rt.registry.roles, viewer.subject)
        if group not in NOTE_GROUPS or group not in seen:
            errors.append(FormError(t("cases.notes.group_invalid"), "note_group"))
        if errors:
            raise Invalid(errors)
        add_note(app.db, app.rt, reference, viewer.actor, text, group=group,
                 expected_version=version)
        return "saved"
    return await _case_form(request, reference, Action.ADD_NOTE, "note", write)


@router.post("/cases/{reference}/pause")
async def pause_case(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        version = _expected_version(values)
        reason = values.get("pause_reason", "")
        if reason not in app.rt.municipality.pauses.reasons:
            raise Invalid([FormError(translator(viewer.lang)("cases.pause.reason_invalid"),
                                     "pause_reason")])
        try:
            pause(app.db, app.rt, reference, viewer.actor, reason, expected_version=version)
        except (NotPausable, AlreadyPaused) as exc:
            key = "cases.pause.not_pausable" if isinstance(exc, NotPausable) else \
                "cases.pause.already"
            raise Invalid([FormError(translator(viewer.lang)(key), "pause_reason",
                                     said(viewer.lang, exc))]) \
                from None
        return "saved"
    return await _case_form(request, reference, Action.PAUSE, "pause", write)


@router.post("/cases/{reference}/resume")
async def resume_case(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        try:
            resume(app.db, app.rt, reference, viewer.actor,
                   expected_version=_expected_version(values))
        except NotPaused as exc:
            raise Invalid([FormError(translator(viewer.lang)("cases.pause.not_paused"), "resume",
                                     said(viewer.lang, exc))]) from None
        return "saved"
    return await _case_form(request, reference, Action.PAUSE, "resume", write)


@router.post("/cases/{reference}/escalate")
async def escalate_case(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        reason = values.get("escalate_reason", "")
        if reason not in manual_reasons(app.rt):
            raise Invalid([FormError(translator(viewer.lang)("cases.escalate.reason_invalid"),
                                     "escalate_reason")])
        escalate(app.db, app.rt, reference, viewer.actor, reason,
                 urgent=values.get("escalate_urgent") == "true")
        return "saved"
    return await _case_form(request, reference, Action.ESCALATE, "escalate", write)


@router.post("/cases/{reference}/transfer")
async def transfer_case(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        school = values.get("transfer_school", "")
        if not school:
            raise Invalid([FormError(translator(viewer.lang)("cases.open.school_required"),
                                     "transfer_school")])
        transfer_school(app.db, app.rt, reference, school, viewer.actor,
                        reason=values.get("transfer_reason"),
                        expected_version=_expected_version(values), channel=Channel.WEB)
        return "transfer_requested"
    return await _case_form(request, reference, Action.TRANSFER_SCHOOL, "transfer", write)


@router.post("/cases/{reference}/aggressor")
async def record_aggressor(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        added = add_aggressor(
            app.db, app.rt, reference, viewer.actor, name=values.get("aggressor_name", ""),
            code=values.get("aggressor_code", ""), school=values.get("aggressor_school", ""),
            municipality=values.get("aggressor_municipality", ""),
            municipality_name=values.get("aggressor_municipality_name") or None,
            address=values.get("aggressor_address") or None,
            expected_version=_expected_version(values), channel=Channel.WEB)
        return "address_needed" if added.residence.waiting else "aggressor_added"
    return await _case_form(request, reference, Action.ADD_PARTY, "aggressor", write)


@router.post("/cases/{reference}/aggressor/address")
async def aggressor_address(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        give_report_address(app.db, app.rt, reference, viewer.actor,
                            values.get("report_address", ""),
                            expected_version=_expected_version(values), channel=Channel.WEB)
        return "address_given"
    return await _case_form(request, reference, Action.GIVE_ADDRESS, "report_address_form", write)


@router.post("/cases/{reference}/transfer/accept")
async def accept_transfer(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        # the engine asks the policy: only the new school, holding the transfer task
        answer(app.db, app.rt, pending_task_of(app.db, reference), TaskAction.ACCEPT,
               viewer.actor, channel=Channel.WEB)
        return "transfer_accepted"
    return await _case_form(request, reference, Action.READ_CASES, "transfer_accept", write)


@router.post("/cases/{reference}/extension")
async def decide_more_time(request: Request, reference: str) -> Response:
    def write(app: App, viewer: Viewer, values: dict[str, str]) -> str:
        choice = values.get("approve", "")
        if choice not in ("true", "false"):
            raise PageError(400, "bad_request")
        try:
            decide_extension(app.db, app.rt, reference, viewer.actor, approve=choice == "true")
        except NotFound as exc:   # decided meanwhile, or the task moved on
            raise Invalid([FormError(translator(viewer.lang)("cases.extension.gone"), None,
                                     said(viewer.lang, exc))]) from None
        return "saved"
    return await _case_form(request, reference, Action.DECIDE_EXTENSION, "extension", write)
