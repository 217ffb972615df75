"""Every report a workflow declares reaches its recipient as an email with a working
link, and the link page shows exactly what the declaration lets the recipient read:
what the reporter wrote, the case fields of the groups in ``reads``, the child's
identity only when ``reads`` names it (issue 11 §3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.cases import open_case
from engine.filings import file_report
from engine.policy import IDENTITY, field_groups_of
from engine.queries import actor_for
from engine.registry import load_registry
from engine.store import CASE, TASK
from engine.tables import TaskKind
from gaita.bootstrap import App
from gaita.demo import sample_fields
from gaita.settings import ROOT
from tests.web.conftest import CHILD_CODE, CHILD_NAME, SCHOOL
from tests.web.test_reports import mailed_link, text_of

Client = Callable[[str | None], TestClient]
DECLARED = load_registry(ROOT / "workflows")
REPORTS = [(case_type, name, r.code) for case_type in DECLARED.case_types
           for name, s in DECLARED.latest(case_type).states.items() for r in s.reports]
#: A value no sample field takes, to tell each case field on the page.
MARK = "Ē-{}-Ž"


def reporter(roles: list[str]) -> str:
    """A demo user in one of the report's roles: the coordinator, else the school's staff."""
    return "koordinatore" if "coordinator" in roles else "skola"


@pytest.mark.parametrize(("case_type", "state", "code"), REPORTS,
                         ids=[f"{t}-{s}-{c}" for t, s, c in REPORTS])
def test_every_declared_report_mails_a_link_to_exactly_its_fields(
        web: App, browser_client: Client, case_type: str, state: str, code: str) -> None:
    wf = web.rt.registry.latest(case_type)
    report = wf.state(state).report(code)
    assert report is not None
    school = None if case_type == "unregistered_child" else SCHOOL
    opener = "koordinatore" if case_type == "unregistered_child" else "skola"
    ref = open_case(web.db, web.rt, case_type, actor_for(web.db, opener), child_name=CHILD_NAME,
                    child_code=CHILD_CODE, school=school,
                    fields=sample_fields(wf.open.fields)).reference
    groups = field_groups_of(wf)
    data: dict[str, Any] = {name: MARK.format(name) for name in groups}   # every case field
    with web.db.begin() as conn:   # the case in the report's state (the walk there is not
        case_id = conn.execute(sa.select(CASE.c.id).where(   # what this test is about)
            CASE.c.reference == ref)).scalar_one()
        conn.execute(sa.update(CASE).where(CASE.c.id == case_id).values(state=state, data=data))
        conn.execute(sa.update(TASK).where(TASK.c.case_id == case_id,
                                           TASK.c.kind == TaskKind.STATE).values(state=state))
    written = {name: MARK.format(f"filed-{name}") if spec.type == "text" else value
               for name, spec in report.fields.items()
               for value in [sample_fields({name: spec})[name]]}
    filed = file_report(web.db, web.rt, ref, code,
                        actor_for(web.db, reporter(report.roles)), written)
    page = browser_client(None).get(mailed_link(web, filed.task.id, "done"))
    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    for name, spec in report.fields.items():
        if spec.type == "text":
            assert written[name] in shown, f"{code}: the reporter's {name} is not shown"
    for name, group in groups.items():
        assert (MARK.format(name) in shown) == (group in report.reads), (
            f"{code}: case field {name} ({group}) shown wrongly; reads {report.reads}")
    assert (CHILD_NAME in shown) == (IDENTITY in report.reads)
    assert (CHILD_CODE in shown) == (IDENTITY in report.reads)
    assert 'name="f.answer.' in page.text or not report.answer
