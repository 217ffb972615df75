"""The admin log: every administrative change, who made it, when, to what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gaita.accounts.tables import ADMIN_LOG


def audit(conn: sa.Connection, now: datetime, actor: str, action: str, target: str = "",
          **detail: Any) -> None:
    """One admin-log row; written in the same transaction as the change it records."""
    conn.execute(sa.insert(ADMIN_LOG).values(at=now, actor=actor, action=action,
                                             target=target[:128], detail=detail))
