"""Passwords: Argon2 hashes (``pwdlib``).  An unknown user name is checked against a
dummy hash, so it takes as long as a wrong password."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from pwdlib import PasswordHash

from engine.errors import GaitaError, UserNotFound
from gaita.accounts.account import ACCOUNT_COLUMNS, Account, account_of
from gaita.accounts.sessions import end_sessions_of
from gaita.accounts.tables import USER

MIN_PASSWORD = 12

_hasher = PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    """Verified when the user name is unknown, so both cases take as long (made on
    first use: hashing is slow on purpose, and most commands never log anyone in)."""
    return _hasher.hash("an unused password for timing only")


class WeakPassword(GaitaError):
    code = "password.weak"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(min=MIN_PASSWORD)
    return _hasher.hash(password)


def store_password(conn: sa.Connection, user_id: int, hashed: str) -> None:
    """Store a new password hash (``hash_password``'s) for the user, in the caller's
    transaction; it ends every session the user has."""
    done = conn.execute(sa.update(USER).where(USER.c.id == user_id)
                        .values(password_hash=hashed)).rowcount
    if not done:
        raise UserNotFound(f"#{user_id}")
    end_sessions_of(conn, user_id)


def check_password(db: sa.Engine, username: str, password: str) -> Account | None:
    """The active user with this password, else None (in the same time either way)."""
    with db.connect() as conn:
        row = conn.execute(sa.select(*ACCOUNT_COLUMNS, USER.c.password_hash).where(
            USER.c.username == username, USER.c.active.is_(True))).first()
    stored = row.password_hash if row is not None and row.password_hash else _dummy_hash()
    valid, new_hash = _hasher.verify_and_update(password, stored)
    if row is None or not row.password_hash or not valid:
        return None
    if new_hash is not None:   # parameters changed since the hash was made
        with db.begin() as conn:
            conn.execute(sa.update(USER).where(USER.c.id == row.id).values(password_hash=new_hash))
    return account_of(row)
