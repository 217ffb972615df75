"""Administrators' changes to the municipality's configuration, shared by the admin
pages and the CLI.

Institutions: ``config/<municipality>/institutions.yaml`` is the source of truth.
``edit_institution`` changes one entry's contacts and roles through a ``ruamel.yaml``
round trip (comments, key order and quoting survive), loads the whole municipality
from a temporary copy of the folder first (a problem raises the loader's
``ConfigError``, ``file:line: reason``, naming the real file, and nothing is
written), then replaces the file atomically (temporary file + ``os.replace``).
``reload_runtime`` re-reads config and workflows into a running app: institutions
upserted, calendar rebuilt, and only then swapped into ``app.rt``.  Only the
process that reloads sees the change; other processes read config at start.

Calendar overrides (``engine.overrides``): ``set_calendar_override`` and
``remove_calendar_override`` make the change and rebuild ``rt.calendar``.

Each change writes its admin-log row (``admin_log.audit``) in the transaction that
makes it.  Users and their credentials are ``gaita.users``'.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from engine.errors import GaitaError, InvalidDeclaration, NotFound
from engine.municipality import MunicipalityConfig
from engine.overrides import remove_override, set_override
from engine.runtime import Actor, Runtime
from gaita.accounts import admin_log
from gaita.bootstrap import App, load_declarations, load_known_names, make_calendar
from gaita.dbsetup import upsert_institutions
from gaita.settings import Settings

INSTITUTIONS = "institutions.yaml"
#: Where a key an entry lacks goes (the order of ``engine.municipality.Institution``).
_ORDER = ("code", "name", "short", "roles", "email", "head_email", "fallback_email", "locale")
#: One edit of the config folder at a time in this process (read, check, replace).
_EDITING = threading.Lock()


class ConfigChanged(GaitaError):
    """The file changed since the form showing it was opened."""


# --- institutions.yaml -------------------------------------------------------------------


@dataclass(frozen=True)
class InstitutionEdit:
    """What the admin page edits in one entry; None: no such key (the default)."""

    email: str | None
    head_email: str | None
    locale: str | None
    roles: tuple[str, ...]
    fallback_email: str | None = None


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
            for k in ("email", "head_email", "fallback_email", "locale")}
    edit = InstitutionEdit(**text, roles=tuple(str(r) for r in entry.get("roles") or ()))
    return edit, hashlib.sha256(raw).hexdigest()


def _entry(data: Any, code: str, path: Path) -> CommentedMap:
    for item in data if isinstance(data, list) else ():
        if isinstance(item, CommentedMap) and item.get("code") == code:
            return item
    raise NotFound("institution.not_in_file", code=code, file=str(path))


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
        raise ConfigChanged("config.changed", file=str(path))
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
        admin_log.audit(conn, rt.clock.now(), actor, "institution.edit", code, **changes)
        replace_file(path, text.encode("utf-8"))
    return changes


def _apply(entry: CommentedMap, edit: InstitutionEdit) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, value in (("email", edit.email), ("head_email", edit.head_email),
                       ("fallback_email", edit.fallback_email), ("locale", edit.locale)):
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
            real = str(settings.config)
            problems = [dataclasses.replace(p, file=p.file.replace(str(copy), real, 1))
                        for p in exc.problems]
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
    with app.db.begin() as conn:   # the institutions and the log row commit together
        upsert_institutions(conn, municipality)
        if actor:
            admin_log.audit(conn, app.rt.clock.now(), actor, "config.reload",
                            str(app.settings.config), institutions=len(municipality.institutions),
                            case_types=sorted(registry.case_types))
    calendar = make_calendar(municipality, app.db)
    app.rt.registry, app.rt.municipality, app.rt.calendar = registry, municipality, calendar
    return municipality


# --- calendar overrides ---------------------------------------------------------------------


def set_calendar_override(db: sa.Engine, rt: Runtime, actor: Actor, day: date, kind: str,
                          note: str, *, logged_as: str) -> None:
    """``engine.overrides.set_override`` and its admin-log row (by ``logged_as``) in one
    transaction; then deadlines computed in this process follow the new calendar."""
    now = rt.clock.now()
    with db.begin() as conn:
        set_override(conn, rt, actor, day, kind, note, now)
        admin_log.audit(conn, now, logged_as, "calendar.set", day.isoformat(), kind=kind,
                        note=note.strip())
    rt.calendar = make_calendar(rt.municipality, db)


def remove_calendar_override(db: sa.Engine, rt: Runtime, actor: Actor, day: date, *,
                             logged_as: str) -> None:
    """``engine.overrides.remove_override`` and its admin-log row in one transaction."""
    with db.begin() as conn:
        remove_override(conn, rt, actor, day)
        admin_log.audit(conn, rt.clock.now(), logged_as, "calendar.remove", day.isoformat())
    rt.calendar = make_calendar(rt.municipality, db)
