"""Administration of users and their credentials, each change audited in the same
transaction: shared by the admin pages (``gaita.web.admin``) and the CLI
(``gaita.cli.users``).

Users, the second-factor setting and API tokens: each change writes its admin-log
row (``admin_log.audit``) in the transaction that makes it, and sessions end when a
user's access changes.  The writes themselves are ``gaita.accounts``' (one
implementation each, taking the caller's connection); this module checks what an
administrator asked for and logs it.  Passwords, TOTP secrets and tokens never
reach the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError

from engine.errors import Message, Named, NotFound, NotPermitted, UserNotFound, msg
from engine.municipality import Email
from engine.runtime import Runtime
from gaita.accounts import admin_log as audit_log
from gaita.accounts.passwords import MIN_PASSWORD, hash_password, store_password
from gaita.accounts.runtime_settings import put_setting
from gaita.accounts.second_factor import TOTP_ROLES
from gaita.accounts.sessions import end_sessions_of
from gaita.accounts.tables import ADMIN_LOG, SETTING, TOKEN, USER
from gaita.accounts.tokens import insert_api_token, revoke_api_token
from notifications.render import LOCALES

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MAX_NAME = 200
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)   # the same rule as the config's addresses
#: A telephone number as people write it: digits, spaces, "+", "-", "(" and ")".
PHONE = re.compile(r"\+?[0-9][0-9 ()-]{4,30}")
MAX_PHONE = 32


# --- what an administrator may get wrong -----------------------------------------------


@dataclass(frozen=True)
class Invalid:
    """One problem with a form or command: the field (the input it is about) and the
    message (``errors.po``): the admin pages show it in the viewer's language, the CLI
    in English."""

    field: str
    message: Message

    def __str__(self) -> str:
        return str(msg("input.problem", field=self.field, reason=self.message))


class InvalidInput(NotPermitted):
    def __init__(self, problems: list[Invalid]):
        self.problems = tuple(problems)
        super().__init__("input.invalid", lines=tuple(
            msg("input.problem", field=p.field, reason=p.message) for p in self.problems))


# --- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserFields:
    display_name: str
    role: str
    institution: str | None = None
    email: str | None = None
    locale: str = LOCALES[0]
    phone: str | None = None
    digest: bool = False
    active: bool = True


_COLUMNS = {"display_name": USER.c.display_name, "role": USER.c.role,
            "institution": USER.c.institution_code, "email": USER.c.email,
            "phone": USER.c.phone, "locale": USER.c.locale, "digest": USER.c.digest,
            "active": USER.c.active}


def check_user(rt: Runtime, f: UserFields) -> list[Invalid]:
    roles, problems = rt.registry.roles, []
    if not f.display_name.strip() or len(f.display_name) > MAX_NAME:
        problems.append(Invalid("display_name", msg("user.name", limit=MAX_NAME)))
    if f.role not in roles.user_roles:
        problems.append(Invalid("role", msg("user.unknown_role", role=f.role,
                                            known=_roles(rt, roles.user_roles))))
    codes = {i.code for i in rt.municipality.institutions}
    if f.institution and f.institution not in codes:
        problems.append(Invalid("institution", msg("user.unknown_institution",
                                                   institution=f.institution)))
    elif not f.institution and roles.own_tasks_only(f.role):
        problems.append(Invalid("institution", msg("user.institution_required",
                                                   role=_roles(rt, [f.role])[0])))
    if f.email:
        try:
            _EMAIL.validate_python(f.email)
        except ValidationError:
            problems.append(Invalid("email", msg("user.bad_email", email=f.email)))
    if f.phone and not (len(f.phone) <= MAX_PHONE and PHONE.fullmatch(f.phone)
                        and sum(c.isdigit() for c in f.phone) >= 5):
        problems.append(Invalid("phone", msg("user.bad_phone", phone=f.phone)))
    if f.locale not in LOCALES:
        problems.append(Invalid("locale", msg("user.bad_locale", known=tuple(LOCALES))))
    return problems


def _roles(rt: Runtime, codes: Any) -> tuple[Named, ...]:
    """User roles as messages name them: by code, and by title on the pages."""
    specs = rt.registry.roles.user_roles
    return tuple(Named(r, specs.get(r)) for r in codes)


def _password_problems(password: str) -> list[Invalid]:
    if len(password) >= MIN_PASSWORD:
        return []
    return [Invalid("password", msg("user.weak_password", min=MIN_PASSWORD))]


def check_new_user(db: sa.Engine, rt: Runtime, username: str, f: UserFields) -> list[Invalid]:
    problems = check_user(rt, f)
    if not USERNAME.fullmatch(username):
        problems.insert(0, Invalid("username", msg("user.username")))
    elif user_row(db, username) is not None:
        problems.insert(0, Invalid("username", msg("user.username_taken", username=username)))
    return problems


def create_user(db: sa.Engine, rt: Runtime, actor: str, username: str, f: UserFields,
                password: str) -> None:
    problems = check_new_user(db, rt, username, f) + _password_problems(password)
    if problems:
        raise InvalidInput(problems)
    hashed = hash_password(password)   # slow on purpose: before the transaction
    values = {name: getattr(f, name) for name in _COLUMNS}
    try:
        with db.begin() as conn:
            conn.execute(sa.insert(USER).values(
                username=username, password_hash=hashed,
                **{_COLUMNS[k].name: v for k, v in values.items()}))
            audit_log.audit(conn, rt.clock.now(), actor, "user.create", username, **values)
    except sa.exc.IntegrityError:   # added meanwhile by someone else
        raise InvalidInput([Invalid("username", msg("user.username_taken",
                                                    username=username))]) from None


def update_user(db: sa.Engine, rt: Runtime, actor: str, username: str,
                f: UserFields) -> dict[str, Any]:
    """Save a user's fields; returns the changes.  A change of role, institution or a
    deactivation ends the user's sessions.  Nobody deactivates or demotes themself."""
    problems = check_user(rt, f)
    if actor == username and not (f.active and rt.registry.roles.administers(f.role)):
        problems.append(Invalid("active", msg("user.self_lockout")))
    with db.begin() as conn:
        row = conn.execute(sa.select(USER.c.id, *_COLUMNS.values())
                           .where(USER.c.username == username)).first()
        if row is None:
            raise UserNotFound(username)
        if problems:
            raise InvalidInput(problems)
        old = dict(zip(_COLUMNS, row[1:], strict=True))
        changes = {k: {"from": old[k], "to": getattr(f, k)} for k in _COLUMNS
                   if old[k] != getattr(f, k)}
        if not changes:
            return {}
        conn.execute(sa.update(USER).where(USER.c.id == row.id).values(
            **{_COLUMNS[k].name: c["to"] for k, c in changes.items()}))
        if {"role", "institution"} & changes.keys() or not f.active:
            end_sessions_of(conn, row.id)
        audit_log.audit(conn, rt.clock.now(), actor, "user.update", username, **changes)
    return changes


def set_password(db: sa.Engine, rt: Runtime, actor: str, username: str, password: str) -> None:
    """A new password; the user's sessions end."""
    if problems := _password_problems(password):
        raise InvalidInput(problems)
    hashed = hash_password(password)   # slow on purpose: before the transaction
    with db.begin() as conn:
        store_password(conn, _user_id(conn, username), hashed)
        audit_log.audit(conn, rt.clock.now(), actor, "user.password", username)


def remove_totp(db: sa.Engine, rt: Runtime, actor: str, username: str) -> bool:
    """Forget the user's second factor (they enrol again at the next login; their
    sessions end).  False: they had none."""
    with db.begin() as conn:
        user_id = _user_id(conn, username)
        done = conn.execute(sa.update(USER).where(USER.c.id == user_id,
                                                  USER.c.totp_secret.is_not(None))
                            .values(totp_secret=None)).rowcount
        if done:
            end_sessions_of(conn, user_id)
            audit_log.audit(conn, rt.clock.now(), actor, "user.totp_removed", username)
    return bool(done)


def _user_id(conn: sa.Connection, username: str, *, active_only: bool = False) -> int:
    query = sa.select(USER.c.id).where(USER.c.username == username)
    if active_only:
        query = query.where(USER.c.active.is_(True))
    user_id = conn.execute(query).scalar()
    if user_id is None:
        raise UserNotFound(username)
    return int(user_id)


def user_row(db: sa.Engine, username: str) -> dict[str, Any] | None:
    rows = list_users(db, username)
    return rows[0] if rows else None


def list_users(db: sa.Engine, username: str | None = None) -> list[dict[str, Any]]:
    """Users as the admin pages and ``gaita user list`` show them (no secrets)."""
    query = sa.select(USER.c.username, *_COLUMNS.values(),
                      USER.c.totp_secret.is_not(None).label("totp")).order_by(USER.c.username)
    if username is not None:
        query = query.where(USER.c.username == username)
    with db.connect() as conn:
        return [{"username": r.username, **dict(zip(_COLUMNS, r[1:-1], strict=True)),
                 "totp": bool(r.totp)} for r in conn.execute(query)]


# --- settings ---------------------------------------------------------------------------------


def set_totp_roles(db: sa.Engine, rt: Runtime, actor: str, roles: list[str]) -> bool:
    """The user roles that must use a second factor; False: unchanged."""
    known = rt.registry.roles.user_roles
    if unknown := [r for r in roles if r not in known]:
        raise InvalidInput([Invalid("roles", msg("user.unknown_role", role=unknown[0],
                                                 known=_roles(rt, known)))])
    chosen = [r for r in known if r in roles]
    with db.begin() as conn:
        old = conn.execute(sa.select(SETTING.c.value).where(
            SETTING.c.key == TOTP_ROLES)).scalar() or []
        if old == chosen:
            return False
        now = rt.clock.now()
        put_setting(conn, TOTP_ROLES, chosen, now, actor)
        audit_log.audit(conn, now, actor, "settings.totp_roles", TOTP_ROLES,
                        roles={"from": old, "to": chosen})
    return True


# --- API tokens ---------------------------------------------------------------------------


def create_token(db: sa.Engine, rt: Runtime, actor: str, username: str,
                 name: str) -> tuple[int, str]:
    """A new bearer token acting as the active user ``username``: (id, token).  The
    token is shown once; only its hash is stored."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput([Invalid("name", msg("token.name"))])
    now = rt.clock.now()
    with db.begin() as conn:
        user_id = _user_id(conn, username, active_only=True)
        token_id, token = insert_api_token(conn, user_id, name, now, actor)
        audit_log.audit(conn, now, actor, "token.create", username, token_id=token_id, name=name)
    return token_id, token


def revoke_token(db: sa.Engine, rt: Runtime, actor: str, token_id: int) -> None:
    """Revoke an unrevoked token: requests with it are refused from now on."""
    now = rt.clock.now()
    with db.begin() as conn:
        row = conn.execute(sa.select(TOKEN.c.name, USER.c.username)
                           .select_from(TOKEN.join(USER, USER.c.id == TOKEN.c.user_id))
                           .where(TOKEN.c.id == token_id)).first()
        if row is None or not revoke_api_token(conn, token_id, now):
            raise NotFound("token.not_found", token=token_id)
        audit_log.audit(conn, now, actor, "token.revoke", row.username, token_id=token_id,
                        name=row.name)


def list_tokens(db: sa.Engine) -> list[dict[str, Any]]:
    query = (sa.select(TOKEN.c.id, TOKEN.c.name, USER.c.username, TOKEN.c.created_at,
                       TOKEN.c.created_by, TOKEN.c.last_used_at, TOKEN.c.revoked_at)
             .select_from(TOKEN.join(USER, USER.c.id == TOKEN.c.user_id)).order_by(TOKEN.c.id))
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


# --- the admin log ----------------------------------------------------------------------------


def admin_log(db: sa.Engine, *, limit: int, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The newest rows first, and how many there are."""
    with db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(ADMIN_LOG)).scalar_one()
        rows = conn.execute(sa.select(ADMIN_LOG).order_by(ADMIN_LOG.c.id.desc())
                            .limit(limit).offset(offset)).mappings()
        return [dict(r) for r in rows], int(total)
