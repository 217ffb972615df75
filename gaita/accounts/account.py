"""A user as the web app and the API see one, and how a secret given to a client (a
session cookie, an API token) is stored: its SHA-256 only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.runtime import Actor
from gaita.accounts.tables import USER


@dataclass(frozen=True)
class Account:
    """A user as the web app and the API see one."""

    id: int
    username: str
    display_name: str
    role: str
    institution: str | None
    locale: str
    has_totp: bool

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.institution)


#: What ``account_of`` reads (``USER.c.id`` first: a join that has its own ``id``
#: selects ``ACCOUNT_COLUMNS[1:]``).
ACCOUNT_COLUMNS = (USER.c.id, USER.c.username, USER.c.display_name, USER.c.role,
                   USER.c.institution_code, USER.c.locale, USER.c.totp_secret)


def account_of(row: Any, user_id: int | None = None) -> Account:
    """The account in a row that selected ``ACCOUNT_COLUMNS`` (or all but the id,
    given apart)."""
    return Account(row.id if user_id is None else user_id, row.username, row.display_name,
                   row.role, row.institution_code, row.locale, row.totp_secret is not None)


def account(db: sa.Engine, user_id: int) -> Account | None:
    with db.connect() as conn:
        row = conn.execute(sa.select(*ACCOUNT_COLUMNS).where(
            USER.c.id == user_id, USER.c.active.is_(True))).first()
    return None if row is None else account_of(row)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
