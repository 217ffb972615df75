"""A task's brief in words, for the inbox task page and the email-link page.

``engine.briefing.task_brief`` reads what an institution may be told about its
task (the referral, the case fields it may read, whom to contact, the pause);
``brief_view`` puts it in the page's language for ``templates/_brief.html``:
field titles as declared, values in words (``gaita.web.forms.field_value``),
people with their institution's name, and times local.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.briefing import task_brief
from engine.definitions import Workflow
from engine.policy import Subject
from engine.runtime import Runtime
from engine.store import CASE, TASK
from gaita.bootstrap import App
from gaita.web.filings import case_field_specs
from gaita.web.forms import field_value
from i18n import translator


def read_brief(db: sa.Engine, rt: Runtime, task_id: int, subject: Subject,
               lang: str) -> dict[str, Any]:
    """``task_brief`` of the task ``task_id`` in ``lang`` (``brief_view``), for a subject
    the access policy has already let read the task's case."""
    with db.connect() as conn:
        task = conn.execute(sa.select(TASK).where(TASK.c.id == task_id)).mappings().one()
        case = conn.execute(sa.select(
            CASE.c.case_type, CASE.c.definition_version, CASE.c.data, CASE.c.paused_at).where(
                CASE.c.id == task["case_id"])).mappings().one()
        brief = task_brief(conn, rt, dict(task), dict(case), subject)
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    return brief_view(rt, wf, brief, lang)


def paused_text(rt: Runtime, lang: str, since: datetime) -> str:
    """``termiņš apturēts kopš 30.11.2026``: a paused deadline, never a date that looks
    overdue."""
    day = rt.calendar.local_date(since).strftime("%d.%m.%Y")
    return translator(lang)("brief.paused_since", since=day)


def brief_view(rt: Runtime, wf: Workflow, brief: Mapping[str, Any], lang: str) -> dict[str, Any]:
    specs = case_field_specs(wf)
    def at(instant: datetime) -> str:
        return rt.calendar.format_local(instant, lang)

    def words(fields: Mapping[str, Any], own: Mapping[str, Any] | None = None
              ) -> list[tuple[str, str]]:
        declared = {**specs, **(own or {})}
        return [(declared[k].title.get(lang), field_value(declared[k], v, lang))
                if k in declared else (k, str(v)) for k, v in fields.items()]

    def person(contact: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if contact is None:
            return None
        code = contact["institution_code"]
        where = rt.municipality.institution_name(code, lang) if code else None
        return {"name": contact["display_name"], "email": contact["email"],
                "phone": contact["phone"], "institution": where,
                "label": ", ".join(x for x in (contact["display_name"], where) if x)}

    referral = brief["referral"]
    step = None
    if referral is not None:
        tr = (wf.transition(referral["from_state"], referral["trigger"])
              if referral["from_state"] and referral["trigger"] else None)
        step = tr.title.get(lang) if tr is not None else None
        referral = {"at": at(referral["at"]), "by": person(referral["by"]), "step": step,
                    "fields": words(referral["fields"], tr.fields if tr is not None else None),
                    "note": referral["note"]}
        if not (referral["fields"] or referral["note"] or referral["by"]):
            referral = None
    code = brief["coordinating"]
    office = rt.municipality.institutions_by_code.get(code) if code else None
    name = rt.municipality.institution_name
    return {
        "referral": referral,
        "notes": [{"at": at(n["at"]), "by": person(n["by"]), "text": n["text"]}
                  for n in brief["notes"]],
        "case": words(brief["case"]),
        "contacts": [person(c) for c in brief["contacts"]],
        "office": None if office is None else {
            "name": name(office.code, lang), "email": office.email},
        "paused": (paused_text(rt, lang, brief["paused_since"])
                   if brief["paused_since"] is not None else None),
    }


def due_text(app: App, task: Mapping[str, Any], lang: str) -> str | None:
    """A task's due date as its page gives it: a paused deadline as paused (from its
    brief), never as an old date that looks overdue."""
    brief = task.get("brief")
    if brief and brief["paused"]:
        return str(brief["paused"])
    return app.rt.calendar.format_local(task["due_at"], lang) if task["due_at"] else None
