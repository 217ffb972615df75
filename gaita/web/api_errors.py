"""The REST API's errors: RFC 9457 problem documents (``application/problem+json``).

``problem`` makes one (the web app's error pages answer with it under ``/api/``
too); ``add_handlers`` maps every error an endpoint may raise to one:
engine errors by class (``ENGINE_ERRORS``, the most specific class wins, with the
members a client needs to fix its request), a missing token (401), the
framework's own errors (404, 405 with ``Allow``, 422 for the request's shape), and
anything unforeseen to the web app's last resort (a 500 without details).
``BodyLimit`` refuses a body over ``MAX_BODY`` (413) before an endpoint reads it;
``problem_responses`` documents an endpoint's error responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from engine.answers import AlreadyAnswered, TaskClosed
from engine.errors import (
    DatabaseUnavailable,
    DuplicateCase,
    FieldError,
    GaitaError,
    GuardFailed,
    InvalidDeclaration,
    InvalidPersonalCode,
    InvalidQuery,
    Message,
    NotFound,
    NotPermitted,
    PermissionDenied,
    StaleCase,
    TransitionNotAllowed,
    UnknownCaseType,
    UnknownState,
    UnknownTrigger,
)
from engine.group.reasons import UnknownReason
from gaita.web import api_models as m
from gaita.web.errors import PageError, Unauthenticated

PROBLEM_JSON = "application/problem+json"
#: Largest request body read (the models bound each member; this bounds the whole).
MAX_BODY = 256 * 1024


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: Engine errors by class, the most specific registered class wins: (status, title).
ENGINE_ERRORS: dict[type[Exception], tuple[int, str]] = {
    GaitaError: (422, "Request refused"),
    NotPermitted: (422, "Refused by the rules"),
    FieldError: (422, "Invalid field"),
    GuardFailed: (422, "Condition not met"),
    UnknownTrigger: (422, "Trigger not valid now"),
    TransitionNotAllowed: (422, "Trigger not valid now"),
    InvalidPersonalCode: (422, "Invalid personal code"),
    InvalidQuery: (422, "Invalid query parameter"),
    UnknownCaseType: (422, "Unknown case type"),
    UnknownState: (422, "Unknown state"),
    PermissionDenied: (403, "Forbidden"),
    AlreadyAnswered: (409, "Already answered"),
    StaleCase: (409, "The case has changed"),
    DuplicateCase: (409, "The child has an open case of this type"),
    TaskClosed: (410, "Task closed"),
    NotFound: (404, "Not found"),
    DatabaseUnavailable: (503, "Service unavailable"),
}
UNAUTHENTICATED = "A valid API token is required: Authorization: Bearer <token>."
UNAVAILABLE = "The database is unavailable; try again in a moment. Nothing was changed."

Handler = Callable[[Request, Exception], Awaitable[Response]]


def _members(exc: Exception) -> dict[str, Any]:
    """What a refusal names for the client to fix (RFC 9457 extension members)."""
    match exc:
        case FieldError():
            return {"field": exc.field}
        case InvalidPersonalCode():
            return {"field": "child_code"}
        case UnknownTrigger() | TransitionNotAllowed():
            return {"valid_triggers": list(exc.valid)}
        case GuardFailed():
            return {"guard": exc.guard}
        case StaleCase():
            return {"expected_version": exc.expected, "current_version": exc.actual}
        case DuplicateCase():
            return {"existing": list(exc.references), "repeated": exc.repeated}
        case InvalidQuery():
            return {"allowed": [str(a) for a in exc.allowed]}
        case UnknownCaseType():
            return {"field": "case_type", "allowed": list(exc.known)}
        case UnknownReason():
            return {"field": "reason"}
    return {}


async def _engine_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GaitaError)
    status, title = next(ENGINE_ERRORS[c] for c in type(exc).__mro__ if c in ENGINE_ERRORS)
    detail = UNAVAILABLE if isinstance(exc, DatabaseUnavailable) else str(exc)
    reason = exc.params.get("reason")
    codes = {"code": exc.code, **({"reason_code": reason.code} if isinstance(reason, Message)
                                  else {})}
    return problem(status, title, detail, **codes, **_members(exc))


async def _unauthenticated(request: Request, exc: Exception) -> Response:
    return problem(401, "Unauthenticated", UNAUTHENTICATED)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return problem(exc.status, HTTPStatus(exc.status).phrase, exc.detail or exc.kind)


def _http_error(router: APIRouter) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else {
            404: f"no endpoint {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, phrase)
        response = problem(exc.status_code, phrase, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:   # every method of the path, not only the first route's
            methods = {method for route in router.routes if isinstance(route, APIRoute)
                       and route.matches(request.scope)[0] is not Match.NONE
                       for method in route.methods or ()}
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response
    return handle


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # the input is not echoed back: it may hold a child's name or personal code
    errors = [{"location": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
               "message": str(e.get("msg", ""))} for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(map(str, e['location']))}: {e['message']}" for e in errors)
    return problem(422, "Invalid request", detail or "the request is not valid", errors=errors)


async def _unforeseen(request: Request, exc: Exception) -> Response:
    """Hand an unforeseen error on to the web app's last resort (``gaita.web.security``),
    which logs it and answers a problem+json 500 without details (Starlette's own
    would answer plain text first)."""
    raise exc


def add_handlers(api: FastAPI, router: APIRouter) -> None:
    """Answer every error of ``api`` with a problem document (``router``: its endpoints,
    for the ``Allow`` header of a 405)."""
    for cls in ENGINE_ERRORS:
        api.add_exception_handler(cls, _engine_error)
    handlers: dict[type[Exception], Handler] = {
        Unauthenticated: _unauthenticated, PageError: _page_error,
        StarletteHTTPException: _http_error(router), RequestValidationError: _invalid_request,
        InvalidDeclaration: _unforeseen,   # the installation's fault, not the request's
        Exception: _unforeseen,
    }
    for cls, handler in handlers.items():
        api.add_exception_handler(cls, handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of an endpoint (``api_docs.openapi`` makes their
    media type ``application/problem+json``)."""
    always = (401, 422)
    return {s: {"model": m.Problem, "description": HTTPStatus(s).phrase}
            for s in sorted({*always, *statuses})}


class BodyLimit:
    """Reads a request's body before the endpoint does, at most ``MAX_BODY`` bytes
    (whether or not it says its length): a larger one is a 413 problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":   # the client left
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_BODY:
                await self._too_large(scope, receive, send)
                return
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> AsgiMessage:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, HTTPStatus(413).phrase,
                               f"the request body is larger than {MAX_BODY} bytes")
        await response(scope, receive, send)
