"""Users' credentials and sessions: passwords, the second factor, web sessions, API
tokens, login rate limits, run-time settings and the admin log.

Passwords are Argon2 hashes (``pwdlib``).  A session or API token is a random
secret given to the client once; only its SHA-256 is stored, so a copy of the
database logs nobody in.  Every time comes from the runtime clock.

The writes an administrator makes (``store_password``, ``insert_api_token``,
``revoke_api_token``, ``put_setting``) take the caller's connection, so that
``gaita.users`` writes the admin-log row (``audit``) in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta
from typing import Any

import pyotp
import sqlalchemy as sa
from pwdlib import PasswordHash

from engine.errors import GaitaError, UserNotFound
from engine.runtime import Actor
from engine.tables import AdminLog, ApiToken, LoginAttempt, Setting, User, WebSession

USER, SESSION, TOKEN = User.__table__, WebSession.__table__, ApiToken.__table__
ATTEMPT, ADMIN_LOG, SETTING = LoginAttempt.__table__, AdminLog.__table__, Setting.__table__

#: The run-time setting listing the user roles that must use a second factor.
TOTP_ROLES = "auth.totp_roles"
MIN_PASSWORD = 12
TOKEN_PREFIX = "gaita_"

_hasher = PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    """Verified when the user name is unknown, so both cases take as long (made on
    first use: hashing is slow on purpose, and most commands never log anyone in)."""
    return _hasher.hash("an unused password for timing only")


class WeakPassword(GaitaError):
    code = "password.weak"


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


def _account(row: Any) -> Account:
    return Account(row.id, row.username, row.display_name, row.role, row.institution_code,
                   row.locale, row.totp_secret is not None)


_ACCOUNT_COLUMNS = (USER.c.id, USER.c.username, USER.c.display_name, USER.c.role,
                    USER.c.institution_code, USER.c.locale, USER.c.totp_secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- passwords -------------------------------------------------------------------------


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
        row = conn.execute(sa.select(*_ACCOUNT_COLUMNS, USER.c.password_hash).where(
            USER.c.username == username, USER.c.active.is_(True))).first()
    stored = row.password_hash if row is not None and row.password_hash else _dummy_hash()
    valid, new_hash = _hasher.verify_and_update(password, stored)
    if row is None or not row.password_hash or not valid:
        return None
    if new_hash is not None:   # parameters changed since the hash was made
        with db.begin() as conn:
            conn.execute(sa.update(USER).where(USER.c.id == row.id).values(password_hash=new_hash))
    return _account(row)


def account(db: sa.Engine, user_id: int) -> Account | None:
    with db.connect() as conn:
        row = conn.execute(sa.select(*_ACCOUNT_COLUMNS).where(
            USER.c.id == user_id, USER.c.active.is_(True))).first()
    return None if row is None else _account(row)


# --- login rate limits -----------------------------------------------------------------


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


# --- the second factor -----------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def totp_ok(secret: str, code: str, now: datetime) -> bool:
    """The code is the current one (or one step either side, for clock drift)."""
    code = code.strip().replace(" ", "")
    return code.isdigit() and pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


def user_totp_secret(db: sa.Engine, user_id: int) -> str | None:
    with db.connect() as conn:
        return conn.execute(sa.select(USER.c.totp_secret).where(USER.c.id == user_id)).scalar()


def set_totp_secret(db: sa.Engine, user_id: int, secret: str | None) -> None:
    with db.begin() as conn:
        conn.execute(sa.update(USER).where(USER.c.id == user_id).values(totp_secret=secret))


def totp_required(db: sa.Engine, role: str) -> bool:
    return role in (get_setting(db, TOTP_ROLES) or [])


# --- sessions --------------------------------------------------------------------------


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
        row = conn.execute(sa.select(SESSION, *_ACCOUNT_COLUMNS[1:], USER.c.active)
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
    acct = Account(row.user_id, row.username, row.display_name, row.role, row.institution_code,
                   row.locale, row.totp_secret is not None)
    return Session(sid, acct, row.csrf, row.mfa_pending)


def end_session(db: sa.Engine, token: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.delete(SESSION).where(SESSION.c.id == digest(token)))


def end_sessions_of(conn: sa.Connection, user_id: int) -> None:
    conn.execute(sa.delete(SESSION).where(SESSION.c.user_id == user_id))


# --- API tokens ------------------------------------------------------------------------


def insert_api_token(conn: sa.Connection, user_id: int, name: str, now: datetime,
                     created_by: str) -> tuple[int, str]:
    """A new bearer token acting as the user, in the caller's transaction: (id, token).
    The token is for the caller to show once; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(sa.insert(TOKEN).values(
        user_id=user_id, name=name, token_hash=digest(token), created_at=now,
        created_by=created_by)).inserted_primary_key[0]
    return int(token_id), token


def account_for_token(db: sa.Engine, token: str, now: datetime) -> Account | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    with db.begin() as conn:
        row = conn.execute(sa.select(TOKEN.c.id, *_ACCOUNT_COLUMNS[1:], USER.c.id)
                           .select_from(TOKEN.join(USER, USER.c.id == TOKEN.c.user_id))
                           .where(TOKEN.c.token_hash == digest(token),
                                  TOKEN.c.revoked_at.is_(None), USER.c.active.is_(True))).first()
        if row is None:
            return None
        conn.execute(sa.update(TOKEN).where(TOKEN.c.id == row[0]).values(last_used_at=now))
    return Account(row[-1], row.username, row.display_name, row.role, row.institution_code,
                   row.locale, row.totp_secret is not None)


def revoke_api_token(conn: sa.Connection, token_id: int, now: datetime) -> bool:
    """Revoke the token in the caller's transaction; False: no such unrevoked token."""
    return bool(conn.execute(sa.update(TOKEN).where(
        TOKEN.c.id == token_id, TOKEN.c.revoked_at.is_(None)).values(revoked_at=now)).rowcount)


# --- run-time settings and the admin log -----------------------------------------------


def get_setting(db: sa.Engine, key: str) -> Any:
    with db.connect() as conn:
        return conn.execute(sa.select(SETTING.c.value).where(SETTING.c.key == key)).scalar()


def put_setting(conn: sa.Connection, key: str, value: Any, now: datetime, by: str) -> None:
    updated = conn.execute(sa.update(SETTING).where(SETTING.c.key == key).values(
        value=value, updated_at=now, updated_by=by)).rowcount
    if not updated:
        conn.execute(sa.insert(SETTING).values(key=key, value=value, updated_at=now,
                                               updated_by=by))


def audit(conn: sa.Connection, now: datetime, actor: str, action: str, target: str = "",
          **detail: Any) -> None:
    """One admin-log row; written in the same transaction as the change it records."""
    conn.execute(sa.insert(ADMIN_LOG).values(at=now, actor=actor, action=action,
                                             target=target[:128], detail=detail))
