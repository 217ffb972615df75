"""Settings administrators change at run time (e.g. the roles that need a second
factor), as JSON values by key.  ``put_setting`` takes the caller's connection, so the
admin-log row goes in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gaita.accounts.tables import SETTING


def get_setting(db: sa.Engine, key: str) -> Any:
    with db.connect() as conn:
        return conn.execute(sa.select(SETTING.c.value).where(SETTING.c.key == key)).scalar()


def put_setting(conn: sa.Connection, key: str, value: Any, now: datetime, by: str) -> None:
    updated = conn.execute(sa.update(SETTING).where(SETTING.c.key == key).values(
        value=value, updated_at=now, updated_by=by)).rowcount
    if not updated:
        conn.execute(sa.insert(SETTING).values(key=key, value=value, updated_at=now,
                                               updated_by=by))
