"""Administrators' changes outside the engine, shared by the admin pages and the CLI.

Institutions: ``config/<municipality>/institutions.yaml`` is the source of truth.
``edit_institution`` changes one entry's contacts and roles through a ``ruamel.yaml``
round trip (comments, key order and quoting survive), loads the whole municipality
from a temporary copy of the folder first (a problem raises the loader's
``ConfigError``, ``file:line: reason``, naming the real file, and nothing is
written), then replaces the file atomically (temporary file + ``os.replace``).
``reload_runtime`` re-reads config and workflows into a running app: institutions
upserted, calendar rebuilt, and only then swapped into ``app.rt``.  Only the
process that reloads sees the change; other processes read config at start.

Users, the TOTP setting and API tokens: each change writes its admin-log row
(``accounts.audit``) in the transaction that makes it, and sessions end when a
user's access changes.  Passwords, TOTP secrets and tokens never reach the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from engine.errors import GaitaError, InvalidDeclaration, NotFound, NotPermitted, Problem
from engine.errors import UserNotFound
from engine.municipality import Email, MunicipalityConfig
from engine.runtime import Runtime
from gaita import accounts
from gaita.accounts import ADMIN_LOG, SETTING, TOKEN, USER
from gaita.bootstrap import App, load_declarations, load_known_names, make_calendar
from gaita.dbsetup import load_institutions
from gaita.settings import Settings
from notifications.render import LOCALES

INSTITUTIONS = "institutions.yaml"
#: Where a key an entry lacks goes (the order of ``engine.municipality.Institution``).
_ORDER = ("code", "name", "short", "roles", "email", "head_email", "locale")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MAX_NAME = 200
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)   # the same rule as the config's addresses
#: One edit of the config folder at a time in this process (read, check, replace).
_EDITING = threading.Lock()


# --- what an administrator may get wrong -----------------------------------------------


@dataclass(frozen=True)
class Invalid:
    """One problem with a form or command: the field, a code (the admin pages' message
    ``admin.invalid.<code>``), and the message in English (the CLI's)."""

    field: str
    code: str
    message: str
    values: dict[str, Any] = field(default_factory=dict)


class InvalidInput(NotPermitted):
    def __init__(self, problems: list[Invalid]):
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


class ConfigChanged(GaitaError):
    """The file changed since the form showing it was opened."""


def _invalid(field_: str, code: str, message: str, **values: Any) -> Invalid:
    return Invalid(field_, code, message.format(**values), values)


# --- institutions.yaml -------------------------------------------------------------------


@dataclass(frozen=True)
class InstitutionEdit:
    """What the admin page edits in one entry; None: no such key (the default)."""

    email: str | None
    head_email: str | None
    locale: str | None
    roles: tuple[str, ...]


def _yaml() -> YAML:
    y = YAML()   # round trip
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=2, offset=0)
    return y


def read_institution(settings: Settings, code: str) -> tuple[InstitutionEdit, str]:
    """One entry as the file has it now, and the file's SHA-256 (a form carries it back,
    so a change made meanwhile is noticed)."""
    path = settings.config / INSTITUTIONS
    raw = path.read_bytes()
    entry = _entry(_yaml().load(raw.decode("utf-8")), code, path)
    text = {k: None if entry.get(k) is None else str(entry[k])
            for k in ("email", "head_email", "locale")}
    edit = InstitutionEdit(**text, roles=tuple(str(r) for r in entry.get("roles") or ()))
    return edit, hashlib.sha256(raw).hexdigest()


def _entry(data: Any, code: str, path: Path) -> CommentedMap:
    for item in data if isinstance(data, list) else ():
        if isinstance(item, CommentedMap) and item.get("code") == code:
            return item
    raise NotFound(f"no institution {code!r} in {path}")


def edit_institution(settings: Settings, db: sa.Engine, rt: Runtime, actor: str, code: str,
                     edit: InstitutionEdit, *, expected_digest: str | None = None
                     ) -> dict[str, Any]:
    """Change one institution's entry; returns the changes (empty: nothing written)."""
    with _EDITING:
        return _edit_institution(settings, db, rt, actor, code, edit, expected_digest)


def _edit_institution(settings: Settings, db: sa.Engine, rt: Runtime, actor: str, code: str,
                      edit: InstitutionEdit, expected_digest: str | None) -> dict[str, Any]:
    path = settings.config / INSTITUTIONS
    original = path.read_bytes()
    if expected_digest and hashlib.sha256(original).hexdigest() != expected_digest:
        raise ConfigChanged(f"{path} changed since the form was opened")
    y = _yaml()
    data = y.load(original.decode("utf-8"))
    changes = _apply(_entry(data, code, path), edit)
    if not changes:
        return {}
    out = io.StringIO()
    y.dump(data, out)
    text = out.getvalue()
    validate_config(settings, {INSTITUTIONS: text})
    with db.begin() as conn:   # the log row commits only if the file was replaced
        accounts.audit(conn, rt.clock.now(), actor, "institution.edit", code, **changes)
        replace_file(path, text.encode("utf-8"))
    return changes


def _apply(entry: CommentedMap, edit: InstitutionEdit) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, value in (("email", edit.email), ("head_email", edit.head_email),
                       ("locale", edit.locale)):
        old = entry.get(key)
        if (None if old is None else str(old)) == value:
            continue
        changes[key] = {"from": None if old is None else str(old), "to": value}
        if key in entry:
            entry[key] = value   # None is written as an empty value: comments stay put
        else:
            _insert(entry, key, value)
    old_roles = [str(r) for r in entry.get("roles") or ()]
    if old_roles != list(edit.roles):
        changes["roles"] = {"from": old_roles, "to": list(edit.roles)}
        seq = entry.get("roles")
        if isinstance(seq, CommentedSeq):
            del seq[:]
            seq.extend(edit.roles)
        else:
            seq = CommentedSeq(edit.roles)
            seq.fa.set_flow_style()
            _insert(entry, "roles", seq)
    return changes


def _insert(entry: CommentedMap, key: str, value: Any) -> None:
    """Add ``key`` where the schema's order puts it.  Appended last, it takes over the
    comment that followed the entry (ruamel keeps it on the last value)."""
    keys = list(entry)
    before = [k for k in _ORDER[:_ORDER.index(key)] if k in entry]
    at = keys.index(before[-1]) + 1 if before else 0
    tail = _detach_tail(entry) if at == len(keys) else None
    entry.insert(at, key, value)
    if tail:
        entry.ca.items[key] = [None, None, CommentToken("\n" + tail, CommentMark(0)), None]


def _detach_tail(node: CommentedMap | CommentedSeq) -> str | None:
    """Remove and return the whole-line comments after ``node``'s last line."""
    last: Any = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
    value = node[last]
    if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        return _detach_tail(value)
    entry = node.ca.items.get(last)
    slot = 2 if isinstance(node, CommentedMap) else 0
    token = entry[slot] if entry else None
    if token is None:
        return None
    inline, newline, rest = token.value.partition("\n")
    if not rest:
        return None
    token.value = inline + newline
    return str(rest)


def validate_config(settings: Settings, replaced: dict[str, str]) -> None:
    """Load the municipality from a copy of its folder with ``replaced`` files; raise
    the loader's error, naming the real folder, if it does not load."""
    with tempfile.TemporaryDirectory(prefix="gaita-config-") as tmp:
        copy = Path(tmp) / settings.config.name
        shutil.copytree(settings.config, copy)
        for name, text in replaced.items():
            (copy / name).write_text(text, encoding="utf-8")
        try:
            load_known_names(settings.model_copy(update={"config": copy}))
        except InvalidDeclaration as exc:
            problems = [Problem(p.file.replace(str(copy), str(settings.config), 1), p.line,
                                p.reason) for p in exc.problems]
            raise type(exc)(problems) from None


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: readers see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def reload_runtime(app: App, actor: str | None = None) -> MunicipalityConfig:
    """Re-read config and workflows into ``app``: a broken file raises its loader's error
    and nothing changes.  ``actor``: also log the reload."""
    municipality, registry = load_declarations(app.settings)
    load_institutions(app.db, municipality)
    calendar = make_calendar(municipality, app.db)
    if actor:
        with app.db.begin() as conn:
            accounts.audit(conn, app.rt.clock.now(), actor, "config.reload",
                           str(app.settings.config), institutions=len(municipality.institutions),
                           case_types=sorted(registry.case_types))
    app.rt.registry, app.rt.municipality, app.rt.calendar = registry, municipality, calendar
    return municipality


# --- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserFields:
    display_name: str
    role: str
    institution: str | None = None
    email: str | None = None
    locale: str = LOCALES[0]
    digest: bool = False
    active: bool = True


_COLUMNS = {"display_name": USER.c.display_name, "role": USER.c.role,
            "institution": USER.c.institution_code, "email": USER.c.email,
            "locale": USER.c.locale, "digest": USER.c.digest, "active": USER.c.active}


def check_user(rt: Runtime, f: UserFields) -> list[Invalid]:
    roles, problems = rt.registry.roles, []
    if not f.display_name.strip() or len(f.display_name) > MAX_NAME:
        problems.append(_invalid("display_name", "name", "a name of 1 to {limit} characters",
                                 limit=MAX_NAME))
    if f.role not in roles.user_roles:
        problems.append(_invalid("role", "unknown_role", "unknown user role {role!r}; known: "
                                 "{known}", role=f.role, known=", ".join(roles.user_roles)))
    codes = {i.code for i in rt.municipality.institutions}
    if f.institution and f.institution not in codes:
        problems.append(_invalid("institution", "unknown_institution",
                                 "no institution {institution!r}", institution=f.institution))
    elif not f.institution and roles.own_tasks_only(f.role):
        problems.append(_invalid("institution", "institution_required",
                                 "role {role!r} works for an institution: give one", role=f.role))
    if f.email:
        try:
            _EMAIL.validate_python(f.email)
        except ValidationError:
            problems.append(_invalid("email", "bad_email", "{email!r} is not an email address",
                                     email=f.email))
    if f.locale not in LOCALES:
        problems.append(_invalid("locale", "bad_locale", "the language is one of {known}",
                                 known=", ".join(LOCALES)))
    return problems


def _password_problems(password: str) -> list[Invalid]:
    if len(password) >= accounts.MIN_PASSWORD:
        return []
    return [_invalid("password", "weak_password", "a password needs at least {min} characters",
                     min=accounts.MIN_PASSWORD)]


def check_new_user(db: sa.Engine, rt: Runtime, username: str, f: UserFields) -> list[Invalid]:
    problems = check_user(rt, f)
    if not USERNAME.fullmatch(username):
        problems.insert(0, _invalid("username", "username", "2 to 64 lower-case letters, "
                                    "digits, '.', '_' or '-', starting with a letter or digit"))
    elif user_row(db, username) is not None:
        problems.insert(0, _invalid("username", "username_taken", "{username!r} is taken",
                                    username=username))
    return problems


def create_user(db: sa.Engine, rt: Runtime, actor: str, username: str, f: UserFields,
                password: str) -> None:
    problems = check_new_user(db, rt, username, f) + _password_problems(password)
    if problems:
        raise InvalidInput(problems)
    hashed = accounts.hash_password(password)   # slow on purpose: before the transaction
    values = {name: getattr(f, name) for name in _COLUMNS}
    try:
        with db.begin() as conn:
            conn.execute(sa.insert(USER).values(
                username=username, password_hash=hashed,
                **{_COLUMNS[k].name: v for k, v in values.items()}))
            accounts.audit(conn, rt.clock.now(), actor, "user.create", username, **values)
    except sa.exc.IntegrityError:   # added meanwhile by someone else
        raise InvalidInput([_invalid("username", "username_taken", "{username!r} is taken",
                                     username=username)]) from None


def update_user(db: sa.Engine, rt: Runtime, actor: str, username: str,
                f: UserFields) -> dict[str, Any]:
    """Save a user's fields; returns the changes.  A change of role, institution or a
    deactivation ends the user's sessions.  Nobody deactivates or demotes themself."""
    problems = check_user(rt, f)
    if actor == username and not (f.active and rt.registry.roles.administers(f.role)):
        problems.append(_invalid("active", "self_lockout",
                                 "you cannot deactivate yourself or drop your own admin role"))
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
            accounts.end_sessions_of(conn, row.id)
        accounts.audit(conn, rt.clock.now(), actor, "user.update", username, **changes)
    return changes


def set_password(db: sa.Engine, rt: Runtime, actor: str, username: str, password: str) -> None:
    """A new password; the user's sessions end."""
    if problems := _password_problems(password):
        raise InvalidInput(problems)
    hashed = accounts.hash_password(password)
    with db.begin() as conn:
        user_id = _user_id(conn, username)
        conn.execute(sa.update(USER).where(USER.c.id == user_id).values(password_hash=hashed))
        accounts.end_sessions_of(conn, user_id)
        accounts.audit(conn, rt.clock.now(), actor, "user.password", username)


def remove_totp(db: sa.Engine, rt: Runtime, actor: str, username: str) -> bool:
    """Forget the user's second factor (they enrol again at the next login; their
    sessions end).  False: they had none."""
    with db.begin() as conn:
        user_id = _user_id(conn, username)
        done = conn.execute(sa.update(USER).where(USER.c.id == user_id,
                                                  USER.c.totp_secret.is_not(None))
                            .values(totp_secret=None)).rowcount
        if done:
            accounts.end_sessions_of(conn, user_id)
            accounts.audit(conn, rt.clock.now(), actor, "user.totp_removed", username)
    return bool(done)


def _user_id(conn: sa.Connection, username: str) -> int:
    user_id = conn.execute(sa.select(USER.c.id).where(USER.c.username == username)).scalar()
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
        raise InvalidInput([_invalid("roles", "unknown_role", "unknown user role {role!r}; "
                                     "known: {known}", role=unknown[0], known=", ".join(known))])
    chosen = [r for r in known if r in roles]
    with db.begin() as conn:
        old = conn.execute(sa.select(SETTING.c.value).where(
            SETTING.c.key == accounts.TOTP_ROLES)).scalar() or []
        if old == chosen:
            return False
        now = rt.clock.now()
        accounts.put_setting(conn, accounts.TOTP_ROLES, chosen, now, actor)
        accounts.audit(conn, now, actor, "settings.totp_roles", accounts.TOTP_ROLES,
                       roles={"from": old, "to": chosen})
    return True


# --- API tokens ---------------------------------------------------------------------------


def create_token(db: sa.Engine, rt: Runtime, actor: str, username: str,
                 name: str) -> tuple[int, str]:
    """A new bearer token for ``username``: (id, token).  The token is shown once; only
    its hash is stored (as ``accounts.create_api_token``, here with the log row)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput([_invalid("name", "token_name", "a name of 1 to 64 characters")])
    token = accounts.TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = rt.clock.now()
    with db.begin() as conn:
        user_id = conn.execute(sa.select(USER.c.id).where(
            USER.c.username == username, USER.c.active.is_(True))).scalar()
        if user_id is None:
            raise UserNotFound(username)
        token_id = conn.execute(sa.insert(TOKEN).values(
            user_id=user_id, name=name, token_hash=accounts.digest(token), created_at=now,
            created_by=actor)).inserted_primary_key[0]
        accounts.audit(conn, now, actor, "token.create", username, token_id=token_id, name=name)
    return int(token_id), token


def revoke_token(db: sa.Engine, rt: Runtime, actor: str, token_id: int) -> None:
    now = rt.clock.now()
    with db.begin() as conn:
        row = conn.execute(sa.select(TOKEN.c.name, USER.c.username)
                           .select_from(TOKEN.join(USER, USER.c.id == TOKEN.c.user_id))
                           .where(TOKEN.c.id == token_id, TOKEN.c.revoked_at.is_(None))).first()
        if row is None:
            raise NotFound(f"no unrevoked API token {token_id}")
        conn.execute(sa.update(TOKEN).where(TOKEN.c.id == token_id).values(revoked_at=now))
        accounts.audit(conn, now, actor, "token.revoke", row.username, token_id=token_id,
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
