"""The reports a case's state declares (``engine.filings``), as the pages and the API show them.

``case_reports`` reads, for one case, each report of its current state: required for
this case or not, filed (the recipient's task: its status and answer), waived (the
reason) or not yet made; and for each transition that waits for them
(``requires_reports``) the engine's refusal while they are missing, so the case page
says what is missing before anyone tries.  ``report_tasks`` maps the case's report
tasks to their declarations, for the timeline's answers.

``recipient_view`` is what the recipient of a report task reads (the inbox task page
and the email-link page): the report's title and legal reference, what the reporter
wrote, the case fields of the groups the report declares in ``reads``
(``engine.filings.report_details``; never the child's identity, which is not case
data), the answer already given, and the declared ``answer`` fields its ``done`` form
carries.  The caller has read the task under the access policy and logged the read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.definitions import FieldSpec, Report, Workflow
from engine.errors import ConfigError, NotPermitted
from engine.filings import report_details, report_status, require_reports
from engine.policy import Subject, may_file, stored_case_scope, visible_groups
from engine.runtime import Runtime
from engine.store import TASK, load_case_row
from engine.tables import CaseStatus, TaskKind
from gaita.web.forms import field_value
from i18n import translator

#: What ``ReportState.status`` says.
MISSING, FILED, WAIVED = "missing", "filed", "waived"


@dataclass(frozen=True)
class ReportState:
    """One declared report of the case's current state, as things stand."""

    spec: Report
    required: bool
    status: str                                  # MISSING, FILED or WAIVED
    institution: str | None                      # the recipient (its task's, once filed)
    may_file: bool                               # the reader may file or waive it now
    filed_at: datetime | None = None
    waived: str | None = None                    # the reason
    filed: dict[str, Any] = field(default_factory=dict)   # what the reporter wrote
    task: dict[str, Any] | None = None           # the recipient's task, once filed
    answer: dict[str, Any] = field(default_factory=dict)  # the recipient's answer


@dataclass(frozen=True)
class CaseReports:
    reports: list[ReportState]
    blocked: dict[str, NotPermitted]   # trigger -> why it may not fire yet


#: The recipient's task columns a report's status shows.
TASK_COLUMNS = ("id", "status", "due_at", "acknowledged_at", "accepted_at", "declined_at",
                "reported_done_at", "closed_at")


def case_reports(db: sa.Engine, rt: Runtime, reference: str, subject: Subject) -> CaseReports:
    """The declared reports of the case's current state as ``subject`` may see them
    (filed and answer fields only in the field groups the subject sees)."""
    with db.connect() as conn:
        case = load_case_row(conn, reference)
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        statuses = report_status(conn, wf, case)
        ids = [s.task_id for s in statuses if s.task_id is not None]
        tasks = ({r["id"]: r for r in conn.execute(sa.select(TASK).where(
            TASK.c.id.in_(ids))).mappings()} if ids else {})
        blocked: dict[str, NotPermitted] = {}
        if case["status"] == CaseStatus.OPEN:
            for tr in wf.transitions_from(case["state"]):
                try:
                    require_reports(conn, wf, case, tr)
                except NotPermitted as exc:
                    blocked[tr.trigger] = exc
    if not statuses:
        return CaseReports([], blocked)
    scope = stored_case_scope(db, reference)
    groups = visible_groups(rt.registry.roles, subject)
    out = []
    for s in statuses:
        task = tasks.get(s.task_id) if s.task_id is not None else None
        details = (task["details"] or {}) if task is not None else {}
        if task is not None:
            institution = task["assignee_institution"]
        else:
            try:
                institution = rt.institution_for(s.report.to, case)
            except ConfigError:   # no one institution holds the role (yet)
                institution = None
        status = FILED if task is not None else WAIVED if s.waived is not None else MISSING
        out.append(ReportState(
            s.report, s.required, status, institution,
            status == MISSING and bool(may_file(rt.registry, subject, scope, s.report)),
            s.filed_at, s.waived,
            _seen(s.report.fields, details.get("filed") or {}, groups),
            None if task is None else {k: task[k] for k in TASK_COLUMNS},
            _seen(s.report.answer, details.get("answer") or {}, groups)))
    return CaseReports(out, blocked)


def _seen(specs: Mapping[str, FieldSpec], values: Mapping[str, Any],
          groups: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in specs and specs[k].group in groups}


def report_tasks(db: sa.Engine, wf: Workflow, reference: str) -> dict[int, Report]:
    """The case's report tasks (any state, open or closed), by id: their declarations."""
    with db.connect() as conn:
        case = load_case_row(conn, reference)
        rows = conn.execute(sa.select(TASK.c.id, TASK.c.state, TASK.c.report).where(
            TASK.c.case_id == case["id"], TASK.c.kind == TaskKind.REPORT.value)).all()
    out = {}
    for row in rows:
        spec = declared_report(wf, row.state, row.report or "")
        if spec is not None:
            out[int(row.id)] = spec
    return out


def declared_report(wf: Workflow, state: str | None, code: str) -> Report | None:
    """The report ``code`` as ``state`` declares it (else the first state that does)."""
    if state in wf.states:
        found = wf.state(state).report(code)
        if found is not None:
            return found
    return next((r for s in wf.states.values() for r in s.reports if r.code == code), None)


def case_field_specs(wf: Workflow) -> dict[str, FieldSpec]:
    """Every case field the declaration names (opening, start states, transitions)."""
    specs: dict[str, FieldSpec] = {}
    for tr in wf.transitions:
        specs.update(tr.fields)
    for start in wf.open.start_states:
        specs.update(start.fields)
    specs.update(wf.open.fields)
    return specs


def recipient_view(wf: Workflow, details: Mapping[str, Any] | None,
                   lang: str) -> dict[str, Any] | None:
    """What the recipient of a report task reads, in words (``None`` for any other task):
    ``details`` is ``engine.filings.report_details`` (the groups the report declares in
    ``reads``, nothing else).  ``answer_fields``: the declared fields of its ``done``."""
    spec = details["report"] if details else None
    if details is None or spec is None:
        return None
    specs = case_field_specs(wf)

    def words(declared: Mapping[str, FieldSpec], values: Mapping[str, Any]
              ) -> list[tuple[str, str]]:
        return [(declared[k].title.get(lang), field_value(declared[k], v, lang))
                if k in declared else (k, str(v)) for k, v in values.items()]
    child = details.get("child")
    t = translator(lang)
    return {"code": spec.code, "title": spec.title.get(lang), "legal_ref": spec.legal_ref,
            "child": [(t("cases.child.name"), child["name"]),
                      (t("cases.child.code"), child["personal_code"])] if child else [],
            "filed": words(spec.fields, details["filed"]), "case": words(specs, details["case"]),
            "answer": words(spec.answer, details["answer"]), "answer_fields": dict(spec.answer)}


def report_details_of(wf: Workflow, task: Mapping[str, Any], case_data: Mapping[str, Any],
                      child: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """``engine.filings.report_details`` of a report task (``None`` for any other)."""
    if task["kind"] != TaskKind.REPORT:
        return None
    return report_details(wf, task["state"], task, case_data, child)


def report_task_context(wf: Workflow, details: Mapping[str, Any] | None,
                        lang: str) -> dict[str, Any]:
    """What a task page (inbox, email link) adds for a report task: ``report`` in words,
    ``report_answer`` (the ``done`` form's declared fields), and what the law asks of the
    recipient (the report's legal reference; the state's note speaks to the reporter)."""
    view = recipient_view(wf, details, lang)
    if view is None:
        return {"report": None, "report_answer": {}}
    return {"report": view, "report_answer": view["answer_fields"],
            "legal_ref": view["legal_ref"], "legal_note": None}
