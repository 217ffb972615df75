"""Notified institutions can act (issue 11 §3): what asked an institution to do something is
a declared report, a task of its recipient with its deadline, acknowledgement, email and
ladder, and the field groups it may read.

A4: the MK 871 p. 6 information requests (VSAA, the civil registry office, the police;
PMLP may be asked too) are answered with structured facts and must be made, or waived
with a reason, before the case moves on.  A7: a child who cannot be found is reported
to the State Police the same calendar day (BTAL 73(1)), a Saturday too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from engine.answers import TaskAction, answer
from engine.cases import fire, open_case
from engine.clock import FixedClock
from engine.errors import FieldError, NotPermitted
from engine.filings import file_report, report_details, waive_report
from engine.queries import actor_for, case_view, link_actor
from engine.registry import load_roles
from engine.store import OUTBOX, TASK, load_case_row
from engine.tables import TaskKind, TaskStatus
from gaita.bootstrap import App, load_declarations
from gaita.settings import load_settings
from notifications.catalogue import TEMPLATES_DIR
from tests.conftest import snapshot

#: The requests MK 871 p. 6 names (VSAA, the civil registry office, the police).
P6_REQUESTS = ("vsaa", "civil_registry", "police")
REQUEST = {"question": "Vai bērns dzīvo deklarētajā adresē? Vai izbraucis no valsts?",
           "contact": "Inese Koordinatore, 63000001"}


def make_requests(app: App, ref: str, codes: tuple[str, ...] = P6_REQUESTS) -> None:
    """File the coordinator's MK 871 p. 6 information requests of a case in verification."""
    for code in codes:
        file_report(app.db, app.rt, ref, code, actor_for(app.db, "koordinatore"), REQUEST)


def open_unregistered(app: App) -> str:
    return open_case(app.db, app.rt, "unregistered_child", actor_for(app.db, "koordinatore"),
                     child_name="Anna Ozola", child_code="120514-21234", fields={
                         "ikvd_list_date": "2026-11-30", "ikvd_cycle": "oct_30",
                         "age_group": "basic"}).reference


def coordinator_fires(app: App, ref: str, trigger: str, **fields: Any) -> Any:
    return fire(app.db, app.rt, ref, trigger, actor_for(app.db, "koordinatore"), fields)


def task_row(app: App, task_id: int) -> dict[str, Any]:
    with app.db.connect() as conn:
        return dict(conn.execute(sa.select(TASK).where(TASK.c.id == task_id)).mappings().one())


def test_a_vsaa_request_is_answered_by_vsaa_and_shown_on_the_case(gaita: App) -> None:
    ref = open_unregistered(gaita)
    with gaita.db.connect() as conn:   # the opening no longer emails VSAA a bare notice
        told = set(conn.execute(sa.select(OUTBOX.c.recipient_institution)).scalars())
    assert told == {"jip"}
    filed = file_report(gaita.db, gaita.rt, ref, "vsaa", actor_for(gaita.db, "koordinatore"),
                        REQUEST)
    assert filed.task.assignee == "vsaa"
    task = task_row(gaita, filed.task.id)
    assert (task["kind"], task["report"], task["state"]) == (TaskKind.REPORT, "vsaa",
                                                             "verification")
    # unregistered.information_request_days: 5 working days from Monday 30.11
    assert gaita.rt.calendar.format_local(task["due_at"]) == "07.12.2026 23:59"
    with gaita.db.connect() as conn:
        mails = conn.execute(sa.select(OUTBOX.c.template, OUTBOX.c.recipient_institution,
                                       OUTBOX.c.task_id)).all()
        data = load_case_row(conn, ref)["data"]
    assert ("task_assigned", "vsaa", filed.task.id) in mails   # carries the task's links
    # VSAA reads the child's identity and the request, not the case's data
    wf = gaita.rt.registry.latest("unregistered_child")
    shown = report_details(wf, "verification", task, data)
    assert shown["report"].reads == ["identity"]
    assert shown["filed"] == REQUEST and shown["case"] == {}

    vsaa = link_actor(gaita.rt, "vsaa")
    before = snapshot(gaita.db)
    with pytest.raises(FieldError) as bad:
        answer(gaita.db, gaita.rt, filed.task.id, TaskAction.DONE, vsaa,
               fields={"finding": "lives_abroad"})
    assert bad.value.field == "finding"
    with pytest.raises(FieldError) as missing:
        answer(gaita.db, gaita.rt, filed.task.id, TaskAction.DONE, vsaa, fields={})
    assert missing.value.field == "finding"
    assert snapshot(gaita.db) == before
    given = {"finding": "employment_found",
             "details": "Māte nodarbināta Jelgavā kopš 01.03.2025 (SIA „Piemērs”)"}
    answer(gaita.db, gaita.rt, filed.task.id, TaskAction.DONE, vsaa, fields=given)
    done = task_row(gaita, filed.task.id)
    assert done["status"] == TaskStatus.DONE and done["details"]["answer"] == given
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    answered = [e for e in view["timeline"] if e["kind"] == "task"]
    assert answered[-1]["fields"]["answer"] == given
    # the case stays with the education board, in verification
    assert view["state"] == "verification"


def test_a_register_answers_with_the_date_and_country_the_child_left(gaita: App) -> None:
    ref = open_unregistered(gaita)
    make_requests(gaita, ref, ("civil_registry",))
    task_id = next(t.task_id for t in _reports(gaita, ref) if t.report == "civil_registry")
    given = {"finding": "left_country", "event_date": "14.08.2025", "country": "Īrija"}
    answer(gaita.db, gaita.rt, task_id, TaskAction.DONE,
           link_actor(gaita.rt, "dzimtsarakstu-nodala"), fields=given)
    assert task_row(gaita, task_id)["details"]["answer"] == {**given, "event_date": "2025-08-14"}


def _reports(app: App, ref: str) -> list[Any]:
    with app.db.connect() as conn:
        case = load_case_row(conn, ref)
        return list(conn.execute(sa.select(TASK.c.id.label("task_id"), TASK.c.report).where(
            TASK.c.case_id == case["id"], TASK.c.kind == TaskKind.REPORT.value)))


@pytest.mark.parametrize("left_out", P6_REQUESTS)
def test_each_p6_request_is_made_or_waived_before_the_case_moves_on(gaita: App,
                                                                    left_out: str) -> None:
    ref = open_unregistered(gaita)
    make_requests(gaita, ref, tuple(c for c in P6_REQUESTS if c != left_out))
    before = snapshot(gaita.db)
    for trigger, fields in (("located_not_learning", {"parents_reached": True}),
                            ("whereabouts_unknown", {"checks_done": "Zvanīts vecākiem"})):
        with pytest.raises(NotPermitted) as refused:
            coordinator_fires(gaita, ref, trigger, **fields)
        assert refused.value.code == "report.required_missing"
        assert [str(r) for r in refused.value.params["reports"]] == [left_out]
    assert snapshot(gaita.db) == before
    with pytest.raises(FieldError) as no_reason:
        waive_report(gaita.db, gaita.rt, ref, left_out, actor_for(gaita.db, "koordinatore"), "")
    assert no_reason.value.reason.code == "report.waive_reason"
    assert snapshot(gaita.db) == before
    waive_report(gaita.db, gaita.rt, ref, left_out, actor_for(gaita.db, "koordinatore"),
                 "Ģimene jau pārbaudīta iepriekšējā ciklā, lieta NEREG-2026-00001")
    # PMLP is not one of the p. 6 partners: it may be asked, never must
    assert coordinator_fires(gaita, ref, "located_not_learning",
                             parents_reached=True).to_state == "arrange_enrolment"


def test_the_same_day_orphans_court_report_is_not_held_up_by_the_requests(gaita: App) -> None:
    ref = open_unregistered(gaita)
    r = coordinator_fires(gaita, ref, "flag_child_at_risk", concern="Bērns bez uzraudzības")
    assert r.to_state == "orphans_court_notice"
    with pytest.raises(NotPermitted) as refused:   # but the orphan's court must be told
        coordinator_fires(gaita, ref, "orphans_court_informed")
    assert refused.value.code == "report.required_missing"
    court = file_report(gaita.db, gaita.rt, ref, "orphans_court",
                        actor_for(gaita.db, "koordinatore"),
                        {"description": "Bērns bez uzraudzības", "contact": "JIP, 63000001"})
    assert court.task.assignee == "barintiesa"
    assert coordinator_fires(gaita, ref, "orphans_court_informed").to_state == \
        "orphans_court_review"


def test_a_missing_child_is_reported_to_the_state_police_the_same_saturday(
        gaita: App, clock: FixedClock) -> None:
    ref = open_unregistered(gaita)
    make_requests(gaita, ref)
    coordinator_fires(gaita, ref, "whereabouts_unknown", checks_done="VSAA, dzimtsaraksti, PP")
    clock.set(datetime.fromisoformat("2026-12-05T14:30:00+02:00"))   # a Saturday
    police = actor_for(gaita.db, "policija")   # the municipal police, who could not find her
    before = snapshot(gaita.db)
    with pytest.raises(NotPermitted) as refused:
        fire(gaita.db, gaita.rt, ref, "report_missing", police, {})
    assert refused.value.code == "report.too_few"
    assert snapshot(gaita.db) == before
    filed = file_report(gaita.db, gaita.rt, ref, "state_police", police,
                        {"last_seen": "Kaimiņi bērnu nav redzējuši kopš oktobra",
                         "contact": "PP inspektors, 63000002"})
    assert filed.task.assignee == "vp-jelgava"
    task = task_row(gaita, filed.task.id)
    assert gaita.rt.calendar.format_local(task["due_at"]) == "05.12.2026 23:59"   # BTAL 73(1)
    with gaita.db.connect() as conn:
        mails = conn.execute(sa.select(OUTBOX.c.template, OUTBOX.c.recipient_institution,
                                       OUTBOX.c.task_id)).all()
    assert ("urgent_report", "vp-jelgava", filed.task.id) in mails
    r = fire(gaita.db, gaita.rt, ref, "report_missing", police, {})
    assert r.to_state == "missing_person_search"
    # the education board follows the status; the search stays the State Police's task
    assert r.task is not None and r.task.assignee == "jip"
    assert task_row(gaita, filed.task.id)["closed_at"] is None


def test_every_declared_report_can_reach_its_recipient() -> None:
    """Every report in every workflow: a recipient institution with an email, a template
    in both formats, and `reads` groups that exist and the recipient may see."""
    settings = load_settings({})
    municipality, registry = load_declarations(settings)
    roles = load_roles(settings.workflows)
    templates = {p.name for p in TEMPLATES_DIR.iterdir()}
    seen = 0
    for case_type in registry.case_types:
        wf = registry.latest(case_type)
        for name, state in wf.states.items():
            for r in state.reports:
                where = f"{case_type}.{name}.{r.code}"
                seen += 1
                assert r.to not in roles.per_case, where
                inst = municipality.institution_for_role(r.to)
                assert inst.email and "@" in inst.email, where
                assert {f"{r.template}.txt", f"{r.template}.html"} <= templates, where
                assert r.reads, where
                assert set(r.reads) <= set(roles.field_groups), where
                assert set(r.reads) <= roles.sees(roles.institution_roles[r.to]), where
                assert r.deadline is not None, where
    assert seen >= 14
