"""The REST API, version 1: ``/api/v1/…`` (``gaita.web.app`` mounts it at ``/api``).

Who asks: ``Authorization: Bearer <token>`` only (tokens from
``gaita token create`` or the admin pages); a session cookie is no credential here,
so there is no CSRF to check.  A token acts as its user: every endpoint asks
the access policy (``Viewer.require``), lists take ``engine.policy.visible_cases``,
and a case is read through ``engine.queries.case_view`` (access-logged,
redacted by field group).  Changes go through the engine's one write path, the
same functions the web pages and the CLI call, with the same arguments.

Errors are RFC 9457 problem documents (``application/problem+json``,
``gaita.web.api_errors``): 401
(``WWW-Authenticate: Bearer``), 403 with the policy's reason, 404, 405, 409 (a
stale ``expected_version``, an answer already given), 410 (a closed task), 422
(the request's shape, or an engine refusal the client can fix: the field, the
failed guard, the valid triggers), 503, and 500 without details.

The OpenAPI document is ``/api/openapi.json``; ``/api/docs`` lists the endpoints
as a plain HTML page rendered from it (no script, so the site's CSP holds);
``gaita.web.api_docs`` makes both, ``create_api`` registers them.
"""

from __future__ import annotations

from functools import partial
from math import ceil
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import HTMLResponse

from engine import answers, cases, filings, notes
from engine.answers import TaskAction
from engine.cases import FireResult
from engine.dates import parse_time_of_day
from engine.definitions import RiskLevel
from engine.errors import CaseNotFound, FieldError, NotFound, msg
from engine.group import decisions, meetings, queue
from engine.policy import (
    Action,
    visible_cases,
)
from engine.queries import case_view, open_tasks
from engine.reports import case_page
from engine.search import MAX_QUERY, search_cases
from engine.store import load_case_row
from engine.tables import OPEN_ESCALATIONS, Channel, EscalationStatus
from gaita.bootstrap import App
from gaita.mail import mail_settings
from gaita.web import api_models as m
from gaita.web.api_docs import docs_page, openapi
from gaita.web.api_errors import BodyLimit, add_handlers, problem_responses
from gaita.web.auth import Viewer, api_user, gaita_of
from gaita.web.filings import case_reports
from notifications.compose import case_url

#: Highest page number a list takes.
MAX_PAGE = 1_000_000
#: The escalation statuses ``GET /v1/escalations?include_decided=true`` adds.
CLOSED_ESCALATIONS = (EscalationStatus.DECIDED, EscalationStatus.WITHDRAWN)

TAGS = [
    {"name": "cases", "description": "Cases: list, open, read, fire transitions, file or "
                                     "waive reports, add notes."},
    {"name": "tasks", "description": "The open tasks of the token user's institution, and "
                                     "the institution's answers on them."},
    {"name": "cooperation group", "description": "The cooperation group's queue, meetings "
                                                 "and decisions."},
]
DESCRIPTION = """\
Case routing for Latvian municipalities.  Authenticate every request with
`Authorization: Bearer <token>` (an API token an administrator created for a
user); the token acts as that user and reaches exactly the cases and actions
the user may.  Errors are RFC 9457 problem documents
(`application/problem+json`).  Instants are UTC (ISO 8601), days ISO dates.
Changing a case takes the `version` last read as `expected_version`: a case
changed in between is refused with 409.
"""

# --- who asks --------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, scheme_name="token",
                     description="An API token; it acts as the user it was created for.")


def token_user(request: Request,
               _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Viewer:
    """The token's user (401 otherwise: a session cookie is no credential here)."""
    return api_user(request)


User = Annotated[Viewer, Depends(token_user)]
ReferencePath = Annotated[str, Path(pattern=m.REFERENCE_PATTERN,
                                    examples=["KAV-2026-00004"])]
IdPath = Annotated[int, Path(ge=1, le=m.MAX_ID)]
ReportPath = Annotated[str, Path(pattern=m.CODE_PATTERN, examples=["state_police"],
                                 description="A report the case's current state declares.")]


def _code_query(description: str, alias: str | None = None) -> Any:
    return Query(alias=alias, pattern=m.CODE_PATTERN, description=description)


def _url(request: Request, path: str) -> str:
    """A path of this API as the client addresses it (``/api`` + ``path``)."""
    return str(request.scope.get("root_path", "")).rstrip("/") + path


def _page_links(request: Request, page: int, per_page: int, total: int) -> str:
    """RFC 8288 ``Link``: first, prev, next and last pages (relative references)."""
    last = max(1, ceil(total / per_page))
    pages = {"first": 1}
    if page > 1:
        pages["prev"] = min(page - 1, last)
    if page < last:
        pages["next"] = page + 1
    pages["last"] = last

    def link(n: int) -> str:
        url = request.url.include_query_params(page=n, per_page=per_page)
        return f"{url.path}?{url.query}"
    return ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in pages.items())


def _result(app: App, result: FireResult) -> m.TransitionResult:
    task = result.task
    left = (app.rt.calendar.working_days_left(app.rt.clock.now(), task.due_at)
            if task and task.due_at else None)
    return m.TransitionResult(
        reference=result.reference, trigger=result.trigger, from_state=result.from_state,
        state=result.to_state, version=result.version, outcome=result.outcome,
        task=None if task is None else m.NextTask(id=task.id, state=task.state, owner=task.assignee,
                                                 due_at=task.due_at, working_days_left=left),
        warnings=[str(w) for w in result.warnings], late_days=result.late_days)


def _texts(text: Any) -> m.Texts:
    return m.Texts(lv=text.lv, en=text.en)


# --- cases -----------------------------------------------------------------------------

router = APIRouter(prefix="/v1")


@router.get("/cases", tags=["cases"], summary="List cases", responses=problem_responses(403))
def list_cases(
    request: Request, response: Response, viewer: User,
    case_type: Annotated[str | None, _code_query("Only this case type.", alias="type")] = None,
    state: Annotated[str | None, _code_query("Only cases in this state.")] = None,
    institution: Annotated[str | None, _code_query("Only cases this institution owns now.")] = None,
    school: Annotated[str | None, _code_query("Only this school's cases.")] = None,
    overdue: Annotated[bool, Query(description="Only overdue cases (never a paused one).")] = False,
    risk: Annotated[RiskLevel | None, Query(description="Only this risk level.")] = None,
    include_closed: Annotated[bool, Query(description="Closed cases too.")] = False,
    sort: Annotated[m.Sort, Query(description="A sort key; `-key` sorts descending.")] = "due",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="The page, from 1.")] = 1,
    per_page: Annotated[int, Query(ge=1, le=m.MAX_PER_PAGE,
                                   description="Cases per page (at most 200).")] = 50,
) -> m.CasePage:
    """The cases the token's user reaches (the access policy), one page at a time;
    the `Link` header has the first, previous, next and last pages.  No child data."""
    app = gaita_of(request)
    viewer.require(app, Action.READ_CASES)
    rows, total = case_page(
        app.db, app.rt, where=visible_cases(app.rt.registry.roles, viewer.subject),
        case_type=case_type, state=state, institution=institution, school=school,
        overdue=overdue, risk=risk, include_closed=include_closed, sort=sort.lstrip("-"),
        descending=sort.startswith("-"), offset=(page - 1) * per_page, limit=per_page)
    response.headers["Link"] = _page_links(request, page, per_page, total)
    return m.CasePage(items=[m.CaseRow.model_validate(r) for r in rows], page=page,
                      per_page=per_page, total=total)


@router.post("/cases", tags=["cases"], summary="Open a case", status_code=201,
             responses=problem_responses(403, 413))
def open_case(request: Request, response: Response, viewer: User,
              body: m.OpenCase) -> m.TransitionResult:
    """Open a case (`engine.cases.open_case`); `Location` is the new case."""
    app = gaita_of(request)
    app.rt.registry.latest(body.case_type)   # an unknown type: 422 listing the known ones
    try:
        result = cases.open_case(
            app.db, app.rt, body.case_type, viewer.actor, child_name=body.child_name,
            child_code=body.child_code, school=body.school, fields=body.fields,
            risk_level=body.risk_level, incident_at=body.incident_at,
            warn_duplicate=not body.anyway)
    except NotFound as exc:   # the school the body names
        raise FieldError("school", exc.message) from None
    response.headers["Location"] = _url(request, f"/v1/cases/{result.reference}")
    return _result(app, result)


@router.get("/search", tags=["cases"], summary="Search cases", responses=problem_responses(403))
def search(request: Request, viewer: User,
           q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description=(
               "A case reference (exact or its beginning), the child's name (diacritics "
               "optional, the beginnings of its words) or the child's whole personal code."))],
           ) -> m.SearchResults:
    """The cases the query finds among those the token's user reaches (the access policy),
    newest first, at most 50 (`engine.search`).  Names and codes are searched only for a
    user who sees the child's identity; each result with a name is logged as a read."""
    app = gaita_of(request)
    found = search_cases(app.db, app.rt, viewer.actor, q, channel=Channel.API)
    return m.SearchResults(items=[m.SearchRow.model_validate(r) for r in found.rows],
                           more=found.more, names_searched=found.identity)


@router.get("/cases/{reference}", tags=["cases"], summary="Read a case",
            responses=problem_responses(403, 404))
def read_case(request: Request, viewer: User, reference: ReferencePath) -> m.CaseView:
    """The case as the token's user may see it (`engine.queries.case_view`): only the
    field groups the policy grants; `child` with the identity group only.  The read
    is written to the case's access log (channel `api`)."""
    app = gaita_of(request)
    view = case_view(app.db, app.rt, reference, viewer.actor, channel=Channel.API)
    wf = app.rt.registry.get(view["case_type"], view["definition_version"])
    return m.CaseView.model_validate({**view, "title": _texts(wf.title),
                                      "state_title": _texts(wf.state(view["state"]).title),
                                      "reports": _reports(app, viewer, reference)})


def _reports(app: App, viewer: Viewer, reference: str) -> list[m.ReportView]:
    """The reports of the case's state: filed (the recipient's task and answer), waived
    or missing; filed and answer fields only in the field groups the reader sees."""
    out = []
    for r in case_reports(app.db, app.rt, reference, viewer.subject).reports:
        task = r.task
        out.append(m.ReportView(
            code=r.spec.code, title=_texts(r.spec.title), to=r.spec.to,
            institution=r.institution, required=r.required,
            status=r.status,
            filed_at=r.filed_at, waived_reason=r.waived, fields=r.filed,
            task=None if task is None else m.ReportTask(
                id=task["id"], institution=r.institution, status=task["status"],
                due_at=task["due_at"], acknowledged_at=task["acknowledged_at"],
                declined_at=task["declined_at"], reported_done_at=task["reported_done_at"],
                answer=r.answer)))
    return out


@router.post("/cases/{reference}/transitions", tags=["cases"], summary="Fire a transition",
             responses=problem_responses(403, 404, 409, 413))
def fire_transition(request: Request, viewer: User, reference: ReferencePath,
                    body: m.FireTransition) -> m.TransitionResult:
    """Fire `trigger` with its fields (`engine.cases.fire`, the one write path): 422
    names the field, the failed guard, or the triggers valid now; 409 when the case's
    version is no longer `expected_version`."""
    app = gaita_of(request)
    result = cases.fire(app.db, app.rt, reference, body.trigger, viewer.actor, body.fields,
                        expected_version=body.expected_version)
    return _result(app, result)


@router.post("/cases/{reference}/reports/{code}", tags=["cases"], summary="File a report",
             status_code=201, responses=problem_responses(403, 404, 409, 413))
def file_report(request: Request, viewer: User, reference: ReferencePath, code: ReportPath,
                body: m.FileReport) -> m.FiledReport:
    """File a report the case's current state declares, with its fields
    (`engine.filings.file_report`): the recipient institution gets a task with its own
    deadline, email and escalation; the case's state and owner stay.  404 names the
    reports the state declares; 422 a field, or a report already filed."""
    app = gaita_of(request)
    filed = filings.file_report(app.db, app.rt, reference, code, viewer.actor, body.fields,
                                expected_version=body.expected_version)
    task = filed.task
    left = (app.rt.calendar.working_days_left(app.rt.clock.now(), task.due_at)
            if task.due_at else None)
    return m.FiledReport(reference=filed.reference, report=filed.report, version=filed.version,
                         task=m.NextTask(id=task.id, state=task.state, owner=task.assignee,
                                         due_at=task.due_at, working_days_left=left))


@router.post("/cases/{reference}/reports/{code}/waiver", tags=["cases"], status_code=201,
             summary="Record that a report is not made",
             responses=problem_responses(403, 404, 409, 413))
def waive_report(request: Request, viewer: User, reference: ReferencePath, code: ReportPath,
                 body: m.ReportWaiver) -> m.WaivedReport:
    """Record, with its reason, that a declared report is not made
    (`engine.filings.waive_report`): a required report waived lets the case move on.
    422 without a reason (`report.waive_reason`), or for a report already filed or waived."""
    app = gaita_of(request)
    event_id = filings.waive_report(app.db, app.rt, reference, code, viewer.actor, body.reason,
                                    expected_version=body.expected_version)
    with app.db.connect() as conn:
        version = load_case_row(conn, reference)["version"]
    return m.WaivedReport(reference=reference, report=code, event_id=event_id, version=version)


@router.post("/cases/{reference}/notes", tags=["cases"], summary="Add a note", status_code=201,
             responses=problem_responses(403, 404, 409, 413))
def add_note(request: Request, viewer: User, reference: ReferencePath,
             body: m.NewNote) -> m.NoteResult:
    """Add a note in the `notes` or `support_plan` field group (`engine.notes.add_note`)."""
    app = gaita_of(request)
    added = notes.add_note(app.db, app.rt, reference, viewer.actor, body.text, group=body.group,
                           expected_version=body.expected_version)
    return m.NoteResult(reference=added.reference, event_id=added.event_id, version=added.version)


# --- tasks -----------------------------------------------------------------------------


@router.get("/tasks", tags=["tasks"], summary="The institution's open tasks",
            responses=problem_responses(403))
def list_tasks(request: Request, response: Response, viewer: User,
               page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="The page, from 1.")] = 1,
               per_page: Annotated[int, Query(ge=1, le=m.MAX_PER_PAGE,
                                              description="Tasks per page (at most 200).")] = 50,
               ) -> m.TaskPage:
    """The open tasks of the token user's institution, soonest due first: each case's
    own step and the actions the cooperation group agreed.  Paginated like the cases."""
    app = gaita_of(request)
    viewer.require(app, Action.READ_CASES)
    rows, total = open_tasks(app.db, app.rt, viewer.subject, offset=(page - 1) * per_page,
                             limit=per_page)
    response.headers["Link"] = _page_links(request, page, per_page, total)
    return m.TaskPage(items=[m.TaskRow.model_validate(r) for r in rows], page=page,
                      per_page=per_page, total=total)


@router.post("/tasks/{task_id}/answers", tags=["tasks"], summary="Answer a task",
             responses=problem_responses(403, 404, 409, 410, 413))
def answer_task(request: Request, viewer: User, task_id: IdPath,
                body: m.TaskAnswer) -> m.AnswerResult:
    """The institution's answer (`engine.answers.answer`): acknowledge, accept, decline,
    done (optionally firing `trigger` with `fields`), or more_time (`days`).  409 if
    the answer was already given, 410 if the task is closed."""
    app = gaita_of(request)
    if (body.trigger or body.fields) and body.action is not TaskAction.DONE:
        raise FieldError("trigger", msg("answer.trigger_only_with_done"))
    result = answers.answer(app.db, app.rt, task_id, body.action, viewer.actor, reason=body.reason,
                          days=body.days, trigger=body.trigger, fields=body.fields or None)
    return m.AnswerResult(reference=result.reference, task_id=result.task_id,
                          action=result.action, event_id=result.event_id,
                          transition=_result(app, result.fired) if result.fired else None)


# --- the cooperation group -------------------------------------------------------------


@router.get("/escalations", tags=["cooperation group"], summary="The cooperation group's queue",
            responses=problem_responses(403))
def list_escalations(request: Request, viewer: User,
                     include_decided: Annotated[bool, Query(
                         description="Decided and withdrawn referrals too.")] = False,
                     ) -> m.Queue:
    """The open referrals to the cooperation group, most urgent first: urgent, risk,
    working days overdue, institutions involved, time queued."""
    app = gaita_of(request)
    viewer.require(app, Action.READ_GROUP)
    statuses = OPEN_ESCALATIONS + CLOSED_ESCALATIONS if include_decided else OPEN_ESCALATIONS
    items = queue.escalation_queue(app.db, app.rt, statuses=statuses)
    return m.Queue(items=[m.QueueItem.model_validate(i.as_dict()) for i in items])


@router.post("/cases/{reference}/escalations", tags=["cooperation group"], status_code=201,
             summary="Refer a case to the cooperation group",
             responses=problem_responses(403, 404, 413))
def escalate_case(request: Request, viewer: User, reference: ReferencePath,
                  body: m.NewEscalation) -> m.EscalationResult:
    """Refer the case by hand for a reason configured as manual (`engine.group.queue.escalate`)."""
    app = gaita_of(request)
    escalation = queue.escalate(app.db, app.rt, reference, viewer.actor, body.reason,
                                urgent=body.urgent)
    return m.EscalationResult(escalation=escalation, reference=reference)


@router.get("/meetings", tags=["cooperation group"], summary="List meetings",
            responses=problem_responses(403))
def list_meetings(request: Request, viewer: User) -> m.Meetings:
    """The cooperation group's meetings, by day."""
    app = gaita_of(request)
    viewer.require(app, Action.READ_GROUP)
    rows = meetings.list_meetings(app.db)
    return m.Meetings(items=[m.MeetingRow.model_validate(r) for r in rows])


@router.post("/meetings", tags=["cooperation group"], summary="Plan a meeting", status_code=201,
             responses=problem_responses(403, 413))
def plan_meeting(request: Request, response: Response, viewer: User,
                 body: m.NewMeeting) -> m.MeetingPlan:
    """Plan a meeting on a working day; its agenda comes from the queue and is emailed
    to the group (`engine.group.meetings.plan_meeting`).  `Location` is the meeting."""
    app = gaita_of(request)
    planned = meetings.plan_meeting(app.db, app.rt, viewer.actor, body.day,
                                 extraordinary=body.extraordinary, place=body.place,
                                 at=None if body.time is None else parse_time_of_day(body.time),
                                 picked=body.cases,
                                 case_url=partial(case_url, mail_settings(app).base_url))
    response.headers["Location"] = _url(request, f"/v1/meetings/{planned.meeting_id}")
    return m.MeetingPlan.model_validate(planned.as_dict())


@router.get("/meetings/{meeting_id}", tags=["cooperation group"], summary="Read a meeting",
            responses=problem_responses(403, 404))
def read_meeting(request: Request, viewer: User, meeting_id: IdPath) -> m.MeetingView:
    """A meeting, its agenda and decisions (`engine.group.meetings.meeting_view`); each case's
    read is access-logged.  Titles in the user's language (`?lang=en|lv`)."""
    app = gaita_of(request)
    view = meetings.meeting_view(app.db, app.rt, meeting_id, viewer.actor, locale=viewer.lang,
                                 channel=Channel.API)
    return m.MeetingView.model_validate(view)


@router.post("/meetings/{meeting_id}/decisions", tags=["cooperation group"], status_code=201,
             summary="Record a decision", responses=problem_responses(403, 404, 413))
def record_decision(request: Request, response: Response, viewer: User, meeting_id: IdPath,
                    body: m.NewDecision) -> m.DecisionResult:
    """Record the group's decision on a case of the meeting's agenda; each agreed action
    becomes a tracked task of its institution (`engine.group.decisions.decide`)."""
    app = gaita_of(request)
    actions = [decisions.AgreedAction(a.institution, a.working_days, a.text) for a in body.actions]
    try:
        result = decisions.decide(app.db, app.rt, meeting_id, body.reference, viewer.actor,
                              summary=body.summary, actions=actions)
    except CaseNotFound as exc:   # the case the body names (an unknown meeting: 404)
        raise FieldError("reference", exc.message) from None
    response.headers["Location"] = _url(request, f"/v1/meetings/{meeting_id}")
    return m.DecisionResult.model_validate(result.as_dict())


# --- the application -------------------------------------------------------------------


def create_api(app: App) -> FastAPI:
    api = FastAPI(title="Gaita API", version="1", description=DESCRIPTION, openapi_tags=TAGS,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  servers=[{"url": "/api"}], root_path_in_servers=False,
                  generate_unique_id_function=lambda route: route.name)
    api.state.gaita = app
    api.include_router(router)
    api.add_api_route("/docs", partial(docs_page, api), methods=["GET"], include_in_schema=False,
                      response_class=HTMLResponse)
    add_handlers(api, router)
    api.add_middleware(BodyLimit)
    api.openapi = partial(openapi, api)  # type: ignore[method-assign]  # FastAPI's own hook
    return api
