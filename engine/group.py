"""The Child Rights Protection cooperation group's queue (DOMAIN.md §5).

The group is an escalation target, not an owner: a queued case keeps its
owning institution.  A case has at most one open escalation (queued or
scheduled for a meeting); a further reason while it is open is added to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.cases import append_event, load_case_row, queue_mail, resolve_role
from engine.runtime import Actor, Runtime
from engine.tables import Escalation

ESCALATION = Escalation.__table__
OPEN = ("queued", "scheduled")
QUEUED_EVENT = "queued"
#: The email to the cooperation group's institution when a case joins its queue.
QUEUED_TEMPLATE = "group_queued"


def queue_for_group(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any], now: datetime, *,
                    reason: str, actor: Actor, urgent: bool = False) -> int:
    """Put the case in the group's queue (or add ``reason`` to its open escalation),
    with an event on the case and an email to the group.  Returns the escalation id."""
    case = load_case_row(conn, case["reference"])   # fresh: the caller may have moved it on
    open_row = conn.execute(sa.select(ESCALATION).where(
        ESCALATION.c.case_id == case["id"], ESCALATION.c.status.in_(OPEN))).mappings().first()
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    event_id = append_event(conn, wf, case, actor, now, kind=QUEUED_EVENT,
                            payload={"reason": reason, "urgent": urgent})
    if open_row is not None:
        reasons = list(open_row["reasons"])
        if reason not in reasons:
            reasons.append(reason)
        conn.execute(sa.update(ESCALATION).where(ESCALATION.c.id == open_row["id"]).values(
            reasons=reasons, urgent=open_row["urgent"] or urgent))
        return int(open_row["id"])
    escalation_id = conn.execute(sa.insert(ESCALATION).values(
        case_id=case["id"], reasons=[reason], urgent=urgent, status="queued", queued_at=now,
        queued_by=actor.username, meeting_id=None, event_id=event_id,
    ).returning(ESCALATION.c.id)).scalar_one()
    group = rt.registry.roles.group
    queue_mail(conn, case, event_id, now, [(QUEUED_TEMPLATE, group, resolve_role(rt, group, case))],
               None,
               extra={"reason": reason, "risk": case["risk_level"]})
    return int(escalation_id)
