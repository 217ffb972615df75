"""The pages behind an email's action links (``notifications.links``).

``GET /link/{purpose}/{token}`` shows what the link is about and a form to
confirm: it changes nothing (mail scanners follow links), it only records the
read in the access log.  ``POST`` to the same address, with the CSRF pair,
gives the institution's answer through ``engine.tasks.answer``.  The actor is
the institution the email went to (``link:<code>``): staff need no account.

Pages show the case reference, its type, the task, the institution and the
due date: never the child's name, personal code, birth date or address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from engine.errors import FieldError, NotPermitted
from engine.runtime import Actor
from engine.queries import task_for_link
from engine.tables import AccessAction
from engine.answers import (
    AlreadyAnswered, answer, AnswerResult, check_answer, ReasonRequired, TaskAction, TaskClosed,
)
from gaita.bootstrap import App
from gaita.web.auth import gaita_of, lang_of
from gaita.web.errors import PageError
from gaita.web.render import render
from gaita.web.security import csrf_cookie, csrf_ok, csrf_value, new_nonce, valid_nonce
from i18n import translator
from notifications.compose import format_local
from i18n.messages import render as said
from notifications.links import ActionLink, LinkSigner, action_path

router = APIRouter()

#: Longest text accepted in any one form field.
MAX_TEXT = 4000
#: Most extra working days one request may ask for.
MAX_DAYS = 60
#: Largest form body read.
MAX_BODY = 64 * 1024
_DAYS = re.compile(r"[0-9]{1,2}")


@dataclass(frozen=True)
class FormError:
    text: str
    target: str | None = None   # the id of the input it is about
    detail: str | None = None   # the engine's own message


@dataclass(frozen=True)
class Submitted:
    reason: str | None = None
    days: int | None = None
    trigger: str | None = None
    fields: dict[str, Any] | None = None


@router.get("/link/{purpose}/{token}")
def show_link(request: Request, purpose: str, token: str) -> Response:
    app = gaita_of(request)
    link = _verify(request, token, purpose)
    task = task_for_link(app.db, app.rt, link.task_id, outbox_id=link.outbox_id, log=AccessAction.READ)
    _check_usable(task, link)
    cookie = csrf_cookie(app.settings.base_url)
    nonce = request.cookies.get(cookie["key"])
    if not valid_nonce(nonce):
        nonce = new_nonce()
    assert nonce is not None
    response = _form_page(request, link, token, task, csrf_value(app.settings.secret_key, nonce, token),
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


def first_values(form: FormData) -> dict[str, str]:
    """A form's text fields; of repeated names the first counts."""
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, value)
    return values


def _submit(request: Request, purpose: str, token: str, values: dict[str, str]) -> Response:
    app, lang = gaita_of(request), lang_of(request)
    t = translator(lang)
    link = _verify(request, token, purpose)
    task = task_for_link(app.db, app.rt, link.task_id, outbox_id=link.outbox_id)
    _check_usable(task, link)
    cookie = csrf_cookie(app.settings.base_url)
    nonce, given = request.cookies.get(cookie["key"]), values.get("csrf")
    if not csrf_ok(app.settings.secret_key, nonce, token, given):
        raise PageError(403, "csrf")
    submitted, errors = read_answer_form(link.purpose, values, task, lang)
    if not errors:
        result, errors = try_answer(app, link.task_id, task, link.purpose, task["actor"],
                                    submitted, lang, link=link.outbox_id)
        if result is not None:
            after = task_for_link(app.db, app.rt, link.task_id, outbox_id=link.outbox_id,
                                  log=AccessAction.WRITE)
            moved_to = after["case_state_title"][lang] if result.fired else None
            return render("thanks.html", lang=lang, rt=app.rt, task=after, moved_to=moved_to,
                          page_title=t(f"{link.purpose.value}.thanks"))
    # The form again, with what was typed and what to correct: a read of the case.
    task = task_for_link(app.db, app.rt, link.task_id, outbox_id=link.outbox_id, log=AccessAction.READ)
    assert given is not None
    return _form_page(request, link, token, task, given, values=values, errors=errors,
                      status=422)


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


def try_answer(app: App, task_id: int, task: dict[str, Any], action: TaskAction, actor: Actor,
               submitted: Submitted, lang: str, *, link: int | None = None
               ) -> tuple[AnswerResult | None, list[FormError]]:
    """Answer the task through ``engine.tasks.answer``; or, when the engine refuses what
    the form gave, what to correct.  A closed or already answered task raises."""
    t = translator(lang)
    try:
        return answer(app.db, app.rt, task_id, action, actor, reason=submitted.reason, days=submitted.days,
                      trigger=submitted.trigger, fields=submitted.fields, link=link), []
    except (TaskClosed, AlreadyAnswered):
        raise
    except ReasonRequired:
        return None, [FormError(t("reason_required"), "reason")]
    except FieldError as exc:
        return None, [answer_field_error(exc, submitted.trigger, task, lang)]
    except NotPermitted as exc:   # a guard, the role, the transition: the engine says why
        return None, [FormError(t("engine_refused"), "trigger" if submitted.trigger else None,
                                said(lang, exc))]


def read_answer_form(purpose: TaskAction, values: dict[str, str], task: dict[str, Any],
                     lang: str) -> tuple[Submitted, list[FormError]]:
    """The answer the form gives, or what to correct in it (before the engine is asked)."""
    t = translator(lang)
    errors: list[FormError] = []
    for key, value in values.items():
        if len(value) > MAX_TEXT:
            errors.append(FormError(t("too_long", limit=MAX_TEXT), _input_id(key)))
    reason = values.get("reason", "").strip() or None
    days = None
    if purpose in (TaskAction.DECLINE, TaskAction.MORE_TIME) and reason is None:
        errors.append(FormError(t("reason_required"), "reason"))
    if purpose is TaskAction.MORE_TIME:
        raw = values.get("days", "").strip()
        if _DAYS.fullmatch(raw) and 1 <= int(raw) <= MAX_DAYS:
            days = int(raw)
        else:
            errors.append(FormError(t("days_invalid"), "days"))
    if purpose is not TaskAction.DONE:
        return Submitted(reason=reason, days=days), errors
    note = values.get("note", "").strip() or None
    chosen = values.get("trigger", "")
    if not chosen:
        return Submitted(reason=note), errors
    offered = {tr["trigger"]: tr for tr in task["transitions"]}
    if chosen not in offered:
        errors.append(FormError(t("trigger_invalid"), "trigger"))
        return Submitted(reason=note), errors
    fields = {name: values.get(f"f.{chosen}.{name}", "") for name in offered[chosen]["fields"]}
    return Submitted(reason=note, trigger=chosen, fields=fields), errors


def answer_field_error(exc: FieldError, trigger: str | None, task: dict[str, Any],
                       lang: str) -> FormError:
    """The engine's refusal of a field, pointed at its input and titled as declared."""
    t = translator(lang)
    for tr in task["transitions"]:
        spec = tr["fields"].get(exc.field) if tr["trigger"] == trigger else None
        if spec is not None:
            return FormError(t("field_problem", field=spec.title.get(lang)),
                             f"f-{trigger}-{exc.field}", said(lang, exc))
    return FormError(t("engine_refused"), None, said(lang, exc))


def _input_id(key: str) -> str:
    return key.replace(".", "-")


def _form_page(request: Request, link: ActionLink, token: str, task: dict[str, Any], csrf: str,
               *, values: dict[str, str], errors: list[FormError], status: int) -> Response:
    app, lang = gaita_of(request), lang_of(request)
    t = translator(lang)
    action = action_path(link.purpose, token) + ("?lang=en" if lang == "en" else "")
    return render(
        "confirm.html", lang=lang, rt=app.rt, status=status, switch_lang=request.method == "GET",
        page_title=t(f"{link.purpose.value}.title"), purpose=link.purpose.value, task=task,
        due_text=format_local(app.rt, task["due_at"]) if task["due_at"] else None,
        action=action, csrf=csrf, values=values,
        errors=errors, invalid={e.target for e in errors if e.target}, max_text=MAX_TEXT,
        max_days=MAX_DAYS)
