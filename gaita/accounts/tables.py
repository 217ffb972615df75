"""The web app's tables: sessions, API tokens, login attempts, the admin log and the
run-time settings.  Schema changes go through Alembic (``migrations/``), which sees
these beside ``engine.tables`` (``gaita.dbsetup.METADATA``).

The engine reads users, so ``user`` stays in ``engine.tables``; ``USER`` here is its
handle, for the credentials this package reads and writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.tables import User, UTCDateTime, table


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable))


class WebSession(SQLModel, table=True):
    """A logged-in browser.  The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_session"
    id: str = Field(primary_key=True, max_length=64)   # sha256(token) hex
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    csrf: str = Field(max_length=64)
    mfa_pending: bool = False   # password given, second factor not yet


class ApiToken(SQLModel, table=True):
    """A machine client's bearer token, acting as (and scoped like) one user."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=64)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = _ts()
    created_by: str = Field(max_length=64)
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """Failed logins, counted per user name and per address for rate limiting."""

    __tablename__ = "login_attempt"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    username: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)


class AdminLog(SQLModel, table=True):
    """Every administrative change: who, when, what, to what."""

    __tablename__ = "admin_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    target: str = Field(default="", max_length=128)
    detail: dict[str, Any] = Field(default_factory=dict,
                                   sa_column=sa.Column(sa.JSON(), nullable=False))


class Setting(SQLModel, table=True):
    """Settings administrators change at run time (e.g. the roles that need TOTP)."""

    __tablename__ = "setting"
    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))
    updated_at: datetime = _ts()
    updated_by: str = Field(default="", max_length=64)


USER = table(User)
SESSION, TOKEN, ATTEMPT = table(WebSession), table(ApiToken), table(LoginAttempt)
ADMIN_LOG, SETTING = table(AdminLog), table(Setting)
