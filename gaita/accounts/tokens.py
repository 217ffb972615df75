"""API tokens: bearer tokens a program uses to act as (and be scoped like) one user.
A token is shown once, when it is made; the database keeps its SHA-256 (``digest``)."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa

from gaita.accounts.account import ACCOUNT_COLUMNS, Account, account_of, digest
from gaita.accounts.tables import TOKEN, USER

TOKEN_PREFIX = "gaita_"   # noqa: S105 - a prefix that marks a token, not a secret


def insert_api_token(conn: sa.Connection, user_id: int, name: str, now: datetime,
                     created_by: str) -> tuple[int, str]:
    """A new bearer token acting as the user, in the caller's transaction: (id, token).
    The token is for the caller to show once; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(sa.insert(TOKEN).values(
        user_id=user_id, name=name, token_hash=digest(token), created_at=now,
        created_by=created_by).returning(TOKEN.c.id)).scalar_one()
    return int(token_id), token


def account_for_token(db: sa.Engine, token: str, now: datetime) -> Account | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    with db.begin() as conn:
        row = conn.execute(sa.select(TOKEN.c.id, *ACCOUNT_COLUMNS[1:], USER.c.id)
                           .select_from(TOKEN.join(USER, USER.c.id == TOKEN.c.user_id))
                           .where(TOKEN.c.token_hash == digest(token),
                                  TOKEN.c.revoked_at.is_(None), USER.c.active.is_(True))).first()
        if row is None:
            return None
        conn.execute(sa.update(TOKEN).where(TOKEN.c.id == row[0]).values(last_used_at=now))
    return account_of(row, row[-1])


def revoke_api_token(conn: sa.Connection, token_id: int, now: datetime) -> bool:
    """Revoke the token in the caller's transaction; False: no such unrevoked token."""
    return bool(conn.execute(sa.update(TOKEN).where(
        TOKEN.c.id == token_id, TOKEN.c.revoked_at.is_(None)).values(revoked_at=now)).rowcount)
