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
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa

from engine.calendar import WorkingDayCalendar
from engine.definitions import RISK_LEVELS
from engine.errors import InvalidQuery, UnknownState, msg
from engine.pause import pause_limit_at
from engine.runtime import Runtime
from engine.store import CASE, OUTBOX, TASK
from engine.tables import CaseStatus, OutboxStatus, TaskKind

#: The open state task of a case (at most one: ``uq_task_one_open_per_case``), so an
#: outer join with it never repeats a case.  An alias: a ``where`` of the access policy
#: may have its own ``EXISTS`` on ``task``, correlated with ``case`` only.
OPEN_TASK = TASK.alias("open_task")
_WITH_TASK = CASE.outerjoin(OPEN_TASK, sa.and_(
    OPEN_TASK.c.case_id == CASE.c.id, OPEN_TASK.c.closed_at.is_(None),
    OPEN_TASK.c.kind == TaskKind.STATE))
_RISK_ORDER = sa.case({level: i for i, level in enumerate(RISK_LEVELS)}, value=CASE.c.risk_level,
                      else_=len(RISK_LEVELS))

#: ``case_page``'s sort keys; every order ends with the case id, so pages are stable.
SORT_KEYS: dict[str, sa.ColumnElement[Any]] = {
    "due": OPEN_TASK.c.due_at, "opened": CASE.c.opened_at, "reference": CASE.c.reference,
    "state": CASE.c.state, "type": CASE.c.case_type, "risk": _RISK_ORDER,
}

#: The columns of a ``case_page`` row, in order.
PAGE_COLUMNS = ("reference", "case_type", "state", "status", "owner_institution",
                "school_institution", "risk_level", "opened_at", "due_at", "working_days_left",
                "overdue", "late_days", "paused", "version")


def dashboard(db: sa.Engine, rt: Runtime, where: sa.ColumnElement[bool] | None = None, *,
              weeks: int = 12) -> dict[str, Any]:
    """The coordinator's figures over the open cases ``where`` selects (default: all).

    Returns ``as_of``; the counts ``open``, ``overdue``, ``due_today``,
    ``due_this_week``, ``unacknowledged`` (the open state task's receipt was not
    acknowledged in time, and still is not), ``paused``, ``paused_too_long`` and
    ``failed_emails`` (undelivered outbox rows of open cases); ``by_type`` and
    ``by_owner`` (``{"open": n, "overdue": n}`` per case type, every type listed,
    and per owning institution, most open cases first); ``open_over_time``,
    ``weeks`` pairs ``(day, open cases)`` at the end of each ISO week, the
    current week's as of now; and ``time_in_state``, per case type and state the ``cases``,
    ``avg_working_days`` and ``max_working_days`` since the case entered its
    state (when its open state task opened: a migration's rename keeps it).
    Finished pauses in the current state are not left out of the time in state:
    ``case.paused_working_days`` sums the pauses of the case's whole life, not of
    its current state.  Four queries.
    """
    if weeks < 1:
        raise InvalidQuery("weeks", weeks, [msg("query.allowed.weeks")])
    now = rt.clock.now()
    cal = rt.calendar
    today = cal.local_date(now)
    tomorrow = _midnight(cal, today + timedelta(days=1))
    next_monday = _midnight(cal, today + timedelta(days=7 - today.weekday()))
    scope = _scope(where, CASE.c.status == CaseStatus.OPEN)
    due, running = OPEN_TASK.c.due_at, CASE.c.paused_at.is_(None)
    counts = (sa.select(
        CASE.c.case_type, CASE.c.owner_institution, sa.func.count().label("open"),
        _n(running & (due < now)).label("overdue"),
        _n(running & (due >= now) & (due < tomorrow)).label("due_today"),
        _n(running & (due >= tomorrow) & (due < next_monday)).label("due_this_week"),
        _n(OPEN_TASK.c.unacknowledged_at.is_not(None) & OPEN_TASK.c.acknowledged_at.is_(None))
        .label("unacknowledged"),
        _n(CASE.c.paused_at.is_not(None)).label("paused"),
        _n(CASE.c.paused_at < _long_pause_threshold(rt, now)).label("paused_too_long"),
    ).select_from(_WITH_TASK).where(*scope)
        # owner first: grouping by type first, SQLite walks ix_case_case_type (twice as slow)
        .group_by(CASE.c.owner_institution, CASE.c.case_type))
    failed = (sa.select(sa.func.count())
              .select_from(OUTBOX.join(CASE, CASE.c.id == OUTBOX.c.case_id))
              .where(OUTBOX.c.status == OutboxStatus.FAILED, *scope))
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
        failed_emails = conn.execute(failed).scalar_one()
        over_time = _open_over_time(conn, cal, now, today, weeks, where)
        states = conn.execute(in_state).all()

    totals = {key: sum(g[key] or 0 for g in groups) for key in (
        "open", "overdue", "due_today", "due_this_week", "unacknowledged", "paused",
        "paused_too_long")}
    by_type: dict[str, dict[str, int]] = {t: {"open": 0, "overdue": 0}
                                          for t in rt.registry.case_types}
    by_owner: dict[str | None, dict[str, int]] = {}
    for g in groups:
        for slot in (by_type.setdefault(g["case_type"], {"open": 0, "overdue": 0}),
                     by_owner.setdefault(g["owner_institution"], {"open": 0, "overdue": 0})):
            slot["open"] += g["open"]
            slot["overdue"] += g["overdue"] or 0
    owners = sorted(by_owner.items(), key=lambda kv: (-kv[1]["open"], kv[0] or ""))
    return {"as_of": now, **totals, "failed_emails": failed_emails, "by_type": by_type,
            "by_owner": dict(owners), "open_over_time": over_time,
            "time_in_state": _time_in_state(cal, today, states)}


def case_page(
    db: sa.Engine, rt: Runtime, *, where: sa.ColumnElement[bool] | None = None,
    case_type: str | None = None, state: str | None = None, institution: str | None = None,
    school: str | None = None, overdue: bool = False, risk: str | None = None,
    include_closed: bool = False, sort: str = "due", descending: bool = False,
    offset: int = 0, limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the case list and the number of cases matching the filters.

    Filters: ``where`` (the access policy), ``case_type``, ``state``,
    ``institution`` (the owner, i.e. the open task's holder), ``school``,
    ``overdue`` (never a paused case), ``risk``; closed cases only with
    ``include_closed``.  ``sort`` is a key of ``SORT_KEYS`` (cases with no
    deadline come last when sorting by ``due``, either way); ties go by case id.
    Rows have ``PAGE_COLUMNS``.  Two queries: the count and the page.
    """
    _check_names(rt, case_type, state)
    if sort not in SORT_KEYS:
        raise InvalidQuery("sort", sort, list(SORT_KEYS))
    if risk is not None and risk not in RISK_LEVELS:
        raise InvalidQuery("risk", risk, RISK_LEVELS)
    if offset < 0 or limit < 0:
        raise InvalidQuery("page", msg("query.page", offset=offset, limit=limit),
                           [msg("query.allowed.page")])
    now = rt.clock.now()
    conditions = _scope(where, None if include_closed else CASE.c.status == CaseStatus.OPEN)
    for column, value in ((CASE.c.case_type, case_type), (CASE.c.state, state),
                          (CASE.c.owner_institution, institution),
                          (CASE.c.school_institution, school), (CASE.c.risk_level, risk)):
        if value is not None:
            conditions.append(column == value)
    if overdue:   # a paused clock stands still: not overdue while paused
        conditions += [OPEN_TASK.c.due_at < now, CASE.c.paused_at.is_(None)]
    key = SORT_KEYS[sort]
    order: list[sa.ColumnElement[Any]] = [key.is_(None)] if sort == "due" else []
    order += [key.desc(), CASE.c.id.desc()] if descending else [key, CASE.c.id]
    page = (sa.select(CASE.c.reference, CASE.c.case_type, CASE.c.state, CASE.c.status,
                      CASE.c.owner_institution, CASE.c.school_institution, CASE.c.risk_level,
                      CASE.c.opened_at, CASE.c.paused_at, CASE.c.version, CASE.c.late_days,
                      OPEN_TASK.c.due_at)
            .select_from(_WITH_TASK).where(*conditions).order_by(*order)
            .offset(offset).limit(limit))
    count = (sa.select(sa.func.count()).select_from(_WITH_TASK if overdue else CASE)
             .where(*conditions))
    with db.connect() as conn:
        total = conn.execute(count).scalar_one()
        rows = conn.execute(page).mappings().all() if limit else []
    return [_row(rt, now, r) for r in rows], total


def _row(rt: Runtime, now: datetime, r: sa.RowMapping) -> dict[str, Any]:
    due, paused_at = r["due_at"], r["paused_at"]
    as_of = paused_at or now   # as ``case show``: days left as when the clock stopped
    return {
        "reference": r["reference"], "case_type": r["case_type"], "state": r["state"],
        "status": r["status"], "owner_institution": r["owner_institution"],
        "school_institution": r["school_institution"], "risk_level": r["risk_level"],
        "opened_at": r["opened_at"], "due_at": due,
        "working_days_left": rt.calendar.working_days_left(as_of, due) if due else None,
        "overdue": bool(due and paused_at is None and now > due),
        "late_days": r["late_days"],   # entered after its first deadline (reported late)
        "paused": paused_at is not None, "version": r["version"],
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


def _midnight(cal: WorkingDayCalendar, day: date) -> datetime:
    """The start of ``day`` in the calendar's timezone, in UTC."""
    return datetime.combine(day, time(0), tzinfo=cal.timezone).astimezone(UTC)


def _long_pause_threshold(rt: Runtime, now: datetime) -> datetime:
    """A pause that began before this instant has run too long at ``now``.

    ``pause_limit_at`` depends only on the local day a pause began and grows with
    it, so the last day whose limit has passed is found walking back from today.
    """
    day = rt.calendar.local_date(now)
    while pause_limit_at(rt, _midnight(rt.calendar, day)) > now:
        day -= timedelta(days=1)
    return _midnight(rt.calendar, day + timedelta(days=1))


def _open_over_time(conn: sa.Connection, cal: WorkingDayCalendar, now: datetime, today: date,
                    weeks: int, where: sa.ColumnElement[bool] | None) -> list[tuple[date, int]]:
    """Open cases at the end of each of the last ``weeks`` ISO weeks (the current one:
    now), in one query: a ``SUM`` column per week."""
    sunday = today + timedelta(days=6 - today.weekday())
    days = [sunday - timedelta(weeks=i) for i in reversed(range(weeks))]
    instants = [min(_midnight(cal, d + timedelta(days=1)), now) for d in days]
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
