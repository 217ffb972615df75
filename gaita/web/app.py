"""The web application: pages for coordinators, institutions, the cooperation
group and administrators, the email action-link pages, and the REST API.

``create_app(app)`` wraps an assembled ``gaita.bootstrap.App`` (settings,
database, runtime) in a FastAPI application.  Every error is a clear page
chosen by the exception's class (under ``/api/``: an RFC 9457 problem+json),
never a traceback; anything unforeseen is a plain 500, logged.  Every
response carries the security headers (``gaita.web.security``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Scope

from engine.answers import AlreadyAnswered, TaskClosed
from engine.errors import AccessDenied, DatabaseUnavailable, NotFound, StaleCase
from gaita.bootstrap import App
from gaita.web import admin, admin_config, audit, auth, cases, dashboard, group, help, inbox, search
from gaita.web.api import create_api
from gaita.web.api_errors import problem
from gaita.web.errors import CsrfFailed, LoginRequired, PageError, Unauthenticated
from gaita.web.links import router
from gaita.web.render import render
from gaita.web.security import SecurityMiddleware
from i18n import translator
from notifications.links import LinkError, LinkExpired, LinkSigner, LinkTampered, WrongPurpose

log = logging.getLogger("gaita.web")

#: Error pages by exception class (the most specific class registered wins).
ERROR_PAGES: tuple[tuple[type[Exception], int, str], ...] = (
    (LinkTampered, 400, "tampered"),
    (LinkExpired, 410, "expired"),
    (WrongPurpose, 400, "wrong_purpose"),
    (LinkError, 400, "invalid"),
    (TaskClosed, 410, "closed"),
    (AlreadyAnswered, 409, "answered"),
    (AccessDenied, 403, "denied"),
    (StaleCase, 409, "conflict"),
    (NotFound, 404, "not_found"),
    (DatabaseUnavailable, 503, "unavailable"),
    (CsrfFailed, 403, "csrf"),
    (Unauthenticated, 401, "login"),
)
#: Framework errors (no route, wrong method, unreadable form) by status.
_HTTP_KINDS = {400: "bad_request", 404: "not_found", 405: "method", 413: "too_large"}


def create_app(app: App) -> FastAPI:
    web = FastAPI(title="Gaita", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.gaita = app
    web.state.link_signer = LinkSigner(app.settings.secret_key)
    for module in (auth, dashboard, cases, inbox, group, audit, admin, admin_config, help, search):
        web.include_router(module.router)
    web.include_router(router)
    web.mount("/api", create_api(app))

    @web.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for cls, status, kind in ERROR_PAGES:
        web.add_exception_handler(cls, _page_for(app, status, kind))
    web.add_exception_handler(LoginRequired, _to_login)
    web.add_exception_handler(PageError, _page_error(app))
    web.add_exception_handler(StarletteHTTPException, _http_error(app))
    web.add_exception_handler(RequestValidationError, _page_for(app, 400, "bad_request"))
    web.add_middleware(SecurityMiddleware, error_page=lambda scope: server_error_page(app, scope))
    return web


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_page(app: App, request: Request, status: int, kind: str, *, detail: str = "",
               **values: object) -> Response:
    if is_api(request):
        t = translator("en")
        return problem(status, t(f"error.{kind}.title"),
                       detail or t(f"error.{kind}.text", **values))
    lang = auth.lang_of(request)
    t = translator(lang)
    return render("error.html", lang=lang, rt=app.rt, status=status, request=request,
                  switch_lang=request.method == "GET", page_title=t(f"error.{kind}.title"),
                  message=t(f"error.{kind}.text", **values))


def server_error_page(app: App, scope: Scope) -> Response:
    """The page for an error nobody handled: no details (they are in the log)."""
    try:
        return error_page(app, Request(scope), 500, "server")
    except Exception:   # the page itself failed: the plainest answer
        log.exception("the error page failed")
        return PlainTextResponse("Kļūda / Error", status_code=500)


Handler = Callable[[Request, Exception], Awaitable[Response]]


#: An email link's page says a refusal its own way: the task is not the institution's.
_LINK_KINDS = {"denied": "forbidden"}


def _page_for(app: App, status: int, kind: str) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        shown = _LINK_KINDS.get(kind, kind) if request.url.path.startswith("/link/") else kind
        values: dict[str, object] = {}
        if isinstance(exc, LinkExpired):
            values["expired_at"] = app.rt.calendar.format_local(exc.expired_at,
                                                                auth.lang_of(request))
        elif isinstance(exc, WrongPurpose):
            values["purpose"] = translator(auth.lang_of(request))(f"{exc.purpose.value}.title")
        return error_page(app, request, status, shown, detail=str(exc), **values)
    return handle


async def _to_login(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _page_error(app: App) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return error_page(app, request, exc.status, exc.kind, detail=exc.detail)
    return handle


def _http_error(app: App) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        fallback = "bad_request" if exc.status_code < 500 else "server"
        kind = _HTTP_KINDS.get(exc.status_code, fallback)
        response = error_page(app, request, exc.status_code, kind)
        if exc.headers:   # e.g. Allow on 405
            response.headers.update(exc.headers)
        return response
    return handle
