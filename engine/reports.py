"""Read side for coordinators: the dashboard's figures and the filtered, sorted case list.

Both take ``where``, an extra SQL condition on ``case``: the access policy's
``engine.policy.visible_cases``, so a user's figures count only the cases it reaches.
Neither writes to the access log: like ``case list``, they show references,
states and due dates, never a child's identity or a case's data.

Counting rules (the same as ``case show`` and ``case list --overdue``):

- a case's deadline is the ``due_at`` of its open *state* task (``TaskKind.STATE``);
  overdue means ``due_at < now``; due today means by the end of today, Riga
  time, and not overdue; due this week means after today and by the end of the
  current ISO week (Sunday), Riga time;
- a paused clock stands still: a paused case is never overdue nor due today or
  this week; its working days left are as at the pause, and its time in state
  stops at the pause;
- a pause has run too long when ``engine.pause.pause_limit_at`` has passed (what
  ``case show`` flags; the scheduler's ``pause_too_long`` event follows on its
  next tick).

Aggregates are computed by the database (``GROUP BY``, ``SUM(CASE …)``); working
days, which the database cannot count, are counted here per group of cases that
entered their state on the same day (the UTC date, or the UTC hour near midnight:
Riga's offsets are whole hours, so the hour fixes the local day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa

from engine.calendar import WorkingDayCalendar
from engine.definitions import RISK_LEVELS
from engine.errors import InvalidQuery, UnknownState, msg
from engine.queues import (
    OPEN_TASK,
    WAITING_FOR_COORDINATOR,
    WITH_TASK,
    Moments,
    Queue,
    condition,
    midnight,
)
from engine.runtime import Runtime
from engine.store import CASE, CHILD, OUTBOX
from engine.tables import CaseStatus, OutboxStatus

#: ``case`` outer-joined with its open state task (``engine.queues.OPEN_TASK``).
_WITH_TASK = WITH_TASK
_RISK_ORDER = sa.case({level: i for i, level in enumerate(RISK_LEVELS)}, value=CASE.c.risk_level,
                      else_=len(RISK_LEVELS))

_QUEUES = frozenset(Queue)
#: Queues whose cases all have a deadline.
DATED_QUEUES = frozenset({Queue.OVERDUE, Queue.DUE_TODAY, Queue.DUE_THIS_WEEK})

#: ``case_page``'s sort keys; every order ends with the case id, so pages are stable.
SORT_KEYS: dict[str, sa.ColumnElement[Any]] = {
    "due": OPEN_TASK.c.due_at, "opened": CASE.c.opened_at, "reference": CASE.c.reference,
    "state": CASE.c.state, "type": CASE.c.case_type, "risk": _RISK_ORDER,
}

#: The columns of a ``case_page`` row, in order.
PAGE_COLUMNS = ("reference", "case_type", "state", "status", "owner_institution",
                "school_institution", "risk_level", "opened_at", "due_at", "working_days_left",
                "overdue", "late_days", "paused", "version", "waiting_for_coordinator")


def dashboard(db: sa.Engine, rt: Runtime, where: sa.ColumnElement[bool] | None = None, *,
              weeks: int = 12, institution: str | None = None) -> dict[str, Any]:
    """The coordinator's figures over the open cases ``where`` selects (default: all).

    Returns ``as_of``; the counts ``open``, ``paused`` and one per work queue
    (``engine.queues.Queue``: ``overdue``, ``due_today``, ``due_this_week``,
    ``unacknowledged``, ``paused_too_long``, ``failed_emails`` (cases with an
    undelivered email), ``my_tasks`` (of ``institution``), ``reported_done``,
    ``extension_requests``, ``information_requests``), each counted with the very
    condition the case list's ``queue`` filter selects with; ``by_type`` and
    ``by_owner`` (``{"open": n, "overdue": n}`` per case type, every type listed,
    and per owning institution, most open cases first); ``open_over_time``,
    ``weeks`` pairs ``(day, open cases)`` at the end of each ISO week, the
    current week's as of now; and ``time_in_state``, per case type and state the ``cases``,
    ``avg_working_days`` and ``max_working_days`` since the case entered its
    state (when its open state task opened: a migration's rename keeps it).
    Finished pauses in the current state are not left out of the time in state:
    ``case.paused_working_days`` sums the pauses of the case's whole life, not of
    its current state.  Five queries.
    """
    if weeks < 1:
        raise InvalidQuery("weeks", weeks, [msg("query.allowed.weeks")])
    now = rt.clock.now()
    cal = rt.calendar
    today = cal.local_date(now)
    at = Moments.of(rt, now)
    scope = _scope(where, CASE.c.status == CaseStatus.OPEN)
    # the per-group figures: the queues on the open state task alone
    grouped = (Queue.OVERDUE, Queue.DUE_TODAY, Queue.DUE_THIS_WEEK, Queue.UNACKNOWLEDGED,
               Queue.PAUSED_TOO_LONG, Queue.REPORTED_DONE, Queue.EXTENSION_REQUESTS)
    counts = (sa.select(
        CASE.c.case_type, CASE.c.owner_institution, sa.func.count().label("open"),
        _n(CASE.c.paused_at.is_not(None)).label("paused"),
        *(_n(condition(q, at, institution)).label(q.value) for q in grouped),
    ).select_from(_WITH_TASK).where(*scope)
        # owner first: grouping by type first, SQLite walks ix_case_case_type (twice as slow)
        .group_by(CASE.c.owner_institution, CASE.c.case_type))
    # the queues that look at other rows (emails, other tasks): one count each
    others = [q for q in Queue if q not in grouped]
    each = sa.select(*(sa.select(sa.func.count()).select_from(_WITH_TASK)
                       .where(*scope, condition(q, at, institution)).scalar_subquery()
                       .label(q.value) for q in others))
    entered = sa.func.coalesce(OPEN_TASK.c.opened_at, CASE.c.opened_at)
    with db.connect() as conn:
        day = _day_key_of(conn.dialect.name, cal, today.year)
        in_state = (sa.select(CASE.c.case_type, CASE.c.state, day(entered).label("entered"),
                              day(CASE.c.paused_at).label("paused"), sa.func.count().label("n"))
                    .select_from(_WITH_TASK).where(*scope)
                    # by position (PostgreSQL would not match the bound parameters twice),
                    # days first (by type first, SQLite walks an index: twice as slow)
                    .group_by(sa.text("3, 4, 1, 2")))
        groups = conn.execute(counts).mappings().all()
        other_counts = conn.execute(each).mappings().one()
        over_time = _open_over_time(conn, cal, now, today, weeks, where)
        states = conn.execute(in_state).all()

    totals = {key: sum(g[key] or 0 for g in groups)
              for key in ("open", "paused", *(q.value for q in grouped))}
    by_type: dict[str, dict[str, int]] = {t: {"open": 0, "overdue": 0}
                                          for t in rt.registry.case_types}
    by_owner: dict[str | None, dict[str, int]] = {}
    for g in groups:
        for slot in (by_type.setdefault(g["case_type"], {"open": 0, "overdue": 0}),
                     by_owner.setdefault(g["owner_institution"], {"open": 0, "overdue": 0})):
            slot["open"] += g["open"]
            slot["overdue"] += g["overdue"] or 0
    owners = sorted(by_owner.items(), key=lambda kv: (-kv[1]["open"], kv[0] or ""))
    return {"as_of": now, **totals, **{q.value: other_counts[q.value] or 0 for q in others},
            "by_type": by_type,
            "by_owner": dict(owners), "open_over_time": over_time,
            "time_in_state": _time_in_state(cal, today, states)}


def case_page(
    db: sa.Engine, rt: Runtime, *, where: sa.ColumnElement[bool] | None = None,
    case_type: str | None = None, state: str | None = None, institution: str | None = None,
    school: str | None = None, overdue: bool = False, risk: str | None = None,
    include_closed: bool = False, queue: Queue | None = None, mine: str | None = None,
    child: bool = False, sort: str = "due", descending: bool = False,
    offset: int = 0, limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the case list and the number of cases matching the filters.

    Filters: ``where`` (the access policy), ``case_type``, ``state``,
    ``institution`` (the owner, i.e. the open task's holder), ``school``,
    ``overdue`` (the ``overdue`` queue), ``risk``; closed cases only with
    ``include_closed``; ``queue``, a work queue (``engine.queues``: open cases only,
    the dashboard's condition; ``mine``: the viewer's institution, for ``my_tasks``).
    ``child``: rows add the child's ``child_name`` (for a reader who sees the child's
    identity).  ``sort`` is a key of ``SORT_KEYS`` (cases with no
    deadline come last when sorting by ``due``, either way); ties go by case id.
    Rows have ``PAGE_COLUMNS``.  Two queries: the count and the page (by deadline, a
    page past the cases with one reads those without one too).
    """
    _check_names(rt, case_type, state)
    if sort not in SORT_KEYS:
        raise InvalidQuery("sort", sort, list(SORT_KEYS))
    if risk is not None and risk not in RISK_LEVELS:
        raise InvalidQuery("risk", risk, RISK_LEVELS)
    if queue is not None and queue not in _QUEUES:
        raise InvalidQuery("queue", queue, list(Queue))
    if offset < 0 or limit < 0:
        raise InvalidQuery("page", msg("query.page", offset=offset, limit=limit),
                           [msg("query.allowed.page")])
    now = rt.clock.now()
    open_only = None if include_closed and queue is None else CASE.c.status == CaseStatus.OPEN
    conditions = _scope(where, open_only)
    for column, value in ((CASE.c.case_type, case_type), (CASE.c.state, state),
                          (CASE.c.owner_institution, institution),
                          (CASE.c.school_institution, school), (CASE.c.risk_level, risk)):
        if value is not None:
            conditions.append(column == value)
    at = Moments.of(rt, now) if overdue or queue is not None else None
    if overdue and at is not None:   # a paused clock stands still: not overdue while paused
        conditions.append(condition(Queue.OVERDUE, at, mine))
    if queue is not None and at is not None:
        conditions.append(condition(Queue(queue), at, mine))
    key = SORT_KEYS[sort]
    # by deadline: cases with none come last.  A deadline queue has none such; for the
    # others the cases with a deadline are read first, walking the deadline index in
    # order (no sort of every match), then those without one, by id.
    by_due = sort == "due" and not (overdue or queue in DATED_QUEUES)
    order = [key.desc(), CASE.c.id.desc()] if descending else [key, CASE.c.id]
    columns = [CASE.c.reference, CASE.c.case_type, CASE.c.state, CASE.c.status,
               CASE.c.owner_institution, CASE.c.school_institution, CASE.c.risk_level,
               CASE.c.opened_at, CASE.c.paused_at, CASE.c.version, CASE.c.late_days,
               OPEN_TASK.c.due_at, WAITING_FOR_COORDINATOR.label("waiting")]
    joined = _WITH_TASK
    if child:
        columns.append(CHILD.c.name.label("child_name"))
        joined = joined.join(CHILD, CHILD.c.id == CASE.c.child_id)
    select = sa.select(*columns).select_from(joined)
    needs_task = overdue or queue is not None
    count = (sa.select(sa.func.count()).select_from(_WITH_TASK if needs_task else CASE)
             .where(*conditions))
    with db.connect() as conn:
        total = conn.execute(count).scalar_one()
        rows: list[Any] = []
        if limit and not by_due:
            rows = list(conn.execute(select.where(*conditions).order_by(*order)
                                     .offset(offset).limit(limit)).mappings())
        elif limit:
            has_due = OPEN_TASK.c.due_at.is_not(None)
            rows = list(conn.execute(select.where(*conditions, has_due).order_by(*order)
                                     .offset(offset).limit(limit)).mappings())
            if len(rows) < limit:   # past the cases with a deadline: those without one
                dated = offset + len(rows) if rows else conn.execute(
                    sa.select(sa.func.count()).select_from(_WITH_TASK)
                    .where(*conditions, has_due)).scalar_one()
                rows += conn.execute(
                    select.where(*conditions, OPEN_TASK.c.due_at.is_(None))
                    .order_by(CASE.c.id.desc() if descending else CASE.c.id)
                    .offset(max(0, offset - dated)).limit(limit - len(rows))).mappings()
    return [_row(rt, now, r) for r in rows], total


def _row(rt: Runtime, now: datetime, r: sa.RowMapping) -> dict[str, Any]:
    due, paused_at = r["due_at"], r["paused_at"]
    as_of = paused_at or now   # as ``case show``: days left as when the clock stopped
    waiting = bool(r["waiting"])   # reported done: the coordinator's turn, not overdue
    return {
        "reference": r["reference"], "case_type": r["case_type"], "state": r["state"],
        "status": r["status"], "owner_institution": r["owner_institution"],
        "school_institution": r["school_institution"], "risk_level": r["risk_level"],
        "opened_at": r["opened_at"], "due_at": due,
        "working_days_left": rt.calendar.working_days_left(as_of, due) if due else None,
        "overdue": bool(due and paused_at is None and not waiting and now > due),
        "late_days": r["late_days"],   # entered after its first deadline (reported late)
        "paused": paused_at is not None, "version": r["version"],
        "waiting_for_coordinator": waiting,
        **({"child_name": r["child_name"]} if "child_name" in r else {}),
    }


def _check_names(rt: Runtime, case_type: str | None, state: str | None) -> None:
    """Unknown case types and states are errors naming them (``UnknownCaseType``,
    ``UnknownState``), not empty lists."""
    if case_type is not None:
        latest = rt.registry.latest(case_type)
        if state is not None and not any(state in wf.states for (t, _), wf
                                         in rt.registry.versions.items() if t == case_type):
            latest.state(state)   # raises, listing the current version's states
    elif state is not None and not any(state in wf.states for wf in rt.registry.versions.values()):
        raise UnknownState(None, state)


def _scope(where: sa.ColumnElement[bool] | None,
           *more: sa.ColumnElement[bool] | None) -> list[sa.ColumnElement[bool]]:
    return [c for c in (where, *more) if c is not None]


def _n(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many rows of the group meet ``condition``."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _open_over_time(conn: sa.Connection, cal: WorkingDayCalendar, now: datetime, today: date,
                    weeks: int, where: sa.ColumnElement[bool] | None) -> list[tuple[date, int]]:
    """Open cases at the end of each of the last ``weeks`` ISO weeks (the current one:
    now), in one query: a ``SUM`` column per week."""
    sunday = today + timedelta(days=6 - today.weekday())
    days = [sunday - timedelta(weeks=i) for i in reversed(range(weeks))]
    instants = [min(midnight(cal, d + timedelta(days=1)), now) for d in days]
    row = conn.execute(sa.select(*(
        _n((CASE.c.opened_at <= at) & (CASE.c.closed_at.is_(None) | (CASE.c.closed_at > at)))
        for at in instants)).select_from(CASE).where(*_scope(where))).one()
    return [(min(d, today), n or 0) for d, n in zip(days, row, strict=True)]


def _day_key_of(dialect: str, cal: WorkingDayCalendar, year: int) -> Callable[[Any], Any]:
    """A text key of a UTC timestamp column that fixes its local day, in this dialect's
    SQL: ``'YYYY-MM-DD'``, the UTC date, for the hours whose local day is the UTC day in
    every season (before 21:00 for Riga's +2 and +3), else ``'YYYY-MM-DD HH'``."""
    if dialect == "postgresql":
        def hour(col: Any) -> Any:
            return sa.func.to_char(sa.func.timezone("UTC", col), "YYYY-MM-DD HH24",
                                   type_=sa.String)
    else:   # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' text
        def hour(col: Any) -> Any:
            return sa.func.substr(col, 1, 13, type_=sa.String)
    offsets = {cal.timezone.utcoffset(datetime(year, month, 15)) for month in range(1, 13)}
    hours = {o.total_seconds() / 3600 for o in offsets if o is not None}
    if not hours or min(hours) < 0 or any(h != int(h) for h in hours):
        return hour   # not a whole-hour offset east of UTC: every hour is its own key
    same_day_before = f"{24 - int(max(hours)):02d}"
    return lambda col: sa.case((sa.func.substr(hour(col), 12, 2) < same_day_before,
                                sa.func.substr(hour(col), 1, 10)), else_=hour(col))


def _time_in_state(cal: WorkingDayCalendar, today: date,
                   groups: Sequence[Any]) -> list[dict[str, Any]]:
    """Average and longest working days in the current state, per (case type, state),
    from groups of (case type, state, day key entered, day key paused or None, cases)."""
    @cache
    def local_day(key: str) -> date:
        if len(key) == 10:   # the UTC date is the local one (``_day_key_of``)
            return date.fromisoformat(key)
        return cal.local_date(datetime(int(key[:4]), int(key[5:7]), int(key[8:10]),
                                       int(key[11:13]), tzinfo=UTC))

    days_between: dict[tuple[str, str | None], int] = {}
    acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])   # cases, sum, max
    for case_type, state, entered, paused, n in groups:
        if (entered, paused) not in days_between:
            days_between[entered, paused] = cal.working_days_between(
                local_day(entered), local_day(paused) if paused else today)
        days = days_between[entered, paused]
        slot = acc[case_type, state]
        slot[0] += n
        slot[1] += days * n
        slot[2] = max(slot[2], days)
    return [{"case_type": t, "state": s, "cases": n, "avg_working_days": round(total / n, 1),
             "max_working_days": longest}
            for (t, s), (n, total, longest) in sorted(acc.items())]


def fallback_deliveries(db: sa.Engine, rt: Runtime, where: sa.ColumnElement[bool] | None = None,
                        *, days: int = 30, limit: int = 20) -> list[dict[str, Any]]:
    """Emails about the cases in ``where`` that went to an institution's fallback address
    (its primary address refused them for good) in the last ``days`` days, newest first:
    reference, template, institution, the address it went to, when, and the refusal."""
    since = rt.clock.now() - timedelta(days=days)
    query = (sa.select(CASE.c.reference, OUTBOX.c.template, OUTBOX.c.recipient_institution,
                       OUTBOX.c.sent_to, OUTBOX.c.sent_at, OUTBOX.c.last_error)
             .select_from(OUTBOX.join(CASE, CASE.c.id == OUTBOX.c.case_id))
             .where(OUTBOX.c.fallback.is_(True), OUTBOX.c.status == OutboxStatus.SENT,
                    OUTBOX.c.sent_at >= since, *_scope(where))
             .order_by(OUTBOX.c.sent_at.desc(), OUTBOX.c.id.desc()).limit(limit))
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
