"""The access log: every read of a case's details, and every refused attempt.

Writes to a case are audited by its events (``engine.events``); reads are
written here, by the one case read (``engine.queries.case_view``), the
action-link pages, the group's meeting views and exports.

Reading it answers an auditor's questions ("what did this person read last
month?", "who read this case?"):

- ``fold``: repeated reads fold into one line: the same person's reads of the
  same case the same (local) day, by the same action and channel, are one
  ``Reads`` line with how many, the first and the last time;
- ``audit_log``: the log across cases, newest first, folded, filtered by person,
  case and a range of days, a page at a time (or all of it, for the CSV).  Only
  the roles the access policy lets audit (``Action.AUDIT``) read it, and each
  case whose reads are shown gets an ``audit`` line of its own: reading the log
  is logged.  The indexes (``case_id, at``), (``actor, at``) and (``at``) serve
  each filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.errors import NotFound, NotPermitted
from engine.runtime import Actor, Runtime
from engine.store import ACCESS, CASE, USER
from engine.tables import AccessAction, Channel

_INSERT = sa.insert(ACCESS)
#: Lines per page of the audit log.
PAGE_SIZE = 50
#: The most lines one export holds (a narrower filter gives the rest).
EXPORT_CAP = 100_000


def log_access(conn: sa.Connection, case_id: int, actor: str, action: AccessAction,
               channel: Channel | str, at: datetime, detail: str | None = None) -> None:
    conn.execute(_INSERT, {"case_id": case_id, "actor": actor, "action": action.value,
                           "channel": str(channel), "at": at, "detail": detail})


@dataclass(frozen=True)
class Reads:
    """One line of the log: ``count`` reads (``action``) of a case by one person on one
    local ``day``, from ``first`` to ``last``; ``name`` and ``institution``: the
    person's display name and institution code as the users table has them (None for
    an email link, Gaita itself or a user since removed)."""

    case_id: int
    reference: str
    actor: str
    action: str
    channel: str
    day: date
    first: datetime
    last: datetime
    count: int = 1
    name: str | None = None
    institution: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "actor": self.actor, "name": self.name,
                "institution": self.institution, "action": self.action,
                "channel": self.channel, "day": self.day, "first": self.first,
                "last": self.last, "count": self.count}


def _key(r: Reads) -> tuple[Any, ...]:
    return (r.day, r.actor, r.case_id, r.action, r.channel)


def fold(rows: Iterable[Mapping[str, Any]], zone: tzinfo) -> list[Reads]:
    """Rows of the log (``case_id``, ``at``, ``actor``, ``action``, ``channel``, and
    ``reference``, ``name``, ``institution`` when known) folded into lines: one per
    person, case, action and channel per local day, in the order the rows first show
    each (newest first if the rows are)."""
    lines: dict[tuple[Any, ...], Reads] = {}
    for r in rows:
        line = _line(r, zone)
        key = _key(line)
        seen = lines.get(key)
        lines[key] = line if seen is None else _merge(seen, line)
    return list(lines.values())


def _line(r: Mapping[str, Any], zone: tzinfo) -> Reads:
    at: datetime = r["at"]
    return Reads(int(r["case_id"]), str(r.get("reference") or ""), r["actor"], r["action"],
                 r["channel"], at.astimezone(zone).date(), at, at, 1, r.get("name"),
                 r.get("institution"))


def _merge(seen: Reads, more: Reads) -> Reads:
    return replace(seen, first=min(seen.first, more.first), last=max(seen.last, more.last),
                   count=seen.count + more.count)


@dataclass(frozen=True)
class AuditFilter:
    """Which reads: by one person (``user``: the user name), of one case
    (``reference``), on local days ``since`` .. ``until`` (both included)."""

    user: str | None = None
    reference: str | None = None
    since: date | None = None
    until: date | None = None

    def describe(self) -> str:
        """The filter as the audit line written for reading the log records it."""
        parts = [f"{k}={v}" for k, v in (("user", self.user), ("case", self.reference),
                                         ("from", self.since), ("to", self.until)) if v]
        return "; ".join(parts) or "all"


@dataclass(frozen=True)
class AuditPage:
    lines: list[Reads]
    offset: int
    more: bool   # further lines after these


def audit_log(db: sa.Engine, rt: Runtime, reader: Actor, where: AuditFilter = AuditFilter(), *,
              offset: int = 0, limit: int | None = PAGE_SIZE,
              channel: Channel = Channel.WEB, export: bool = False) -> AuditPage:
    """The log across cases the policy lets ``reader`` audit, newest first and folded,
    ``limit`` lines from ``offset`` (``limit=None``: all, up to ``EXPORT_CAP``).
    Refuses an unknown case (``audit.unknown_case``), a range that ends before it
    starts (``audit.range_reversed``) and a negative ``offset``.  Each case shown is
    logged as read by ``reader`` (``audit``; ``detail``: the filter, and ``csv`` for
    an export)."""
    subject = policy.require(rt, reader, policy.Action.AUDIT)
    if offset < 0:
        raise NotPermitted("audit.bad_page", offset=offset)
    if where.since and where.until and where.since > where.until:
        raise NotPermitted("audit.range_reversed", since=f"{where.since:%d.%m.%Y}",
                           until=f"{where.until:%d.%m.%Y}")
    zone = rt.calendar.timezone
    wanted = EXPORT_CAP if limit is None else offset + limit
    now = rt.clock.now()
    with db.begin() as conn:
        conditions = [policy.visible_cases(rt.registry.roles, subject)]
        if where.reference:
            case_id = conn.execute(sa.select(CASE.c.id).where(
                CASE.c.reference == where.reference)).scalar()
            if case_id is None:
                raise NotFound("audit.unknown_case", reference=where.reference)
            conditions.append(ACCESS.c.case_id == case_id)
        if where.user:
            conditions.append(ACCESS.c.actor == where.user)
        if where.since:
            conditions.append(ACCESS.c.at >= _midnight(where.since, zone))
        if where.until:
            conditions.append(ACCESS.c.at < _midnight(where.until + timedelta(days=1), zone))
        query = sa.select(
            ACCESS.c.case_id, ACCESS.c.at, ACCESS.c.actor, ACCESS.c.action, ACCESS.c.channel,
            CASE.c.reference,
        ).join(CASE, CASE.c.id == ACCESS.c.case_id).where(*conditions).order_by(
            ACCESS.c.at.desc(), ACCESS.c.id.desc())
        # streamed (a server-side cursor on PostgreSQL), closed once the lines are found
        result = conn.execute(query.execution_options(yield_per=1000))
        try:
            found = _first_lines(result.mappings(), zone, wanted + 1)
        finally:
            result.close()
        shown = found[offset:wanted]
        shown = _named(conn, shown)
        cases = sorted({line.case_id for line in shown})
        if cases:
            detail = where.describe() + ("; csv" if export else "")
            conn.execute(_INSERT, [{"case_id": c, "actor": reader.username,
                                    "action": AccessAction.AUDIT.value, "channel": str(channel),
                                    "at": now, "detail": detail} for c in cases])
    return AuditPage(shown, offset, more=len(found) > wanted)


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _first_lines(rows: Iterable[Any], zone: tzinfo, wanted: int) -> list[Reads]:
    """The first ``wanted`` folded lines of rows newest first: a day's lines are
    complete once a row of an earlier day comes (the rest of the rows are not read)."""
    out: list[Reads] = []
    day: date | None = None
    lines: dict[tuple[Any, ...], Reads] = {}
    for r in rows:
        line = _line(r, zone)
        if line.day != day:
            out.extend(lines.values())
            if len(out) >= wanted:
                return out
            day, lines = line.day, {}
        key = _key(line)
        seen = lines.get(key)
        lines[key] = line if seen is None else _merge(seen, line)
    out.extend(lines.values())
    return out


def _named(conn: sa.Connection, lines: list[Reads]) -> list[Reads]:
    """The lines with each person's display name and institution (one query)."""
    actors = sorted({line.actor for line in lines})
    if not actors:
        return lines
    users = {r.username: r for r in conn.execute(sa.select(
        USER.c.username, USER.c.display_name, USER.c.institution_code).where(
        USER.c.username.in_(actors)))}
    out = []
    for line in lines:
        u = users.get(line.actor)
        out.append(line if u is None else replace(line, name=u.display_name or None,
                                                  institution=u.institution_code))
    return out


def auditable_users(db: sa.Engine) -> list[dict[str, Any]]:
    """Every user the log may name (the filter's choices): user name, display name and
    institution code, by display name."""
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(
            USER.c.username, USER.c.display_name, USER.c.institution_code,
        ).order_by(USER.c.display_name, USER.c.username)).mappings()]
