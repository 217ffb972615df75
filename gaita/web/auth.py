"""Who is asking: login, sessions, the second factor, CSRF, API tokens.

Pages get the user from ``web_user`` (a session cookie; no session: a redirect
to the login page) and forms that change anything from ``form_user``, which
also checks the form's ``csrf`` field against the session's token (403
otherwise).  The API gets its user from ``api_user`` (``Authorization: Bearer``).
Either way the user becomes a ``Viewer``: the account, the policy ``Subject``
and the language, and every access decision goes through ``Viewer.may`` and
so through ``engine.policy.decide``.

Session cookie: ``__Host-gaita_session`` (Secure, Path=/, no Domain) when the
site is served over HTTPS; ``gaita_session`` over plain HTTP in development.
HttpOnly, SameSite=Lax.  The token is random; the database keeps its SHA-256.
Login always starts a new session (the browser's old id is ended), so a
session id planted before login is worth nothing after it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from engine.policy import Action, CaseScope, Decision, Subject, decide, subject_of
from engine.runtime import Actor
from gaita.accounts import login_limits, passwords, second_factor, sessions, tokens
from gaita.accounts.account import Account
from gaita.accounts.sessions import Session
from gaita.bootstrap import App
from gaita.web.errors import CsrfFailed, LoginRequired, PageError, Unauthenticated
from gaita.web.render import render
from gaita.web.security import csrf_cookie, csrf_ok, csrf_value, new_nonce, valid_nonce
from i18n import DEFAULT_LANG, LANGS, pick_lang, translator

router = APIRouter()

LANG_COOKIE = "gaita_lang"
#: Largest form body read by page forms.
MAX_FORM = 256 * 1024
#: The CSRF binding of the login form (it has no session yet).
_LOGIN_FORM = "login"


@dataclass(frozen=True)
class Viewer:
    """The user behind a request, as every page and endpoint sees them."""

    account: Account
    subject: Subject
    lang: str
    channel: str              # web | api
    session: Session | None = None

    @property
    def actor(self) -> Actor:
        return self.account.actor

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""

    def decide(self, app: App, action: Action, case: CaseScope | None = None, *,
               case_type: str | None = None) -> Decision:
        return decide(app.rt.registry, self.subject, action, case, case_type=case_type)

    def may(self, app: App, action: Action, case: CaseScope | None = None, *,
            case_type: str | None = None) -> bool:
        return bool(self.decide(app, action, case, case_type=case_type))

    def require(self, app: App, action: Action, case: CaseScope | None = None, *,
                case_type: str | None = None) -> None:
        self.decide(app, action, case, case_type=case_type).or_raise()


def gaita_of(request: Request) -> App:
    app: App = request.app.state.gaita
    return app


def lang_of(request: Request, account: Account | None = None) -> str:
    """``?lang=`` if given, else the language cookie, else the user's, else Latvian."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                  account.locale if account else None):
        if value in LANGS:
            return value
    return DEFAULT_LANG


def session_cookie(app: App) -> dict[str, Any]:
    if app.settings.base_url.lower().startswith("https://"):
        return {"key": "__Host-gaita_session", "path": "/", "secure": True}
    return {"key": "gaita_session", "path": "/", "secure": False}


def _session(request: Request) -> tuple[App, str | None, Session | None]:
    app = gaita_of(request)
    token = request.cookies.get(session_cookie(app)["key"])
    s = app.settings
    session = sessions.load_session(app.db, token, app.rt.clock.now(),
                                    idle=timedelta(minutes=s.session_idle_minutes),
                                    absolute=timedelta(hours=s.session_absolute_hours))
    return app, token, session


def web_user(request: Request) -> Viewer:
    """The logged-in user of a page request (``LoginRequired`` otherwise)."""
    app, _, session = _session(request)
    if session is None or session.mfa_pending:
        raise LoginRequired()
    return Viewer(session.account, subject_of(app.rt, session.account.actor),
                  lang_of(request, session.account), "web", session)


def optional_user(request: Request) -> Viewer | None:
    """The logged-in user of a page anyone may read (``/help``), or None."""
    try:
        return web_user(request)
    except LoginRequired:
        return None


async def form_user(request: Request) -> tuple[Viewer, FormData]:
    """The user of a form POST, and the form; the form's ``csrf`` must match the session."""
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_FORM:
        raise PageError(413, "too_large")
    viewer = await run_in_threadpool(web_user, request)
    form = await request.form(max_files=0, max_fields=500)
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(given, viewer.csrf):
        raise CsrfFailed()
    return viewer, form


def api_user(request: Request) -> Viewer:
    """The user of an API request, from its bearer token (``Unauthenticated`` otherwise)."""
    app = gaita_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    account = (tokens.account_for_token(app.db, token.strip(), app.rt.clock.now())
               if scheme.lower() == "bearer" else None)
    if account is None:
        raise Unauthenticated()
    return Viewer(account, subject_of(app.rt, account.actor), lang_of(request, account), "api")


def home_of(app: App, account: Account) -> str:
    """Where a user lands after login: the first page their role works on."""
    if decide(app.rt.registry, subject_of(app.rt, account.actor), Action.ADMINISTER):
        return "/admin"
    spec = app.rt.registry.roles.user_roles[account.role]
    if spec.scope == "own_tasks":
        return "/inbox"
    if spec.scope == "escalated":
        return "/group"
    return "/dashboard"


def safe_next(value: str | None) -> str | None:
    """A local path to return to after login, or None: never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return None
    return value


# --- pages -----------------------------------------------------------------------------


@router.get("/")
def root(request: Request) -> Response:
    app, _, session = _session(request)
    if session is None or session.mfa_pending:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(app, session.account), status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_form(request, status=200, error=None)


def _login_form(request: Request, *, status: int, error: str | None,
                username: str = "") -> Response:
    app, lang = gaita_of(request), lang_of(request)
    cookie = csrf_cookie(app.settings.base_url, "/login")
    nonce = request.cookies.get(cookie["key"])
    if not valid_nonce(nonce):
        nonce = new_nonce()
    assert nonce is not None
    t = translator(lang)
    response = render("auth/login.html", lang=lang, rt=app.rt, status=status,
                      switch_lang=request.method == "GET", request=request,
                      page_title=t("login.title"), error=error,
                      username=username, next=safe_next(request.query_params.get("next")) or "",
                      csrf=csrf_value(app.settings.secret_key, nonce, _LOGIN_FORM))
    response.set_cookie(value=nonce, httponly=True, samesite="lax", **cookie)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: FormData) -> Response:
    app, lang = gaita_of(request), lang_of(request)
    t = translator(lang)
    cookie = csrf_cookie(app.settings.base_url, "/login")
    given = form.get("csrf")
    if not csrf_ok(app.settings.secret_key, request.cookies.get(cookie["key"]), _LOGIN_FORM,
                   given if isinstance(given, str) else None):
        raise CsrfFailed()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    address = request.client.host if request.client else "unknown"
    now, s = app.rt.clock.now(), app.settings
    by_user, by_address = login_limits.failures(
        app.db, now, timedelta(minutes=s.login_window_minutes), username=username, address=address)
    if by_user >= s.login_max_failures or by_address >= 4 * s.login_max_failures:
        return _login_form(request, status=429, username=username,
                           error=t("login.too_many", minutes=s.login_window_minutes))
    account = passwords.check_password(app.db, username, password) if username else None
    if account is None:
        login_limits.record_failure(app.db, now, username=username, address=address)
        return _login_form(request, status=401, username=username, error=t("login.wrong"))
    login_limits.clear_failures(app.db, username)
    pending = account.has_totp or second_factor.totp_required(app.db, account.role)
    old = request.cookies.get(session_cookie(app)["key"])
    token = sessions.start_session(app.db, account.id, now, mfa_pending=pending, replaces=old)
    target = safe_next(str(form.get("next", ""))) or ""
    if pending:
        where = "/login/totp" + (f"?next={quote(target, safe='')}" if target else "")
    else:
        where = target or home_of(app, account)
    response = RedirectResponse(where, status_code=303)
    response.set_cookie(value=token, httponly=True, samesite="lax", **session_cookie(app))
    return response


@router.get("/login/totp")
def totp_page(request: Request) -> Response:
    _, _, session = _session(request)
    if session is None or not session.mfa_pending:
        return RedirectResponse("/login", status_code=303)
    return _totp_form(request, session, status=200, error=None)


def _totp_form(request: Request, session: Session, *, status: int, error: str | None,
               secret: str | None = None) -> Response:
    app, lang = gaita_of(request), lang_of(request, session.account)
    t = translator(lang)
    enrolling = not session.account.has_totp
    if enrolling and secret is None:
        secret = second_factor.new_totp_secret()
    uri = (second_factor.totp_uri(secret, session.account.username, "Gaita")
           if enrolling and secret else None)
    return render("auth/totp.html", lang=lang, rt=app.rt, status=status, request=request,
                  switch_lang=request.method == "GET",
                  page_title=t("totp.title"), error=error, enrolling=enrolling, secret=secret,
                  uri=uri, csrf=session.csrf,
                  next=safe_next(request.query_params.get("next")) or "")


@router.post("/login/totp")
async def totp_submit(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    return await run_in_threadpool(_totp_submit, request, form)


def _totp_submit(request: Request, form: FormData) -> Response:
    app, token, session = _session(request)
    if session is None or not session.mfa_pending or token is None:
        return RedirectResponse("/login", status_code=303)
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(given, session.csrf):
        raise CsrfFailed()
    t = translator(lang_of(request, session.account))
    now = app.rt.clock.now()
    address = request.client.host if request.client else "unknown"
    user = session.account.username
    by_user, _ = login_limits.failures(
        app.db, now, timedelta(minutes=app.settings.login_window_minutes), username=user,
        address=address)
    if by_user >= app.settings.login_max_failures:
        sessions.end_session(app.db, token)
        return RedirectResponse("/login", status_code=303)
    code = str(form.get("code", ""))
    stored = second_factor.user_totp_secret(app.db, session.account.id)
    secret = stored or str(form.get("secret", "")).strip()
    if not secret or not second_factor.totp_ok(secret, code, now):
        login_limits.record_failure(app.db, now, username=user, address=address)
        return _totp_form(request, session, status=401, error=t("totp.wrong"),
                          secret=None if stored else secret)
    if stored is None:
        second_factor.set_totp_secret(app.db, session.account.id, secret)
    login_limits.clear_failures(app.db, user)
    # the second factor is a login too: a new session id
    new = sessions.start_session(app.db, session.account.id, now, mfa_pending=False,
                                 replaces=token)
    target = safe_next(str(form.get("next", ""))) or home_of(app, session.account)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(value=new, httponly=True, samesite="lax", **session_cookie(app))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await form_user(request)
    app = gaita_of(request)
    token = request.cookies.get(session_cookie(app)["key"])
    if token:
        await run_in_threadpool(sessions.end_session, app.db, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(**session_cookie(app))
    return response


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str) -> Response:
    """Remember the language; back to the page it was chosen on."""
    target = safe_next(request.query_params.get("next")) or "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(LANG_COOKIE, pick_lang(lang), max_age=365 * 86400, httponly=True,
                        samesite="lax", path="/",
                        secure=gaita_of(request).settings.base_url.startswith("https://"))
    return response
