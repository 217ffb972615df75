"""The access log: every read of a case's details, and every refused attempt.

Writes to a case are audited by its events (``engine.events``); reads are
written here, by the one case read (``engine.queries.case_view``), the
action-link pages, the group's meeting views and exports.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from engine.store import ACCESS
from engine.tables import AccessAction, Channel

_INSERT = sa.insert(ACCESS)


def log_access(conn: sa.Connection, case_id: int, actor: str, action: AccessAction,
               channel: Channel | str, at: datetime, detail: str | None = None) -> None:
    conn.execute(_INSERT, {"case_id": case_id, "actor": actor, "action": action.value,
                           "channel": str(channel), "at": at, "detail": detail})
