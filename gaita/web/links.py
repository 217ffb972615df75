"""The pages behind an email's action links (``notifications.links``).

``GET /link/{purpose}/{token}`` shows what the link is about and a form to
confirm: it changes nothing (mail scanners follow links), it only records the
read in the access log.  ``POST`` to the same address, with the CSRF pair,
gives the institution's answer through ``engine.answers.answer``.  The actor is
the institution the email went to (``link:<code>``): staff need no account.

Pages show the case reference, its type, the task, the institution and the
due date (a paused one as paused), and the task's brief (``gaita.web.brief``:
what is asked and why, the case fields the institution's role may read, whom to
contact): never the child's name, personal code, birth date or address.  A
report task (``engine.filings``) also shows what the report says and the case
fields of the groups the report declares for its recipient (``gaita.web.filings``),
and its ``done`` form carries the report's declared answer fields.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from engine.answers import (
    AlreadyAnswered,
    TaskAction,
    TaskClosed,
    check_answer,
    max_extension_days,
)
from engine.policy import subject_of
from engine.queries import task_for_link
from engine.tables import AccessAction
from gaita.bootstrap import App
from gaita.web.auth import gaita_of, lang_of
from gaita.web.brief import due_text, read_brief
from gaita.web.errors import PageError
from gaita.web.filings import report_task_context
from gaita.web.forms import (
    MAX_TEXT,
    FormError,
    first_values,
    read_answer_form,
    try_answer,
)
from gaita.web.render import render
from gaita.web.security import csrf_cookie, csrf_ok, csrf_value, new_nonce, valid_nonce
from i18n import DEFAULT_LANG, translator
from notifications.links import ActionLink, LinkSigner, action_path

router = APIRouter()

#: Largest form body read.
MAX_BODY = 64 * 1024
#: A case's public reference, as the thank-you page's address may carry it.
_REFERENCE = re.compile(r"[A-Z]{2,8}-[0-9]{4}-[0-9]{3,7}")


@router.get("/link/{purpose}/{token}")
def show_link(request: Request, purpose: str, token: str) -> Response:
    app = gaita_of(request)
    link = _verify(request, token, purpose)
    task = _with_report(app, task_for_link(app.db, app.rt, link.task_id,
                                           outbox_id=link.outbox_id, log=AccessAction.READ),
                        lang_of(request))
    _check_usable(task, link)
    cookie = csrf_cookie(app.settings.base_url)
    nonce = request.cookies.get(cookie["key"])
    if not valid_nonce(nonce):
        nonce = new_nonce()
    assert nonce is not None
    csrf = csrf_value(app.settings.secret_key, nonce, token)
    response = _form_page(request, link, token, task, csrf,
                          values={}, errors=[], status=200)
    response.set_cookie(value=nonce, httponly=True, samesite="lax", **cookie)
    return response


@router.post("/link/{purpose}/{token}")
async def submit_link(request: Request, purpose: str, token: str) -> Response:
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise PageError(413, "too_large")
    form = await request.form(max_files=0, max_fields=200)
    return await run_in_threadpool(_submit, request, purpose, token, first_values(form))


def _submit(request: Request, purpose: str, token: str, values: dict[str, str]) -> Response:
    app, lang = gaita_of(request), lang_of(request)
    link = _verify(request, token, purpose)
    task = _with_report(app, task_for_link(app.db, app.rt, link.task_id,
                                           outbox_id=link.outbox_id), lang)
    _check_usable(task, link)
    cookie = csrf_cookie(app.settings.base_url)
    nonce, given = request.cookies.get(cookie["key"]), values.get("csrf")
    if not csrf_ok(app.settings.secret_key, nonce, token, given):
        raise PageError(403, "csrf")
    submitted, errors = read_answer_form(link.purpose, values, task, lang,
                                         max_days=max_extension_days(app.rt))
    if not errors:
        result, errors = try_answer(app, link.task_id, task, link.purpose, task["actor"],
                                    submitted, lang, link=link.outbox_id)
        if result is not None:
            after = task_for_link(app.db, app.rt, link.task_id, outbox_id=link.outbox_id,
                                  log=AccessAction.WRITE)
            moved = result.fired is not None
            return RedirectResponse(answered_path(link.purpose.value, after, moved, lang),
                                    status_code=303)
    # The form again, with what was typed and what to correct: a read of the case.
    task = _with_report(app, task_for_link(app.db, app.rt, link.task_id,
                                           outbox_id=link.outbox_id, log=AccessAction.READ), lang)
    assert given is not None
    return _form_page(request, link, token, task, given, values=values, errors=errors,
                      status=422)


def answered_path(purpose: str, task: dict[str, Any], fired: bool, lang: str) -> str:
    """Where a successful answer redirects (PRG): the thank-you page, by the case's public
    reference and, if the answer moved the case, its type and new state (codes): never the
    link's token, never anything about the child."""
    query = {"case": task["reference"]}
    if fired:
        query |= {"type": task["case_type"], "state": task["case_state"]}
    if lang != DEFAULT_LANG:
        query["lang"] = lang
    return f"/answered/{purpose}?{urlencode(query)}"


@router.get("/answered/{purpose}")
def answered(request: Request, purpose: str) -> Response:
    """The thank-you page after an answer through a link (a GET: reloading it sends
    nothing).  It reads no case: it says only what its address says, checked."""
    app, lang = gaita_of(request), lang_of(request)
    query = request.query_params
    reference = query.get("case", "")
    if purpose not in {a.value for a in TaskAction} or not _REFERENCE.fullmatch(reference):
        raise PageError(404, "not_found")
    moved_to = None
    registry = app.rt.registry
    case_type, state = query.get("type", ""), query.get("state", "")
    if case_type in registry.case_types and state in registry.latest(case_type).states:
        moved_to = registry.latest(case_type).states[state].title.get(lang)
    return render("thanks.html", lang=lang, rt=app.rt, task={"reference": reference},
                  moved_to=moved_to, page_title=translator(lang)(f"{purpose}.thanks"),
                  switch_lang=True)


def _with_report(app: App, task: dict[str, Any], lang: str) -> dict[str, Any]:
    """A report task's page also shows what the report asks and says, and the case fields
    its recipient may read (``gaita.web.filings``); its ``done`` form, the answer fields.
    Every task's page shows its brief (``gaita.web.brief``): what is asked and why, the
    case fields the link's institution may read, whom to contact, a paused deadline."""
    wf = app.rt.registry.get(task["case_type"], task["definition_version"])
    brief = None
    if task["actor"] is not None and not task["closed"]:
        brief = read_brief(app.db, app.rt, task["task_id"], subject_of(app.rt, task["actor"]),
                           lang)
    return {**task, **report_task_context(wf, task["report"], lang), "brief": brief}


def _verify(request: Request, token: str, purpose: str) -> ActionLink:
    app = gaita_of(request)
    signer: LinkSigner = request.app.state.link_signer
    return signer.verify(token, purpose, app.rt.clock.now())


def _check_usable(task: dict[str, Any], link: ActionLink) -> None:
    """What makes a valid link unusable, found before any form is shown or read."""
    if task["closed"]:
        raise TaskClosed("task.closed_short", reference=task["reference"])
    if link.purpose.value in task["used"]:
        raise AlreadyAnswered("link.used")
    check_answer(task, link.purpose)
    if task["actor"] is None or task["institution"] != task["assignee"]:
        raise PageError(403, "forbidden")


def _form_page(request: Request, link: ActionLink, token: str, task: dict[str, Any], csrf: str,
               *, values: dict[str, str], errors: list[FormError], status: int) -> Response:
    app, lang = gaita_of(request), lang_of(request)
    t = translator(lang)
    action = action_path(link.purpose, token) + ("?lang=en" if lang == "en" else "")
    return render(
        "confirm.html", lang=lang, rt=app.rt, status=status, switch_lang=request.method == "GET",
        request=request,
        page_title=t(f"{link.purpose.value}.title"), purpose=link.purpose.value, task=task,
        due_text=due_text(app, task, lang),
        brief=task["brief"], action=action, csrf=csrf, values=values,
        errors=errors, invalid={e.target for e in errors if e.target}, max_text=MAX_TEXT,
        max_days=max_extension_days(app.rt))
