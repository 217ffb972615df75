"""The administrators' configuration pages: institutions and their roles
(``/admin/institutions``, edited in the config folder's file), calendar overrides
(``/admin/calendar``) and the config reload (``POST /admin/reload``, a button on the
overview).

Like every admin page they need ``Action.ADMINISTER``, and forms are checked for CSRF
first (``gaita.web.admin.post``).  The changes themselves are ``gaita.config_edit``'s;
each writes its admin-log row in the transaction that makes the change.  This module
parses forms, shows what went wrong (422, values kept) and redirects after success
(``?done=<what>``), with the helpers of ``gaita.web.admin``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from engine.dates import InvalidDate, parse_day
from engine.errors import FieldError, InvalidDeclaration, NotFound, Problem
from engine.overrides import KINDS, list_overrides
from gaita import config_edit
from gaita.bootstrap import App
from gaita.config_edit import ConfigChanged, InstitutionEdit
from gaita.web import admin
from gaita.web.auth import Viewer
from i18n import translator
from i18n.messages import render

router = APIRouter()
MAX_NOTE = 200

#: The institution form's inputs, each named after the key of institutions.yaml it edits.
_INPUTS = ("email", "head_email", "fallback_email", "locale", "roles")


def _config_errors(viewer: Viewer, exc: InvalidDeclaration, *, link: bool = False
                   ) -> list[dict[str, str]]:
    """The loader's problems, ``file:line: reason`` in the viewer's language; ``link``: to
    the institution form's input a problem is about."""
    return [{"target": _input_of(p) if link else "", "text": render(viewer.lang, p)}
            for p in exc.problems]


def _input_of(p: Problem) -> str:
    """The input of the institution form a problem of institutions.yaml is about: the key
    it edits on the problem's path in the file, or the roles for a problem about a role
    (such as a role no institution holds); none for anything else."""
    if Path(p.file).name != config_edit.INSTITUTIONS:
        return ""
    key = next((part for part in reversed(p.loc) if part in _INPUTS), None)
    return str(key) if key is not None else "roles" if "role" in p.reason.params else ""


# --- the config reload ------------------------------------------------------------------------


@router.post("/admin/reload")
async def reload(request: Request) -> Response:
    return await admin.post(request, _reload)


def _reload(request: Request, app: App, viewer: Viewer, form: FormData) -> Response:
    try:
        config_edit.reload_runtime(app, viewer.account.username)
    except InvalidDeclaration as exc:
        return admin.overview_page(request, app, viewer, status=422,
                                   errors=_config_errors(viewer, exc))
    return admin.done("/admin", "reloaded")


# --- institutions -----------------------------------------------------------------------------


@router.get("/admin/institutions")
def institutions(request: Request, viewer: admin.AdminPage) -> Response:
    app = admin.require_admin(request, viewer)
    return _institutions(request, app, viewer)


def _institutions(request: Request, app: App, viewer: Viewer, *, status: int = 200,
                  errors: list[dict[str, str]] | None = None, error_title: str = "") -> Response:
    roles = {r: getattr(spec, viewer.lang)
             for r, spec in app.rt.registry.roles.institution_roles.items()}
    return admin.show(request, app, viewer, "admin/institutions.html", "admin.inst.title",
                      status=status, errors=errors, error_title=error_title,
                      institutions=app.rt.municipality.institutions,
                      inst_roles=roles, folder=str(app.settings.config))


def _institution(app: App, code: str) -> Any:
    try:
        return app.rt.municipality.institution(code)
    except KeyError:
        raise NotFound("institution.not_found", code=code) from None


@router.get("/admin/institutions/{code}")
def institution_edit(request: Request, viewer: admin.AdminPage, code: str) -> Response:
    app = admin.require_admin(request, viewer)
    inst = _institution(app, code)
    entry, digest = config_edit.read_institution(app.settings, code)   # the file is the truth
    values = {**entry.__dict__, "roles": list(entry.roles), "digest": digest}
    return _institution_form(request, app, viewer, inst, values)


def _institution_form(request: Request, app: App, viewer: Viewer, inst: Any,
                      values: dict[str, Any], *, status: int = 200,
                      errors: list[dict[str, str]] | None = None,
                      error_title: str = "") -> Response:
    m, lang = app.rt.municipality, viewer.lang
    holders = {i.code: getattr(i.name, lang) for i in m.institutions}
    roles = [{"code": r, "title": getattr(spec, lang), "shared": r in m.shared_roles,
              "held_by": ", ".join(holders[i.code] for i in m.institutions
                                   if r in i.roles and i.code != inst.code)}
             for r, spec in app.rt.registry.roles.institution_roles.items()]
    return admin.show(request, app, viewer, "admin/institution_form.html", "admin.inst.edit_title",
                      status=status, errors=errors, error_title=error_title, inst=inst,
                      name=getattr(inst.name, lang),
                      values=values, roles=roles,
                      default_locale=m.municipality.default_locale,
                      file=str(app.settings.config / config_edit.INSTITUTIONS))


@router.post("/admin/institutions/{code}")
async def institution_save(request: Request, code: str) -> Response:
    return await admin.post(request, _institution_save, code)


def _institution_save(request: Request, app: App, viewer: Viewer, form: FormData,
                      code: str) -> Response:
    inst, t = _institution(app, code), translator(viewer.lang)
    edit = InstitutionEdit(email=admin.opt(form, "email"),
                           head_email=admin.opt(form, "head_email"),
                           fallback_email=admin.opt(form, "fallback_email"),
                           locale=admin.opt(form, "locale"),
                           roles=tuple(r for r in form.getlist("roles") if isinstance(r, str)))
    values = {**edit.__dict__, "roles": list(edit.roles), "digest": admin.text(form, "digest")}

    def again(status: int, errors: list[dict[str, str]], title: str = "") -> Response:
        return _institution_form(request, app, viewer, inst, values, status=status,
                                 errors=errors, error_title=title)

    if not values["digest"]:   # not this page's form: never a blind overwrite of the file
        return again(422, [{"target": "", "text": t("admin.inst.incomplete")}])
    try:
        changes = config_edit.edit_institution(
            app.settings, app.db, app.rt, viewer.account.username, code, edit,
            expected_digest=values["digest"])
    except InvalidDeclaration as exc:
        return again(422, _config_errors(viewer, exc, link=True), t("admin.inst.invalid"))
    except ConfigChanged:
        values["digest"] = config_edit.read_institution(app.settings, code)[1]
        return again(409, [{"target": "", "text": t("admin.inst.changed")}])
    except OSError as exc:
        return again(500, [{"target": "", "text": t("admin.inst.write_failed", error=str(exc))}])
    if not changes:
        return admin.done("/admin/institutions", "unchanged")
    try:
        config_edit.reload_runtime(app)
    except InvalidDeclaration as exc:   # saved, but something else does not load
        return _institutions(request, app, viewer, status=422, errors=_config_errors(viewer, exc),
                             error_title=t("admin.inst.saved_not_loaded"))
    return admin.done("/admin/institutions", "saved")


# --- calendar overrides -----------------------------------------------------------------------


@router.get("/admin/calendar")
def calendar(request: Request, viewer: admin.AdminPage) -> Response:
    app = admin.require_admin(request, viewer)
    return _calendar(request, app, viewer, {"kind": KINDS[0]})


def _calendar(request: Request, app: App, viewer: Viewer, values: dict[str, str], *,
              status: int = 200, errors: list[dict[str, str]] | None = None) -> Response:
    t = translator(viewer.lang)
    return admin.show(request, app, viewer, "admin/calendar.html", "admin.cal.title",
                      status=status, errors=errors, overrides=list_overrides(app.db),
                      values=values, kind_titles={k: t(f"admin.cal.kind.{k}") for k in KINDS},
                      max_note=MAX_NOTE)


@router.post("/admin/calendar")
async def calendar_set(request: Request) -> Response:
    return await admin.post(request, _calendar_set)


def _calendar_set(request: Request, app: App, viewer: Viewer, form: FormData) -> Response:
    t = translator(viewer.lang)
    values = {"day": admin.text(form, "day"), "kind": admin.text(form, "kind"),
              "note": admin.text(form, "note")}
    errors = []
    day = _day(values["day"])
    if day is None:
        errors.append({"target": "day", "text": t("admin.cal.bad_day")})
    if len(values["note"]) > MAX_NOTE:
        errors.append({"target": "note", "text": t("too_long", limit=MAX_NOTE)})
    if day is not None and not errors:
        try:
            config_edit.set_calendar_override(app.db, app.rt, viewer.actor, day,
                                              values["kind"], values["note"],
                                              logged_as=viewer.account.username)
        except FieldError:
            errors.append({"target": "kind", "text": t("admin.cal.bad_kind")})
    if errors or day is None:
        return _calendar(request, app, viewer, values, status=422, errors=errors)
    return admin.done("/admin/calendar", "override_set")


def _day(text: str) -> date | None:
    """The day typed (``DD.MM.YYYY`` or ``YYYY-MM-DD``, ``engine.dates``), or ``None``."""
    try:
        return parse_day(text)
    except InvalidDate:
        return None


@router.post("/admin/calendar/{day}/remove")
async def calendar_remove(request: Request, day: str) -> Response:
    return await admin.post(request, _calendar_remove, day)


def _calendar_remove(request: Request, app: App, viewer: Viewer, form: FormData,
                     day: str) -> Response:
    when = _day(day)
    if when is None:
        raise NotFound("calendar.no_override", day=day)
    config_edit.remove_calendar_override(app.db, app.rt, viewer.actor, when,
                                         logged_as=viewer.account.username)
    return admin.done("/admin/calendar", "override_removed")
