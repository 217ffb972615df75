"""The second factor: TOTP secrets and codes (``pyotp``), and the run-time setting
naming the roles that must use one."""

from __future__ import annotations

from datetime import datetime

import pyotp
import sqlalchemy as sa

from gaita.accounts.runtime_settings import get_setting
from gaita.accounts.tables import USER

#: The run-time setting listing the user roles that must use a second factor.
TOTP_ROLES = "auth.totp_roles"


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
