"""Failed logins, counted per user name and per address: the web app refuses to check
more passwords (or second-factor codes) once either count reaches its limit."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from gaita.accounts.tables import ATTEMPT


def failures(db: sa.Engine, now: datetime, window: timedelta, *, username: str,
             address: str) -> tuple[int, int]:
    """Failed logins within ``window`` for this user name and from this address."""
    since = now - window
    with db.connect() as conn:
        by_user = conn.execute(sa.select(sa.func.count()).where(
            ATTEMPT.c.username == username, ATTEMPT.c.at > since)).scalar_one()
        by_address = conn.execute(sa.select(sa.func.count()).where(
            ATTEMPT.c.address == address, ATTEMPT.c.at > since)).scalar_one()
    return by_user, by_address


def record_failure(db: sa.Engine, now: datetime, *, username: str, address: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.insert(ATTEMPT).values(at=now, username=username[:64],
                                               address=address[:64]))


def clear_failures(db: sa.Engine, username: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.delete(ATTEMPT).where(ATTEMPT.c.username == username))
