"""The digest: one email per institution listing its open, due-soon and overdue tasks.

References, task titles and due dates only.  The institution's mailbox gets
it in the institution's language; staff users of the institution who opted
in (``user.digest``) get their own copy in their language.  The rows are
queued in the outbox like every other email, so delivery, retries and
failures work the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.outbox import outbox_row
from engine.runtime import Runtime
from engine.store import CASE, OUTBOX, TASK, USER, Row, insert_or_ignore
from engine.tables import DigestRun, table
from engine.tasks import task_title
from notifications.compose import case_url
from notifications.render import LOCALES

DIGEST_RUN = table(DigestRun)
DIGEST_TEMPLATE = "digest"
DUE_SOON_PARAM = "digest.due_soon_days"


@dataclass(frozen=True)
class DigestQueued:
    institution: str
    recipients: int
    tasks: int


def queue_digests_once(db: sa.Engine, rt: Runtime, base_url: str) -> list[DigestQueued] | None:
    """The scheduler's daily digests: queued by the first process to claim today
    (a ``digest_run`` row), in the same transaction; ``None`` if already done."""
    today = rt.calendar.local_date(rt.clock.now())
    with db.begin() as conn:
        claimed = conn.execute(insert_or_ignore(conn, DIGEST_RUN, "day").returning(
            DIGEST_RUN.c.day), {"day": today, "at": rt.clock.now()}).first()
        return _queue(conn, rt, base_url) if claimed is not None else None


def queue_digests(db: sa.Engine, rt: Runtime, base_url: str) -> list[DigestQueued]:
    """Queue today's digests now (``gaita digest send``); institutions with no open
    task get none."""
    with db.begin() as conn:
        return _queue(conn, rt, base_url)


def _queue(conn: sa.Connection, rt: Runtime, base_url: str) -> list[DigestQueued]:
    now = rt.clock.now()
    tasks = conn.execute(sa.select(
        TASK.c.assignee_institution, TASK.c.state, TASK.c.kind, TASK.c.title, TASK.c.report,
        TASK.c.due_at,
        CASE.c.reference,
        CASE.c.case_type, CASE.c.definition_version,
    ).join(CASE, CASE.c.id == TASK.c.case_id).where(
        TASK.c.closed_at.is_(None), TASK.c.assignee_institution.is_not(None),
    ).order_by(TASK.c.due_at, CASE.c.reference)).mappings().all()
    by_institution: dict[str, list[Row]] = defaultdict(list)
    for t in tasks:
        by_institution[t["assignee_institution"]].append(t)
    subscribers = conn.execute(sa.select(USER.c.username, USER.c.locale, USER.c.institution_code)
                               .where(USER.c.digest.is_(True), USER.c.active.is_(True))).all()
    queued = []
    for code, rows in sorted(by_institution.items()):
        inst = rt.municipality.institution(code)
        copies = [(None, inst.locale or rt.municipality.municipality.default_locale)]
        copies += [(u.username, u.locale) for u in subscribers if u.institution_code == code]
        conn.execute(sa.insert(OUTBOX), [outbox_row(
            now, DIGEST_TEMPLATE, institution=None if user else code, user=user,
            extra=digest_lists(rt, rows, locale, base_url)) for user, locale in copies])
        queued.append(DigestQueued(code, len(copies), len(rows)))
    return queued


def digest_lists(rt: Runtime, tasks: Sequence[Mapping[str, Any]], locale: str,
                 base_url: str) -> dict[str, list[dict[str, Any]]]:
    """``{"open", "due_soon", "overdue"}``: each task in exactly one list."""
    loc = locale if locale in LOCALES else LOCALES[0]
    now, cal = rt.clock.now(), rt.calendar
    soon = rt.days(DUE_SOON_PARAM)
    lists: dict[str, list[dict[str, Any]]] = {"open": [], "due_soon": [], "overdue": []}
    for t in tasks:
        wf = rt.registry.get(t["case_type"], t["definition_version"])
        due = t["due_at"]
        left = cal.working_days_left(now, due) if due else None
        beside = task_title(wf, t)
        title = beside[loc] if beside else getattr(wf.state(t["state"]).title, loc)
        row = {"reference": t["reference"], "title": title,
               "due": cal.format_local(due, loc) if due else None, "days_left": left,
               "url": case_url(base_url, t["reference"])}
        if due is not None and now > due:
            lists["overdue"].append(row)
        elif left is not None and left <= soon:
            lists["due_soon"].append(row)
        else:
            lists["open"].append(row)
    return lists
