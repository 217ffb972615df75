"""Database tables (SQLModel).  Schema changes go through Alembic (``migrations/``).

Invariants kept by the schema itself:
- ``case_event`` is append-only and ordered by ``(case_id, seq)`` (unique);
- at most one open state ``task`` per case (partial unique index on open tasks of
  kind ``state``); a cooperation-group decision adds ``decision`` tasks beside it;
- the scheduler claims the tasks it must look at through the partial index
  ``ix_task_next_check`` (``next_check_at`` of open tasks), and each of its effects
  is a ``task_effect`` row, unique per (task, effect): at most once, whatever runs.
Times are stored as UTC (naive in SQLite, ``timestamptz`` in PostgreSQL) and
always come back timezone-aware.
The web app's account tables (sessions, API tokens, login attempts, the admin log,
run-time settings) are ``gaita.accounts.tables``; ``user`` is here, as the engine reads it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# --- the values some columns take: declared once, here, beside their columns ----------


class CaseStatus(StrEnum):
    """``case.status``."""

    OPEN = "open"
    CLOSED = "closed"


class TaskKind(StrEnum):
    """``task.kind``: the task a state gives its owner (one open per case); beside it, an
    action the cooperation group agreed (``engine.group.decisions``), a report the owner
    made to another institution (``engine.filings``) or a new school's taking the case
    over (``engine.transfer``)."""

    STATE = "state"
    DECISION = "decision"
    REPORT = "report"
    TRANSFER = "transfer"   # the new school takes the case over (engine.transfer)


class PartyRole(StrEnum):
    """``case_party.role``: another child a case is about, beside its own child
    (``engine.parties``)."""

    AGGRESSOR = "aggressor"   # the pupil who used violence (MK 474 p. 11-12)


class TaskStatus(StrEnum):
    """``task.status``."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"   # the case closed before the task was done


class EscalationStatus(StrEnum):
    """``escalation.status``: waiting in the queue, on a meeting's agenda, decided."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


#: An escalation still waiting for the cooperation group.
OPEN_ESCALATIONS = (EscalationStatus.QUEUED, EscalationStatus.SCHEDULED)


class MeetingKind(StrEnum):
    ORDINARY = "ordinary"
    EXTRAORDINARY = "extraordinary"


class MeetingStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"


class OutboxStatus(StrEnum):
    """``outbox.status``: waiting (or being tried), delivered, or a dead letter."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class AccessAction(StrEnum):
    """``access_log.action``."""

    READ = "read"
    WRITE = "write"
    EXPORT = "export"
    DENIED = "denied"
    AUDIT = "audit"   # an auditor read the case's access log (the audit page, its CSV)


class Channel(StrEnum):
    """``access_log.channel``: the way a case was reached."""

    CLI = "cli"
    WEB = "web"
    API = "api"
    LINK = "link"


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model, for the Core statements the hot paths issue."""
    found = model.__table__   # type: ignore[attr-defined]  # SQLModel sets it on the class
    assert isinstance(found, sa.Table)
    return found


# --- columns ---------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, **kw))


def _json(nullable: bool = False) -> Any:
    return Field(default_factory=dict, sa_column=sa.Column(sa.JSON(), nullable=nullable))


class Institution(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=64)
    name_lv: str
    name_en: str
    short: str = ""
    roles: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON(), nullable=False))
    email: str | None = None
    head_email: str | None = None
    fallback_email: str | None = None   # after a permanent failure (notifications.delivery)
    locale: str = Field(default="lv", max_length=8)
    active: bool = True


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    display_name: str
    role: str = Field(max_length=32)
    institution_code: str | None = Field(default=None, foreign_key="institution.code")
    email: str | None = None
    phone: str | None = Field(default=None, max_length=32)   # optional; shown as a contact
    locale: str = "lv"
    digest: bool = False   # opted in to a copy of the institution's digest
    active: bool = True
    password_hash: str | None = None   # Argon2 (pwdlib); None: cannot log in yet
    totp_secret: str | None = Field(default=None, max_length=64)   # base32; None: no second factor


class Child(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    personal_code: str = Field(max_length=12)
    code_format: str = Field(max_length=8)
    code_hash: str = Field(index=True, unique=True, max_length=64,
                           description="keyed hash of the personal code, for lookup")
    birth_date: date | None = None


#: A word of a child's name as searched: bytewise order on PostgreSQL too (collation "C"),
#: so a prefix is a range of the index whatever the database's locale.
_WORD = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


class ChildNameWord(SQLModel, table=True):
    """One word of a child's name, lower-case with diacritics folded ("Bērziņš" ->
    ``berzins``; ``engine.children.name_words``), for the search (``engine.search``):
    a name is found by any word's prefix through the primary key's index.  Written with
    the child; the personal code is never here (it is found by ``child.code_hash``)."""
    __tablename__ = "child_name_word"
    word: str = Field(sa_column=sa.Column(_WORD, primary_key=True))
    child_id: int = Field(foreign_key="child.id", primary_key=True)


class ReferenceCounter(SQLModel, table=True):
    __tablename__ = "reference_counter"
    prefix: str = Field(primary_key=True, max_length=8)
    year: int = Field(primary_key=True)
    last: int = 0


class Case(SQLModel, table=True):
    # the work queues (engine.queues): long pauses
    __table_args__ = (
        sa.Index("ix_case_paused", "paused_at", sqlite_where=sa.text("paused_at IS NOT NULL"),
                 postgresql_where=sa.text("paused_at IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, max_length=32)
    case_type: str = Field(index=True, max_length=32)
    definition_version: int
    state: str = Field(index=True, max_length=64)
    status: str = Field(default=CaseStatus.OPEN, max_length=16)   # CaseStatus
    outcome: str | None = Field(default=None, max_length=64)
    owner_institution: str | None = Field(default=None, foreign_key="institution.code")
    school_institution: str | None = Field(default=None, foreign_key="institution.code")
    child_id: int = Field(foreign_key="child.id", index=True)
    risk_level: str = Field(default="medium", max_length=8)
    data: dict[str, Any] = _json()
    version: int = 1
    event_seq: int = 0
    last_event_hash: str = ""
    opened_at: datetime = _ts()
    updated_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)
    # When what the case is about happened (open_case(incident_at=)): the opening state's
    # deadline counts from it.  ``late_days``: the case was entered that many calendar days
    # after that deadline had passed (None: in time).
    incident_at: datetime | None = _ts(nullable=True)
    late_days: int | None = None
    # A paused clock (engine.pause): no escalation; due dates move on resume.
    paused_at: datetime | None = _ts(nullable=True)
    pause_reason: str | None = Field(default=None, max_length=64)
    paused_working_days: int = 0   # over the case's life, for time-in-state figures


class CaseParty(SQLModel, table=True):
    """Another child on a case (``engine.parties``), e.g. the pupil who used violence in
    the victim's case.  Identity lives in ``child`` (same protection as the case's own
    child); here the case, the party's role, its school (an institution code, or a free
    text for a school outside the municipality) and its declared municipality (a code
    of ``municipalities.yaml``, or a name given for one outside it), and the receiving
    address a coordinator gave where the directory has none."""
    __tablename__ = "case_party"
    __table_args__ = (sa.UniqueConstraint("case_id", "role", name="uq_case_party_role"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    role: str = Field(max_length=16)   # PartyRole
    school_institution: str | None = Field(default=None, foreign_key="institution.code")
    school_text: str | None = None
    municipality: str = Field(max_length=64)   # municipalities.yaml code
    municipality_name: str | None = None       # a municipality outside the directory
    report_address: str | None = None          # the receiving address a coordinator gave
    added_at: datetime = _ts()
    added_by_event: int = Field(foreign_key="case_event.id")


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq", name="uq_case_event_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    seq: int
    at: datetime = _ts()
    actor: str = Field(max_length=64)
    actor_role: str = Field(max_length=32)
    actor_institution: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)   # engine.events.EventKind
    trigger: str | None = Field(default=None, max_length=64)
    from_state: str | None = Field(default=None, max_length=64)
    to_state: str = Field(max_length=64)
    definition_version: int
    payload: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


#: The task table's partial indexes for the work queues: (name, columns, condition).
QUEUE_INDEXES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("ix_task_open_assignee", ("assignee_institution",), "closed_at IS NULL"),
    ("ix_task_open_kind", ("kind", "case_id"), "closed_at IS NULL"),
    ("ix_task_reported_done", ("reported_done_at",),
     "closed_at IS NULL AND reported_done_at IS NOT NULL"),
    ("ix_task_extension", ("extension_days",),
     "closed_at IS NULL AND extension_days IS NOT NULL"),
    ("ix_task_unacknowledged", ("unacknowledged_at",),
     "closed_at IS NULL AND unacknowledged_at IS NOT NULL AND acknowledged_at IS NULL"),
)


class Task(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_task_open_due", "due_at", sqlite_where=sa.text("closed_at IS NULL"),
                 postgresql_where=sa.text("closed_at IS NULL")),
        sa.Index("uq_task_one_open_per_case", "case_id", unique=True,
                 sqlite_where=sa.text("closed_at IS NULL AND kind = 'state'"),
                 postgresql_where=sa.text("closed_at IS NULL AND kind = 'state'")),
        sa.Index("ix_task_next_check", "next_check_at",
                 sqlite_where=sa.text("closed_at IS NULL"),
                 postgresql_where=sa.text("closed_at IS NULL")),
        # the work queues (engine.queues), each from the few tasks it is about: an
        # institution's open tasks, open reports, steps reported done, pending requests
        # for more time, receipts not acknowledged in time
        *(sa.Index(name, *columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))
          for name, columns, where in QUEUE_INDEXES),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str = Field(default=TaskKind.STATE, max_length=16)   # TaskKind
    state: str = Field(max_length=64)   # the case's state when the task opened
    title: str | None = None            # a decision task's agreed action
    report: str | None = Field(default=None, max_length=64)   # a report task's declared code
    # a report task: what the reporter wrote (``filed``) and the recipient's answer
    details: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON(),
                                                                             nullable=True))
    decision_id: int | None = Field(default=None, foreign_key="decision.id")
    assignee_institution: str | None = Field(default=None, foreign_key="institution.code")
    opened_at: datetime = _ts()
    due_at: datetime | None = _ts(nullable=True)
    remind_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    status: str = Field(default=TaskStatus.OPEN, max_length=16)   # TaskStatus
    opened_by_event: int = Field(foreign_key="case_event.id")
    closed_by_event: int | None = Field(default=None, foreign_key="case_event.id")
    # What the assignee answered (engine.tasks); the reasons are in the events.
    ack_due_at: datetime | None = _ts(nullable=True)
    acknowledged_at: datetime | None = _ts(nullable=True)
    accepted_at: datetime | None = _ts(nullable=True)
    declined_at: datetime | None = _ts(nullable=True)
    reported_done_at: datetime | None = _ts(nullable=True)
    unacknowledged_at: datetime | None = _ts(nullable=True)   # ack_due_at passed, recorded
    extension_days: int | None = None   # a pending request for more time
    # The scheduler (engine.escalation): when it must look at the task next (NULL:
    # nothing pending, or the case's clock is paused) and how far it has got.
    next_check_at: datetime | None = _ts(nullable=True)
    check_token: str | None = Field(default=None, max_length=32)   # a tick's claim
    reminded_at: datetime | None = _ts(nullable=True)
    breached_at: datetime | None = _ts(nullable=True)
    escalation_step: int = 0   # ladder steps taken


class TaskEffect(SQLModel, table=True):
    """Something the scheduler did for a task (``reminder``, ``breach``, ``step:<n>``,
    ``unacknowledged``, ``pause_limit``): unique, so no effect happens twice."""
    __tablename__ = "task_effect"
    __table_args__ = (sa.UniqueConstraint("task_id", "effect", name="uq_task_effect"),)
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id")
    effect: str = Field(max_length=32)
    at: datetime = _ts()
    event_id: int | None = Field(default=None, foreign_key="case_event.id")


class Escalation(SQLModel, table=True):
    """A case in the cooperation group's queue.  The group is not an owner: the
    case keeps its owning institution; the group's decisions add tasks."""
    __table_args__ = (
        sa.Index("uq_escalation_open_per_case", "case_id", unique=True,
                 sqlite_where=sa.text("status IN ('queued', 'scheduled')"),
                 postgresql_where=sa.text("status IN ('queued', 'scheduled')")),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    reasons: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON(), nullable=False))
    urgent: bool = False
    status: str = Field(default=EscalationStatus.QUEUED, max_length=16)   # EscalationStatus
    queued_at: datetime = _ts()
    queued_by: str = Field(max_length=64)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    event_id: int | None = Field(default=None, foreign_key="case_event.id")


class Meeting(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    day: date
    #: When it starts: ``day`` at the time of day the chair gave, local time, stored in
    #: UTC.  None: no time given (meetings planned before times were recorded, or from
    #: the CLI/API without one).
    starts_at: datetime | None = _ts(nullable=True)
    kind: str = Field(default=MeetingKind.ORDINARY, max_length=16)   # MeetingKind
    place: str = ""
    status: str = Field(default=MeetingStatus.PLANNED, max_length=16)   # MeetingStatus
    created_at: datetime = _ts()


class Decision(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("meeting_id", "case_id", name="uq_decision_per_meeting"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    case_id: int = Field(foreign_key="case.id", index=True)
    escalation_id: int | None = Field(default=None, foreign_key="escalation.id")
    summary: str = ""
    decided_at: datetime = _ts()
    decided_by: str = Field(max_length=64)
    event_id: int | None = Field(default=None, foreign_key="case_event.id")


class DigestRun(SQLModel, table=True):
    """The day's digests were queued: once a day, however many schedulers run."""
    __tablename__ = "digest_run"
    day: date = Field(primary_key=True)
    at: datetime = _ts()


class SchedulerRun(SQLModel, table=True):
    """One tick: what it looked at and did (``gaita status``)."""
    __tablename__ = "scheduler_run"
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    examined: int = 0
    effects: dict[str, Any] = _json()
    duration_ms: float = 0.0
    runner: str = Field(default="", max_length=64)   # sweep | serve


class Outbox(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_outbox_queued", "next_attempt_at",
                               sqlite_where=sa.text("status = 'queued'"),
                               postgresql_where=sa.text("status = 'queued'")),
                      # the failed_emails work queue (engine.queues)
                      sa.Index("ix_outbox_failed", "case_id",
                               sqlite_where=sa.text("status = 'failed'"),
                               postgresql_where=sa.text("status = 'failed'")))
    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="case_event.id")
    task_id: int | None = Field(default=None, foreign_key="task.id", index=True)
    template: str = Field(max_length=64)
    recipient_role: str | None = Field(default=None, max_length=32)
    recipient_institution: str | None = Field(default=None, max_length=64)
    recipient_user: str | None = Field(default=None, max_length=64)
    status: str = Field(default=OutboxStatus.QUEUED, max_length=16)   # OutboxStatus
    created_at: datetime = _ts()     # also part of the stable Message-ID
    queued_at: datetime = _ts()      # start of the retry window (reset by `gaita outbox retry`)
    # When the row may next be claimed.  A worker's claim pushes it forward by
    # the lease, so a crashed worker's rows come back when the lease runs out.
    next_attempt_at: datetime = _ts()
    claim_token: str | None = Field(default=None, max_length=32)
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = _ts(nullable=True)
    sent_to: str | None = None       # the address it went to (the fallback's, if used)
    payload: dict[str, Any] = _json()
    # the templates' fingerprint it was sent with (notifications.catalogue.template_version)
    template_version: str | None = Field(default=None, max_length=100)
    # the primary address refused it for good (SMTP 5xx): it goes to the fallback address
    fallback: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # sent inside another row's email (notices coalesced): that row's id (its Message-ID)
    merged_into: int | None = Field(default=None, foreign_key="outbox.id")


class ActionToken(SQLModel, table=True):
    """A used action link.  Links are signed and carry no state of their own;
    this row makes each (email, purpose) link single-use."""
    __tablename__ = "action_token"
    __table_args__ = (sa.UniqueConstraint("outbox_id", "purpose", name="uq_action_token_use"),)
    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id")
    task_id: int = Field(foreign_key="task.id", index=True)
    purpose: str = Field(max_length=16)
    used_at: datetime = _ts()
    event_id: int | None = Field(default=None, foreign_key="case_event.id")


class AccessLog(SQLModel, table=True):
    """Who read a case, when and how (``engine.access_log``): the audit log reads it by
    case, by person and by time, each with its index."""
    __tablename__ = "access_log"
    __table_args__ = (
        sa.Index("ix_access_log_case_at", "case_id", "at"),
        sa.Index("ix_access_log_actor_at", "actor", "at"),
        sa.Index("ix_access_log_at", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    at: datetime = _ts()
    actor: str = Field(max_length=64)
    action: str = Field(max_length=16)   # AccessAction
    channel: str = Field(max_length=16)  # Channel
    detail: str | None = None


class CalendarOverride(SQLModel, table=True):
    __tablename__ = "calendar_override"
    day: date = Field(primary_key=True)
    kind: str = Field(max_length=16)   # holiday | working_day
    note: str = ""
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = _ts()
