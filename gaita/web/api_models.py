"""The REST API's request and response bodies (``gaita.web.api``), as pydantic models.

Requests are strict (unknown members are refused, texts and numbers bounded,
no NUL characters: PostgreSQL refuses them in text).  Responses are built from
what the engine functions return; every instant is written in UTC
(``2026-11-30T07:00:00Z``), every day as ``YYYY-MM-DD``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
)

from engine.answers import TaskAction
from engine.dates import Day
from engine.definitions import RiskLevel
from engine.notes import MAX_NOTE, NOTE_GROUPS
from engine.reports import SORT_KEYS
from engine.tables import CaseStatus, MeetingKind, TaskKind
from gaita.web.forms import MAX_TEXT

#: The largest id, version or count a request may name (a 32-bit integer column).
MAX_ID = 2**31 - 1
#: Most working days an agreed action may be given.
MAX_WORKING_DAYS = 250
#: Most cases one page of a list holds.
MAX_PER_PAGE = 200
#: Most fields one request may give.
MAX_FIELDS = 50
#: ``sort`` values of ``GET /v1/cases``: a key, or ``-key`` for descending.
SORTS: tuple[str, ...] = (*SORT_KEYS, *(f"-{k}" for k in SORT_KEYS))
Sort = Literal[SORTS]  # type: ignore[valid-type]  # the engine's sort keys, spelled once there


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


#: An instant, written in UTC.
Utc = Annotated[datetime, AfterValidator(_utc)]
CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
REFERENCE_PATTERN = r"^[A-Za-z0-9-]{1,40}$"
#: A configured name: case type, state, trigger, institution, reason.
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
#: A case reference, e.g. ``KAV-2026-00004``.
Reference = Annotated[str, StringConstraints(pattern=REFERENCE_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
#: A declared field's value (the engine checks it against the field's type).
FieldValue = StrictBool | StrictInt | Text | None
Fields = Annotated[dict[Code, FieldValue], Field(max_length=MAX_FIELDS)]


class Texts(BaseModel):
    """A declared title, in Latvian and English."""

    lv: str
    en: str


# --- errors ----------------------------------------------------------------------------


class InputError(BaseModel):
    """One problem with the request's parameters or body."""

    location: list[str | int] = Field(examples=[["body", "trigger"]])
    message: str = Field(examples=["Field required"])


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``).  Besides the
    standard members, a refusal may name what to fix."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": "about:blank", "title": "Trigger not valid now", "status": 422,
        "detail": "case type 'absences' has no trigger 'fly'; valid now: absence_justified, "
                  "record_unjustified", "code": "trigger.unknown",
        "valid_triggers": ["absence_justified", "record_unjustified"]}]})

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str | None = Field(None, description="The refusal's stable code (the key of its "
                             "message in the errors catalogue, e.g. `guard.failed`), and "
                             "`reason_code` the code of its reason when it has one.")
    reason_code: str | None = Field(None, description="The code of the refusal's reason "
                                    "(e.g. `guard.lessons`, `policy.read_only`).")
    field: str | None = Field(None, description="The request member that is wrong (422).")
    valid_triggers: list[str] | None = Field(
        None, description="The triggers valid in the case's state (422).")
    guard: str | None = Field(None, description="The guard that failed (422).")
    expected_version: int | None = Field(None,
                                         description="The version the request expected (409).")
    current_version: int | None = Field(None, description="The case's version now (409).")
    allowed: list[str] | None = Field(None, description="The values a parameter takes (422).")
    errors: list[InputError] | None = Field(
        None, description="Every problem with the request's parameters or body (422).")


# --- requests --------------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class OpenCase(_Request):
    """A new case (``engine.cases.open_case``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_type": "absences", "child_name": "Jānis Bērziņš", "child_code": "120514-21234",
        "school": "jelgavas-4-vsk", "fields": {"age_group": "basic"}, "risk_level": "medium"}]})

    case_type: Code
    child_name: str = Field(min_length=1, max_length=200)
    child_code: str = Field(min_length=1, max_length=20,
                            description="Personal code (old or new format).")
    school: Code | None = Field(None, description="Institution code of the school.")
    fields: Fields = Field(default_factory=dict, description="The opening's declared fields.")
    risk_level: RiskLevel = "medium"
    incident_at: Utc | None = Field(
        None, description="When it happened (default: now; without an offset: UTC). The first "
        "step's deadline counts from it: a case entered after that deadline opens overdue.")
    anyway: bool = Field(
        False, description="Open it even though the child has an open case of this type "
        "(without it: 409, code `case.duplicate_open`, naming the open cases in `existing`).")


class FireTransition(_Request):
    """Fire a declared transition (``engine.cases.fire``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "trigger": "record_unjustified", "fields": {"parents_reached": False},
        "expected_version": 1}]})

    trigger: Code
    fields: Fields = Field(default_factory=dict, description="The transition's declared fields.")
    expected_version: int | None = Field(
        None, ge=0, le=MAX_ID,
        description="The case's version as read; a changed case is refused with 409.")


class NewNote(_Request):
    """A note on the case (``engine.notes.add_note``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "text": "Vecāki apsola nodrošināt apmeklējumu.", "group": "notes",
        "expected_version": 2}]})

    text: str = Field(min_length=1, max_length=MAX_NOTE)
    group: Literal[NOTE_GROUPS] = "notes"  # type: ignore[valid-type]  # engine.notes' groups
    expected_version: int | None = Field(None, ge=0, le=MAX_ID)


class TaskAnswer(_Request):
    """The institution's answer on its task (``engine.answers.answer``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "acknowledge"},
        {"action": "more_time", "reason": "Gaidām ģimenes ārsta atzinumu", "days": 5},
        {"action": "done", "trigger": "attendance_restored", "fields": {}},
        {"action": "done", "fields": {"taken_up": "proceedings_started",
                                      "file_number": "VP-2026-118"}}]})

    action: TaskAction
    reason: Text | None = Field(
        None, description="Required for decline and more_time; a note for done.")
    days: int | None = Field(None, ge=1, description=(
        "more_time: extra working days, at most the parameter tasks.max_extension_days."))
    trigger: Code | None = Field(None, description="done: fire this transition too.")
    fields: Fields = Field(default_factory=dict, description=(
        "done: the transition's fields; on a report task (no trigger), the report's "
        "declared answer fields."))


class FileReport(_Request):
    """File a report the case's state declares (``engine.filings.file_report``): its
    recipient gets a task."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "fields": {"description": "Skolēnam zilumi uz rokas; stāsta, ka mājās sists",
                   "contact": "Direktore, 63000000"}, "expected_version": 1}]})

    fields: Fields = Field(default_factory=dict, description="The report's declared fields.")
    expected_version: int | None = Field(
        None, ge=0, le=MAX_ID,
        description="The case's version as read; a changed case is refused with 409.")


class ReportWaiver(_Request):
    """Record that a declared report is not made, and why (``engine.filings.waive_report``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "reason": "Vardarbība starp skolēniem; ģimenē apdraudējuma nav", "expected_version": 1}]})

    reason: Text = Field(description="Why the report is not made (required: a blank reason "
                         "is refused with 422, code `report.waive_reason`).")
    expected_version: int | None = Field(None, ge=0, le=MAX_ID)


class NewEscalation(_Request):
    """Refer a case to the cooperation group by hand (``engine.group.queue.escalate``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"reason": "several_institutions", "urgent": False}]})

    reason: Code = Field(description="A reason configured as manual (cooperation_group.yaml).")
    urgent: bool = False


class NewMeeting(_Request):
    """Plan a meeting; its agenda comes from the queue (``engine.group.meetings.plan_meeting``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"day": "03.12.2026", "time": "14:00", "extraordinary": False, "place": "Lielā iela 11",
         "cases": ["KAV-2026-00042"]}]})

    day: Day = Field(description="DD.MM.YYYY or YYYY-MM-DD.")
    time: str | None = Field(None, pattern=r"^[0-9]{1,2}[:.][0-9]{2}$",
                             description="The local time of day it starts, HH:MM.")
    extraordinary: bool = False
    place: str = Field("", max_length=200)
    cases: list[str] | None = Field(
        None, max_length=500, description="The references of the queued cases the chair puts "
        "on the agenda (the rest stay queued); absent: every waiting case.")


class AgreedAction(_Request):
    """One institution's agreed action: a tracked task due in ``working_days``."""

    institution: Code
    working_days: int = Field(ge=1, le=MAX_WORKING_DAYS)
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class NewDecision(_Request):
    """The group's decision on a case of the meeting's agenda
    (``engine.group.decisions.decide``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "reference": "KAV-2026-00004", "summary": "Ģimenei nepieciešams atbalsts",
        "actions": [{"institution": "jslp", "working_days": 10,
                     "text": "Sagatavot ģimenes atbalsta plānu"}]}]})

    reference: Reference
    summary: str = Field(min_length=1, max_length=MAX_TEXT)
    actions: list[AgreedAction] = Field(default_factory=list, max_length=MAX_FIELDS)


# --- responses -------------------------------------------------------------------------


class CaseRow(BaseModel):
    """One case of the list: references, states and due dates, never the child."""

    reference: str = Field(examples=["KAV-2026-00004"])
    case_type: str
    state: str
    status: CaseStatus
    owner_institution: str | None = Field(description="The institution holding the open task.")
    school_institution: str | None
    risk_level: str
    opened_at: Utc
    due_at: Utc | None
    working_days_left: int | None
    overdue: bool
    late_days: int | None = Field(description="Entered this many days after its first "
                                  "deadline had passed (reported late); null: in time.")
    paused: bool
    version: int


class SearchRow(BaseModel):
    """One case a search found (``engine.search``); ``child_name`` only for a user who
    sees the child's identity (the read is logged)."""

    reference: str = Field(examples=["KAV-2026-00004"])
    case_type: str
    state: str
    status: CaseStatus
    owner_institution: str | None = Field(description="The institution holding the open task.")
    opened_at: Utc
    closed_at: Utc | None
    child_name: str | None


class SearchResults(BaseModel):
    """The cases a search found, newest first."""

    items: list[SearchRow]
    more: bool = Field(description="More cases matched than are listed: narrow the search.")
    names_searched: bool = Field(description="Names and personal codes were searched (the "
                                 "user sees the child's identity); else references only.")


class CasePage(BaseModel):
    """One page of the case list (the ``Link`` header has the next and previous pages)."""

    items: list[CaseRow]
    page: int
    per_page: int
    total: int = Field(description="Cases matching the filters, on every page.")


class NextTask(BaseModel):
    """The task the case's new state gives its owner."""

    id: int | None
    state: str
    owner: str | None
    due_at: Utc | None
    working_days_left: int | None


class TransitionResult(BaseModel):
    """What an opening or a transition did."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "reference": "KAV-2026-00004", "trigger": "record_unjustified",
        "from_state": "parent_contact", "state": "in_school_support", "version": 2,
        "outcome": None, "task": {"id": 2, "state": "in_school_support", "owner": "jelgavas-4-vsk",
                                  "due_at": "2026-12-14T21:59:00Z", "working_days_left": 10},
        "warnings": []}]})

    reference: str
    trigger: str | None
    from_state: str | None
    state: str
    version: int
    outcome: str | None = Field(description="Set when the case closed.")
    late_days: int | None = Field(None, description="An opening entered this many days after "
                                  "its first deadline had passed: the case opened overdue.")
    task: NextTask | None
    warnings: list[str]


class Pause(BaseModel):
    since: Utc
    reason: str
    reason_title: Texts
    working_days: int
    limit_at: Utc
    over_limit: bool


class TaskAnswers(BaseModel):
    """The institution's answers on the case's open task."""

    id: int
    ack_due_at: Utc | None
    acknowledged_at: Utc | None
    accepted_at: Utc | None
    declined_at: Utc | None
    reported_done_at: Utc | None
    unacknowledged_at: Utc | None
    extension_days: int | None


class Delivery(BaseModel):
    """An email an event queued: queued, sent, failed or acknowledged."""

    id: int
    template: str
    recipient_role: str | None
    recipient_institution: str | None
    status: str
    attempts: int
    last_error: str | None


class Event(BaseModel):
    """One event of the case's hash-chained history (``fields``: as recorded, only the
    field groups the reader sees)."""

    model_config = ConfigDict(populate_by_name=True)

    seq: int
    at: Utc
    actor: str
    kind: str
    trigger: str | None
    from_state: str | None = Field(alias="from")
    to_state: str | None = Field(alias="to")
    fields: dict[str, Any]
    notifications: list[Delivery]


class Child(BaseModel):
    name: str
    personal_code: str


class Access(BaseModel):
    at: Utc
    actor: str
    action: str
    channel: str
    name: str | None = Field(default=None, description="The user's display name.")
    institution: str | None = Field(default=None, description="The user's institution code.")


class ReportTask(BaseModel):
    """The recipient's task of a filed report, and its answer."""

    id: int
    institution: str | None
    status: str = Field(description="open, done, or cancelled (the case closed).")
    due_at: Utc | None
    acknowledged_at: Utc | None
    declined_at: Utc | None
    reported_done_at: Utc | None
    answer: dict[str, Any] = Field(description="The recipient's declared answer fields.")


class ReportView(BaseModel):
    """A report the case's current state declares (``engine.filings``)."""

    code: str
    title: Texts
    to: str = Field(description="The institution role it goes to.")
    institution: str | None = Field(description="The recipient institution.")
    required: bool = Field(description="This case must file it (or waive it with a reason) "
                           "before a transition that requires the reports.")
    status: Literal["missing", "filed", "waived"]
    filed_at: Utc | None
    waived_reason: str | None
    fields: dict[str, Any] = Field(description="What the reporter wrote.")
    task: ReportTask | None


class FiledReport(BaseModel):
    reference: str
    report: str
    task: NextTask = Field(description="The recipient's task.")
    version: int


class WaivedReport(BaseModel):
    reference: str
    report: str
    event_id: int
    version: int


class CaseView(BaseModel):
    """One case as the reader may see it (``engine.queries.case_view``): the field
    groups the access policy grants; ``child`` only with the identity group,
    ``access_log`` only with the access-log group.  Reading it is access-logged."""

    reference: str
    case_type: str
    definition_version: int
    title: Texts
    state: str
    state_title: Texts
    status: CaseStatus
    outcome: str | None
    version: int = Field(description="Send it back as expected_version when changing the case.")
    risk_level: str
    owner: str | None
    school: str | None
    opened_at: Utc
    incident_at: Utc | None = Field(description="When it happened: the first deadline "
                                    "counted from it.")
    late_days: int | None = Field(description="Entered this many days after its first "
                                  "deadline had passed (reported late); null: in time.")
    due_at: Utc | None
    working_days_left: int | None
    overdue: bool
    paused: Pause | None
    paused_working_days: int
    allowed_triggers: list[str] = Field(description="What the reader may fire now.")
    task: TaskAnswers | None
    data: dict[str, Any]
    chain_ok: bool = Field(description="The event hash chain verifies.")
    escalated: bool
    involved: list[str] = Field(description="Institutions that hold or held a task.")
    child: Child | None = None
    access_log: list[Access] | None = None
    reports: list[ReportView] = Field(default_factory=list, description=(
        "The reports the current state declares, each filed, waived or missing."))
    timeline: list[Event]


class NoteResult(BaseModel):
    reference: str
    event_id: int
    version: int


class TaskRow(BaseModel):
    """An open task of the reader's institution."""

    id: int
    kind: TaskKind = Field(
        description="state: the case's own step; decision: an action the cooperation group "
        "agreed; report: a report made to the institution (answer done with its fields).")
    reference: str
    case_type: str
    state: str
    state_title: Texts
    title: str | None = Field(description="A decision task's agreed action, or a report's title.")
    opened_at: Utc
    due_at: Utc | None
    working_days_left: int | None
    overdue: bool
    paused: bool = Field(description="The case's clock is paused.")
    ack_due_at: Utc | None
    acknowledged_at: Utc | None
    accepted_at: Utc | None
    declined_at: Utc | None
    reported_done_at: Utc | None
    extension_days: int | None


class TaskPage(BaseModel):
    items: list[TaskRow]
    page: int
    per_page: int
    total: int


class AnswerResult(BaseModel):
    reference: str
    task_id: int
    action: TaskAction
    event_id: int | None
    transition: TransitionResult | None = Field(description="Set when done fired a transition.")


class QueueItem(BaseModel):
    """An open referral to the cooperation group, in the queue's order."""

    escalation: int
    reference: str
    case_type: str
    risk_level: str
    urgent: bool
    reasons: list[str]
    status: str
    meeting: int | None
    queued_at: Utc
    days_overdue: int
    institutions: int


class Queue(BaseModel):
    items: list[QueueItem] = Field(description="Most urgent first.")


class EscalationResult(BaseModel):
    escalation: int
    reference: str


class MeetingRow(BaseModel):
    id: int
    day: date
    starts_at: Utc | None = Field(None, description="When it starts (null: no time given).")
    kind: MeetingKind
    place: str
    status: str
    created_at: Utc
    items: int = Field(description="Cases on the agenda.")


class Meetings(BaseModel):
    items: list[MeetingRow]


class MeetingPlan(BaseModel):
    meeting: int
    day: date
    starts_at: Utc | None = None
    kind: MeetingKind
    place: str
    items: list[QueueItem] = Field(description="The agenda.")
    warnings: list[str]


class ActionView(BaseModel):
    task: int
    institution: str
    institution_name: str
    title: str
    due_at: Utc
    done: bool


class DecisionView(BaseModel):
    summary: str
    decided_at: Utc
    decided_by: str
    actions: list[ActionView]


class AgendaItem(BaseModel):
    reference: str
    case_type: str
    type_title: str
    risk_level: str
    urgent: bool
    reasons: list[str]
    reason_titles: list[str]
    status: str
    owner: str | None
    decision: DecisionView | None


class MeetingView(BaseModel):
    """A meeting, its agenda and decisions: references and institutions, never the child."""

    id: int
    day: date
    starts_at: Utc | None = None
    time: str | None = Field(None, description="The local time of day, HH:MM.")
    kind: MeetingKind
    place: str
    status: str
    items: list[AgendaItem]


class DecisionTask(BaseModel):
    task: int
    institution: str
    title: str
    due_at: Utc


class DecisionResult(BaseModel):
    decision: int
    meeting: int
    reference: str
    tasks: list[DecisionTask]
