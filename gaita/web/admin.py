"""The administrators' pages (``/admin``): the overview with the admin log, users,
the second-factor setting and API tokens; and what every admin page shares (the
administrator check, form handling, the page frame with its notices and errors),
which ``gaita.web.admin_config`` (institutions, calendar overrides, the config
reload) uses too.

Everything here needs ``Action.ADMINISTER``; forms are checked for CSRF first.
The changes themselves are ``gaita.users``' (users, the second-factor setting, API
tokens, the admin log); each writes its admin-log row in the transaction that makes
the change.  This module parses forms, shows what went wrong (422, values kept) and
redirects after success (``?done=<what>``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from engine.errors import NotFound, UserNotFound
from engine.policy import Action
from gaita import users
from gaita.accounts.passwords import MIN_PASSWORD
from gaita.accounts.runtime_settings import get_setting
from gaita.accounts.second_factor import TOTP_ROLES
from gaita.bootstrap import App
from gaita.users import Invalid, InvalidInput, UserFields
from gaita.web.auth import Viewer, form_user, gaita_of, web_user
from gaita.web.render import page
from i18n import translator
from i18n.messages import render

router = APIRouter()
LOG_PAGE = 25
#: Notices after a change (``?done=``): the keys ``admin.done.<what>``.
DONE = ("created", "saved", "unchanged", "password", "totp", "reloaded", "override_set",
        "override_removed", "revoked")
#: The admin log's actions with a title (``admin.action.<action>``); others show as logged.
ACTIONS = ("user.create", "user.update", "user.password", "user.totp_removed",
           "institution.edit", "config.reload", "calendar.set", "calendar.remove",
           "settings.totp_roles", "token.create", "token.revoke")
SECTIONS = (("/admin/users", "admin.users.title"), ("/admin/institutions", "admin.inst.title"),
            ("/admin/calendar", "admin.cal.title"), ("/admin/security", "admin.sec.title"),
            ("/admin/tokens", "admin.tokens.title"))


def require_admin(request: Request, viewer: Viewer) -> App:
    app = gaita_of(request)
    viewer.require(app, Action.ADMINISTER)
    return app


AdminPage = Annotated[Viewer, Depends(web_user)]


async def post(request: Request, handle: Callable[..., Response], *args: Any) -> Response:
    """A form: CSRF and the administrator's right first, then ``handle`` in a thread."""
    viewer, form = await form_user(request)
    app = require_admin(request, viewer)
    return await run_in_threadpool(handle, request, app, viewer, form, *args)


def done(where: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"{where}?done={what}", status_code=303)


def show(request: Request, app: App, viewer: Viewer, template: str, title_key: str, *,
         status: int = 200, errors: list[dict[str, str]] | None = None,
         error_title: str = "", **context: Any) -> Response:
    t = translator(viewer.lang)
    what = request.query_params.get("done") if request.method == "GET" else None
    return page(request, app, viewer, template, title=t(title_key), status=status,
                sections=SECTIONS, errors=errors or [], error_title=error_title,
                invalid={e["target"] for e in errors or () if e.get("target")},
                notice=t(f"admin.done.{what}") if what in DONE else "",
                locales={"lv": t("admin.locale.lv"), "en": t("admin.locale.en")}, **context)


def _errors(viewer: Viewer, problems: tuple[Invalid, ...] | list[Invalid]) -> list[dict[str, str]]:
    """The error summary's entries: each problem in the viewer's words, a link to its field."""
    return [{"target": p.field, "text": render(viewer.lang, p.message)} for p in problems]


def text(form: FormData, name: str, limit: int = 1000) -> str:
    """A text field, trimmed; ``limit`` only bounds what is kept for the checks after."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def opt(form: FormData, name: str) -> str | None:
    return text(form, name) or None


# --- overview and the admin log ------------------------------------------------------------


@router.get("/admin")
def overview(request: Request, viewer: AdminPage,
             page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1) -> Response:
    app = require_admin(request, viewer)
    return overview_page(request, app, viewer, page_no)


def overview_page(request: Request, app: App, viewer: Viewer, page_no: int = 1, *,
                  status: int = 200, errors: list[dict[str, str]] | None = None) -> Response:
    t = translator(viewer.lang)
    rows, total = users.admin_log(app.db, limit=LOG_PAGE, offset=(page_no - 1) * LOG_PAGE)
    log = [{"at": app.rt.calendar.format_local(r["at"], viewer.lang), "actor": r["actor"],
            "target": r["target"],
            "action": t(f"admin.action.{r['action']}") if r["action"] in ACTIONS else r["action"],
            "detail": _detail(r["detail"])} for r in rows]
    return show(request, app, viewer, "admin/index.html", "admin.title", status=status,
                errors=errors, error_title=t("admin.reload.failed") if errors else "",
                log=log, page_no=page_no,
                newer=page_no - 1 if page_no > 1 else None,
                older=page_no + 1 if page_no * LOG_PAGE < total else None)


def _detail(detail: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        if isinstance(value, dict) and value.keys() == {"from", "to"}:
            return f"{shown(value['from'])} → {shown(value['to'])}"
        if isinstance(value, list):
            return "[" + ", ".join(map(shown, value)) + "]"
        return "—" if value is None or value == "" else str(value)
    return "; ".join(f"{k}: {shown(v)}" for k, v in detail.items())


# --- users ------------------------------------------------------------------------------------


@router.get("/admin/users")
def user_list(request: Request, viewer: AdminPage) -> Response:
    app = require_admin(request, viewer)
    return show(request, app, viewer, "admin/users.html", "admin.users.title",
                users=users.list_users(app.db), **_choices(app, viewer))


def _choices(app: App, viewer: Viewer) -> dict[str, Any]:
    """The user roles and institutions, titled in the page's language."""
    lang, m = viewer.lang, app.rt.municipality
    roles = {r: getattr(spec, lang) for r, spec in app.rt.registry.roles.user_roles.items()}
    insts = sorted(((i.code, getattr(i.name, lang)) for i in m.institutions), key=lambda x: x[1])
    return {"roles": roles, "institutions": insts, "inst_names": dict(insts)}


@router.get("/admin/users/new")
def user_new(request: Request, viewer: AdminPage) -> Response:
    app = require_admin(request, viewer)
    return _user_form(request, app, viewer, None, {"locale": app.rt.municipality.municipality
                                                   .default_locale, "active": True})


def _user_form(request: Request, app: App, viewer: Viewer, user: dict[str, Any] | None,
               values: dict[str, Any], *, status: int = 200,
               errors: list[dict[str, str]] | None = None) -> Response:
    key = "admin.user.edit_title" if user else "admin.user.new_title"
    return show(request, app, viewer, "admin/user_form.html", key, status=status,
                errors=errors, user=user, values=values, min_password=MIN_PASSWORD,
                **_choices(app, viewer))


def _user_fields(form: FormData, *, new: bool) -> UserFields:
    return UserFields(display_name=text(form, "display_name"), role=text(form, "role"),
                      institution=opt(form, "institution"), email=opt(form, "email"),
                      phone=opt(form, "phone"), locale=text(form, "locale"),
                      digest=form.get("digest") == "on",
                      active=new or form.get("active") == "on")


@router.post("/admin/users/new")
async def user_create(request: Request) -> Response:
    return await post(request, _user_create)


def _user_create(request: Request, app: App, viewer: Viewer, form: FormData) -> Response:
    fields, username = _user_fields(form, new=True), text(form, "username")
    password = form.get("password")
    try:
        users.create_user(app.db, app.rt, viewer.account.username, username, fields,
                          password if isinstance(password, str) else "")
    except InvalidInput as exc:
        return _user_form(request, app, viewer, None, {**fields.__dict__, "username": username},
                          status=422, errors=_errors(viewer, exc.problems))
    return done(_edit_path(username), "created")


def _edit_path(username: str) -> str:
    return f"/admin/users/{quote(username, safe='')}/edit"


def _user(app: App, username: str) -> dict[str, Any]:
    user = users.user_row(app.db, username)
    if user is None:
        raise UserNotFound(username)
    return user


@router.get("/admin/users/{username}/edit")
def user_edit(request: Request, viewer: AdminPage, username: str) -> Response:
    app = require_admin(request, viewer)
    user = _user(app, username)
    return _user_form(request, app, viewer, user, user)


@router.post("/admin/users/{username}/edit")
async def user_save(request: Request, username: str) -> Response:
    return await post(request, _user_save, username)


def _user_save(request: Request, app: App, viewer: Viewer, form: FormData,
               username: str) -> Response:
    user, fields = _user(app, username), _user_fields(form, new=False)
    try:
        changes = users.update_user(app.db, app.rt, viewer.account.username, username, fields)
    except InvalidInput as exc:
        return _user_form(request, app, viewer, user, {**user, **fields.__dict__}, status=422,
                          errors=_errors(viewer, exc.problems))
    return done(_edit_path(username), "saved" if changes else "unchanged")


@router.post("/admin/users/{username}/password")
async def user_password(request: Request, username: str) -> Response:
    return await post(request, _user_password, username)


def _user_password(request: Request, app: App, viewer: Viewer, form: FormData,
                   username: str) -> Response:
    user, password = _user(app, username), form.get("password")
    try:
        users.set_password(app.db, app.rt, viewer.account.username, username,
                           password if isinstance(password, str) else "")
    except InvalidInput as exc:
        return _user_form(request, app, viewer, user, user, status=422,
                          errors=_errors(viewer, exc.problems))
    return done(_edit_path(username), "password")


@router.post("/admin/users/{username}/totp")
async def user_totp(request: Request, username: str) -> Response:
    return await post(request, _user_totp, username)


def _user_totp(request: Request, app: App, viewer: Viewer, form: FormData,
               username: str) -> Response:
    _user(app, username)
    removed = users.remove_totp(app.db, app.rt, viewer.account.username, username)
    return done(_edit_path(username), "totp" if removed else "unchanged")




# --- the second factor ------------------------------------------------------------------------


@router.get("/admin/security")
def security(request: Request, viewer: AdminPage) -> Response:
    app = require_admin(request, viewer)
    chosen = get_setting(app.db, TOTP_ROLES) or []
    return show(request, app, viewer, "admin/security.html", "admin.sec.title",
                chosen=chosen, **_choices(app, viewer))


@router.post("/admin/security")
async def security_save(request: Request) -> Response:
    return await post(request, _security_save)


def _security_save(request: Request, app: App, viewer: Viewer, form: FormData) -> Response:
    chosen = [r for r in form.getlist("totp_roles") if isinstance(r, str)]
    try:
        changed = users.set_totp_roles(app.db, app.rt, viewer.account.username, chosen)
    except InvalidInput as exc:
        return show(request, app, viewer, "admin/security.html", "admin.sec.title",
                    status=422, errors=_errors(viewer, exc.problems), chosen=chosen,
                    **_choices(app, viewer))
    return done("/admin/security", "saved" if changed else "unchanged")


# --- API tokens -------------------------------------------------------------------------------


@router.get("/admin/tokens")
def tokens(request: Request, viewer: AdminPage) -> Response:
    app = require_admin(request, viewer)
    return _tokens(request, app, viewer, {})


def _tokens(request: Request, app: App, viewer: Viewer, values: dict[str, str], *,
            status: int = 200, errors: list[dict[str, str]] | None = None) -> Response:
    rows = [{**r, **{k: app.rt.calendar.format_local(r[k], viewer.lang) if r[k] else ""
                     for k in ("created_at", "last_used_at", "revoked_at")}}
            for r in users.list_tokens(app.db)]
    options = [(u["username"], f"{u['display_name']} ({u['username']})")
               for u in users.list_users(app.db) if u["active"]]
    return show(request, app, viewer, "admin/tokens.html", "admin.tokens.title", status=status,
                errors=errors, tokens=rows, user_options=options, values=values)


@router.post("/admin/tokens")
async def token_create(request: Request) -> Response:
    return await post(request, _token_create)


def _token_create(request: Request, app: App, viewer: Viewer, form: FormData) -> Response:
    values = {"username": text(form, "username"), "name": text(form, "name")}
    t = translator(viewer.lang)
    try:
        token_id, token = users.create_token(app.db, app.rt, viewer.account.username,
                                             values["username"], values["name"])
    except InvalidInput as exc:
        return _tokens(request, app, viewer, values, status=422,
                       errors=_errors(viewer, exc.problems))
    except NotFound:
        return _tokens(request, app, viewer, values, status=422,
                       errors=[{"target": "username", "text": t("admin.tokens.no_user")}])
    # Shown on this page only, never again: no redirect to a page that could show it.
    return show(request, app, viewer, "admin/token_created.html", "admin.tokens.created_title",
                token=token, token_id=token_id, username=values["username"],
                name=values["name"])


@router.post("/admin/tokens/{token_id}/revoke")
async def token_revoke(request: Request, token_id: int) -> Response:
    return await post(request, _token_revoke, token_id)


def _token_revoke(request: Request, app: App, viewer: Viewer, form: FormData,
                  token_id: int) -> Response:
    users.revoke_token(app.db, app.rt, viewer.account.username, token_id)
    return done("/admin/tokens", "revoked")
