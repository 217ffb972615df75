"""Web sessions: a logged-in browser.  The cookie holds a random token; the database
keeps its SHA-256 (``digest``).  A session ends when idle or old, on logout, and when
its user's password or access changes (``end_sessions_of``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from gaita.accounts.account import ACCOUNT_COLUMNS, Account, account_of, digest
from gaita.accounts.tables import SESSION, USER


@dataclass(frozen=True)
class Session:
    id: str   # sha256 of the cookie's token
    account: Account
    csrf: str
    mfa_pending: bool


def start_session(db: sa.Engine, user_id: int, now: datetime, *, mfa_pending: bool,
                  replaces: str | None = None) -> str:
    """A new session for the user; returns the cookie's token.  ``replaces`` (a token
    the browser brought) is ended first: a session id is never carried over a login."""
    token = secrets.token_urlsafe(32)
    with db.begin() as conn:
        if replaces:
            conn.execute(sa.delete(SESSION).where(SESSION.c.id == digest(replaces)))
        conn.execute(sa.insert(SESSION).values(
            id=digest(token), user_id=user_id, created_at=now, last_seen_at=now,
            csrf=secrets.token_hex(32), mfa_pending=mfa_pending))
    return token


def load_session(db: sa.Engine, token: str | None, now: datetime, *, idle: timedelta,
                 absolute: timedelta) -> Session | None:
    """The live session behind a cookie's token; an expired one is ended here."""
    if not token or len(token) > 128:
        return None
    sid = digest(token)
    with db.connect() as conn:
        row = conn.execute(sa.select(SESSION, *ACCOUNT_COLUMNS[1:], USER.c.active)
                           .select_from(SESSION.join(USER, USER.c.id == SESSION.c.user_id))
                           .where(SESSION.c.id == sid)).first()
    if row is None:
        return None
    if (not row.active or now - row.last_seen_at > idle or now - row.created_at > absolute):
        end_session(db, token)
        return None
    if now - row.last_seen_at > timedelta(minutes=1):   # one write a minute at most
        with db.begin() as conn:
            conn.execute(sa.update(SESSION).where(SESSION.c.id == sid).values(last_seen_at=now))
    return Session(sid, account_of(row, row.user_id), row.csrf, row.mfa_pending)


def end_session(db: sa.Engine, token: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.delete(SESSION).where(SESSION.c.id == digest(token)))


def end_sessions_of(conn: sa.Connection, user_id: int) -> None:
    conn.execute(sa.delete(SESSION).where(SESSION.c.user_id == user_id))
