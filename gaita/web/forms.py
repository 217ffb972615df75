"""What the page forms share: reading a form's fields, the limits on what they take,
the errors a page shows beside its inputs (``FormError``), and the answer form of an
institution's task, which the inbox (``gaita.web.inbox``) and the email-link pages
(``gaita.web.links``) both show: read it (``read_answer_form``), then give the answer
through ``engine.answers.answer`` (``try_answer``), turning the engine's refusals into
errors at the inputs they are about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.datastructures import FormData

from engine.answers import (
    AlreadyAnswered,
    AnswerResult,
    ReasonRequired,
    TaskAction,
    TaskClosed,
    answer,
)
from engine.definitions import FieldSpec
from engine.errors import FieldError, NotPermitted
from engine.fields import coerce_fields
from engine.runtime import Actor
from gaita.bootstrap import App
from i18n import format_day, translator
from i18n.messages import render as said

#: Longest text accepted in any one form field.
MAX_TEXT = 4000
_DAYS = re.compile(r"[0-9]{1,4}")


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


def first_values(form: FormData) -> dict[str, str]:
    """A form's text fields; of repeated names the first counts."""
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, value)
    return values


def try_answer(app: App, task_id: int, task: dict[str, Any], action: TaskAction, actor: Actor,
               submitted: Submitted, lang: str, *, link: int | None = None
               ) -> tuple[AnswerResult | None, list[FormError]]:
    """Answer the task through ``engine.answers.answer``; or, when the engine refuses what
    the form gave, what to correct.  A closed or already answered task raises."""
    t = translator(lang)
    try:
        return answer(app.db, app.rt, task_id, action, actor, reason=submitted.reason,
                      days=submitted.days,
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
                     lang: str, *, max_days: int) -> tuple[Submitted, list[FormError]]:
    """The answer the form gives, or what to correct in it (before the engine is asked).
    ``max_days``: the most extra working days a request may ask for
    (``engine.answers.max_extension_days``, which the engine enforces too)."""
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
        if _DAYS.fullmatch(raw) and 1 <= int(raw) <= max_days:
            days = int(raw)
        else:
            errors.append(FormError(t("days_invalid", max=max_days), "days"))
    if purpose is not TaskAction.DONE:
        return Submitted(reason=reason, days=days), errors
    note = values.get("note", "").strip() or None
    declared: dict[str, FieldSpec] = task.get("report_answer") or {}
    if declared:   # a report task: its declared answer fields, no transition
        fields = {name: values.get(f"f.answer.{name}", "") for name in declared}
        for name, spec in declared.items():
            try:
                coerce_fields({name: spec}, {name: fields[name]})
            except FieldError as exc:
                errors.append(FormError(t("field_problem", field=spec.title.get(lang)),
                                        f"f-answer-{name}", said(lang, exc)))
        return Submitted(reason=note, fields=fields), errors
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
    declared = (task.get("report_answer") or {}).get(exc.field)
    if declared is not None and trigger is None:
        return FormError(t("field_problem", field=declared.title.get(lang)),
                         f"f-answer-{exc.field}", said(lang, exc))
    for tr in task["transitions"]:
        spec = tr["fields"].get(exc.field) if tr["trigger"] == trigger else None
        if spec is not None:
            return FormError(t("field_problem", field=spec.title.get(lang)),
                             f"f-{trigger}-{exc.field}", said(lang, exc))
    return FormError(t("engine_refused"), None, said(lang, exc))


def field_value(spec: FieldSpec, value: Any, lang: str) -> str:
    """A declared field's value in words: yes/no, a day, a choice's title."""
    t = translator(lang)
    if spec.type == "bool":
        return t("yes") if value is True else t("no") if value is False else str(value)
    if spec.type == "date" and isinstance(value, str):
        try:
            return format_day(date.fromisoformat(value), lang)
        except ValueError:
            return value
    if spec.type == "choice":
        return spec.choice_title(str(value), lang)
    return str(value)


def _input_id(key: str) -> str:
    return key.replace(".", "-")
