"""The cooperation group (engine.group): triggers, queue order, meetings, decisions,
follow-up and minutes, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document

from engine.answers import TaskAction, answer
from engine.cases import fire, open_case
from engine.clock import FixedClock
from engine.definitions import load_workflow
from engine.errors import (
    ConfigError,
    FieldError,
    InvalidWorkflowDefinition,
    NotFound,
    NotPermitted,
    PermissionDenied,
)
from engine.escalation import tick
from engine.filings import file_report
from engine.group.decisions import AgreedAction, decide
from engine.group.meetings import meeting_view, plan_meeting
from engine.group.queue import escalate, escalation_queue
from engine.group.reasons import UnknownReason
from engine.municipality import load_municipality
from engine.parties import add_aggressor
from engine.registry import load_roles
from engine.runtime import Actor
from engine.tables import (
    AccessAction,
    Case,
    CaseEvent,
    Decision,
    Escalation,
    Meeting,
    Outbox,
    Task,
    TaskKind,
)
from gaita.bootstrap import App, load_known_names
from gaita.demo import demo_code
from gaita.mail import delivery_worker
from gaita.settings import ROOT, load_settings
from i18n import format_day
from notifications.minutes import write_minutes
from tests.conftest import make_test_app, snapshot
from tests.notifications.smtp import SmtpServer
from tests.notifications.waiting import deliver_in_time

SCHOOL = "jelgavas-4-vsk"
GROUP = "btasg"
COORDINATOR = Actor("koordinatore", "coordinator", "jip")
CHAIR = Actor("vaditajs", "group_chair", "dome")
STAFF = Actor("skola", "institution_staff", SCHOOL)
CHILD = "Ēriks Šņore"
CASE, EVENT, TASK = Case.__table__, CaseEvent.__table__, Task.__table__
OUTBOX, ESCALATION = Outbox.__table__, Escalation.__table__
MEETING, DECISION = Meeting.__table__, Decision.__table__
SEVERAL = "several_institutions"
ACTION_TEXT = "Sagatavot ģimenes atbalsta plānu un iesniegt to grupai"
SUBSTANCE_FIELDS = {"substance_kind": "alcohol", "incident_kind": "use",
                    "incident_count": 1}


# -- helpers ---------------------------------------------------------------------

def open_absence(gaita: App, n: int = 0, risk: str = "medium", code: str | None = None) -> str:
    return open_case(gaita.db, gaita.rt, "absences", COORDINATOR, child_name=CHILD,
                     child_code=code or demo_code(n), school=SCHOOL,
                     fields={"age_group": "basic"}, risk_level=risk).reference


def act(gaita: App, ref: str, trigger: str, actor: Actor = COORDINATOR, **fields: Any) -> Any:
    return fire(gaita.db, gaita.rt, ref, trigger, actor, fields)


def refer(gaita: App, ref: str, urgent: bool = False, reason: str = SEVERAL) -> int:
    return escalate(gaita.db, gaita.rt, ref, COORDINATOR, reason, urgent=urgent)


def rows(gaita: App, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    with gaita.db.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(table).where(*where).order_by(*table.primary_key)).mappings()]


def case_id(gaita: App, ref: str) -> int:
    return int(rows(gaita, CASE, CASE.c.reference == ref)[0]["id"])


def group_snapshot(gaita: App) -> dict[str, Any]:
    """``tests.conftest.snapshot`` plus the group's own tables."""
    out: dict[str, Any] = snapshot(gaita.db)
    for table in (ESCALATION, MEETING, DECISION):
        out[table.name] = [tuple(r.values()) for r in rows(gaita, table)]
    return out


def today(gaita: App) -> date:
    return gaita.rt.calendar.local_date(gaita.rt.clock.now())


def working_day(gaita: App, n: int) -> date:
    return gaita.rt.calendar.add_working_days(today(gaita), n)


def plan(gaita: App, day: date | None = None, **kw: Any) -> Any:
    return plan_meeting(gaita.db, gaita.rt, CHAIR, day or today(gaita), **kw)


def queued_meeting(gaita: App, ref: str) -> int:
    refer(gaita, ref)
    return int(plan(gaita).meeting_id)


# -- reasons and triggers ----------------------------------------------------------

def test_a_coordinator_refers_a_case_by_hand_and_the_group_hears_the_reason_in_its_language(
        gaita: App) -> None:
    ref = open_absence(gaita)
    escalation_id = refer(gaita, ref, urgent=True)
    (esc,) = rows(gaita, ESCALATION)
    assert (esc["id"], esc["reasons"], esc["urgent"], esc["status"], esc["queued_by"]) == (
        escalation_id, [SEVERAL], True, "queued", "koordinatore")
    (mail,) = rows(gaita, OUTBOX, OUTBOX.c.template == "group_queued")
    assert mail["recipient_institution"] == GROUP
    assert mail["payload"]["extra"] == {
        "reason": "Nepieciešama vairāku institūciju ātra rīcība un sadarbība",
        "reason_code": SEVERAL, "risk": "medium"}
    (event,) = rows(gaita, EVENT, EVENT.c.kind == "queued")
    assert (event["actor"], event["payload"]) == ("koordinatore", {"reason": SEVERAL, "urgent": True})
    # a second reason joins the open referral; the group is told once
    refer(gaita, ref, reason="unsolvable")
    assert rows(gaita, ESCALATION)[0]["reasons"] == [SEVERAL, "unsolvable"]
    assert len(rows(gaita, OUTBOX, OUTBOX.c.template == "group_queued")) == 1
    # the case keeps its owner: the group is not one
    assert rows(gaita, CASE)[0]["owner_institution"] == SCHOOL


@pytest.mark.parametrize(("reason", "message"), [
    ("stalled", "the reason 'stalled' is given by Gaita itself; a case is referred by hand "
                "for: several_institutions, unsolvable"),
    ("nesen", "unknown escalation reason 'nesen'; a case is referred by hand for: "
              "several_institutions, unsolvable"),
])
def test_a_reason_not_for_hands_is_refused_precisely_and_nothing_changes(
        gaita: App, reason: str, message: str) -> None:
    ref = open_absence(gaita)
    before = group_snapshot(gaita)
    with pytest.raises(UnknownReason) as raised:
        refer(gaita, ref, reason=reason)
    assert str(raised.value) == message
    assert group_snapshot(gaita) == before


def test_only_group_roles_refer_by_hand_and_only_open_cases(gaita: App) -> None:
    ref = open_absence(gaita)
    before = group_snapshot(gaita)
    with pytest.raises(PermissionDenied, match="role 'institution_staff' may not refer cases"):
        escalate(gaita.db, gaita.rt, ref, STAFF, SEVERAL)
    with pytest.raises(NotFound, match="no case with reference 'KAV-2026-99999'"):
        refer(gaita, "KAV-2026-99999")
    assert group_snapshot(gaita) == before


def _open_substances(gaita: App, code: str) -> Any:
    return open_case(gaita.db, gaita.rt, "substances", COORDINATOR, child_name=CHILD,
                     child_code=code, school=SCHOOL, fields=SUBSTANCE_FIELDS)


def test_a_second_substance_case_for_the_same_child_within_12_months_is_queued_as_repeated(
        gaita: App, clock: FixedClock) -> None:
    first = _open_substances(gaita, demo_code(1))
    other_child = _open_substances(gaita, demo_code(2))
    assert rows(gaita, ESCALATION) == []
    clock.advance(days=360)
    second = _open_substances(gaita, demo_code(1))
    (esc,) = rows(gaita, ESCALATION)
    assert (esc["case_id"], esc["reasons"], esc["queued_by"]) == (
        case_id(gaita, second.reference), ["repeated_case"], "gaita")
    (event,) = rows(gaita, EVENT, EVENT.c.kind == "queued")
    assert event["payload"] == {"reason": "repeated_case", "urgent": False,
                                "previous": first.reference, "window_months": 12}
    # the returned version is the case's (the queued event bumped it)
    assert second.version == rows(gaita, CASE, CASE.c.reference == second.reference)[0]["version"] == 2
    (mail,) = rows(gaita, OUTBOX, OUTBOX.c.template == "group_queued")
    assert mail["payload"]["extra"]["reason"] == "Atkārtota lieta par to pašu bērnu"
    assert other_child.version == 1


def test_an_absence_case_is_repeated_within_the_configured_window_only(
        gaita: App, clock: FixedClock) -> None:
    assert gaita.rt.param("absences.repeat_window_months") == 6
    open_absence(gaita, 3)
    _open_substances(gaita, demo_code(3))         # another type: not a repeat
    clock.advance(days=7 * 31)
    late = open_absence(gaita, 3)                  # more than 6 months later: not a repeat
    assert rows(gaita, ESCALATION) == []
    clock.advance(days=120)
    repeated = open_absence(gaita, 3)              # 4 months after the last one
    (esc,) = rows(gaita, ESCALATION)
    assert (esc["case_id"], esc["reasons"]) == (case_id(gaita, repeated), ["repeated_case"])
    assert rows(gaita, EVENT, EVENT.c.kind == "queued")[0]["payload"]["previous"] == late


def walk_violence_to_school_measures(gaita: App, risk: str = "medium") -> str:
    ref = open_case(gaita.db, gaita.rt, "violence", COORDINATOR, child_name=CHILD,
                    child_code=demo_code(5), school=SCHOOL, risk_level=risk,
                    fields={"violence_kind": "pupil_to_pupil", "violence_form": "physical",
                            "finding": "found"}).reference
    file_report(gaita.db, gaita.rt, ref, "state_police", COORDINATOR,
                {"description": "Kautiņš skolas pagalmā", "contact": "Direktore, 63000000"})
    act(gaita, ref, "protected_and_reported", victim_protected=True, first_aid_given=False)
    act(gaita, ref, "founder_informed", victim_parents_informed=True)
    act(gaita, ref, "school_to_resolve", support_given="Sarunas ar skolas psihologu")
    return ref


def test_the_mk474_p12_report_queues_the_violence_case_with_its_declared_reason(
        gaita: App) -> None:
    transition = gaita.rt.registry.latest("violence").transition("school_measures",
                                                                 "report_to_municipality")
    assert transition is not None and transition.escalate == "mk474_p12"
    ref = walk_violence_to_school_measures(gaita, risk="high")
    assert rows(gaita, ESCALATION) == []
    add_aggressor(gaita.db, gaita.rt, ref, STAFF, name="Pēteris Kalns", code=demo_code(9),
                  school=SCHOOL, municipality="jelgava")
    result = act(gaita, ref, "report_to_municipality", STAFF, no_improvement=True,
                 parents_not_cooperating=True, measures_taken="Uzvedības plāns, sarunas")
    assert result.to_state == "mk545_examination"
    (esc,) = rows(gaita, ESCALATION)
    assert (esc["reasons"], esc["urgent"], esc["queued_by"]) == (["mk474_p12"], True, "skola")
    case = rows(gaita, CASE, CASE.c.reference == ref)[0]
    assert result.version == case["version"]
    assert case["owner_institution"] == "jip"      # the education board keeps the case
    (mail,) = rows(gaita, OUTBOX, OUTBOX.c.template == "group_queued")
    assert mail["payload"]["extra"]["reason"] == (
        "MK 474 12. punkts: vardarbīgs izglītojamais, vecāki nesadarbojas")
    # the state's ladder later adds `stalled` to the same referral, not a second one
    clock = gaita.rt.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=3)
    tick(gaita.db, gaita.rt)
    (esc,) = rows(gaita, ESCALATION)
    assert esc["reasons"] == ["mk474_p12", "stalled"]


# -- the queue ------------------------------------------------------------------------

def test_the_queue_is_ordered_by_urgency_risk_days_overdue_institutions_and_time(
        gaita: App, clock: FixedClock) -> None:
    overdue = open_absence(gaita, 10)                 # its same-day task runs late
    clock.advance(days=3)                             # Thursday 3 Dec: 3 working days late
    urgent = open_absence(gaita, 11, risk="low")
    high = open_absence(gaita, 12, risk="high")
    two = open_absence(gaita, 13)
    act(gaita, two, "record_unjustified", STAFF, parents_reached="false")
    act(gaita, two, "report_to_board", STAFF, unjustified_lessons=24, school_actions="Sarunas")
    early, late = open_absence(gaita, 14), open_absence(gaita, 15)
    for ref in (late, early):
        clock.advance(minutes=1)
        refer(gaita, ref)
    for ref in (two, overdue, high):
        refer(gaita, ref)
    refer(gaita, urgent, urgent=True)
    queue = escalation_queue(gaita.db, gaita.rt)
    assert [i.reference for i in queue] == [urgent, high, overdue, two, late, early]
    by_ref = {i.reference: i for i in queue}
    assert by_ref[overdue].days_overdue == 3 and by_ref[two].days_overdue == 0
    assert (by_ref[two].institutions, by_ref[late].institutions) == (2, 1)


# -- meetings -------------------------------------------------------------------------

def test_an_ordinary_meeting_takes_the_whole_queue_and_emails_the_agenda(gaita: App) -> None:
    a, b = open_absence(gaita, 20), open_absence(gaita, 21, risk="high")
    refer(gaita, a)
    refer(gaita, b)
    day = working_day(gaita, 5)
    result = plan(gaita, day, place="Lielā iela 11, 201. kabinets",
                  case_url=lambda r: f"https://gaita.example.lv/cases/{r}")
    assert [i.reference for i in result.items] == [b, a] and result.warnings == ()
    meeting = rows(gaita, MEETING)[0]
    assert (meeting["id"], meeting["day"], meeting["kind"], meeting["status"]) == (
        result.meeting_id, day, "ordinary", "planned")
    assert {(e["status"], e["meeting_id"]) for e in rows(gaita, ESCALATION)} == {
        ("scheduled", result.meeting_id)}
    assert len(rows(gaita, EVENT, EVENT.c.kind == "scheduled")) == 2
    (mail,) = rows(gaita, OUTBOX, OUTBOX.c.template == "meeting_agenda")
    assert (mail["recipient_institution"], mail["case_id"]) == (GROUP, None)
    extra = mail["payload"]["extra"]
    assert extra["meeting"] == {"id": result.meeting_id, "when": day.strftime("%d.%m.%Y"),
                                "place": "Lielā iela 11, 201. kabinets"}
    assert extra["items"][0] == {
        "reference": b, "type_title": "Neattaisnoti mācību stundu kavējumi",
        "reason": "Nepieciešama vairāku institūciju ātra rīcība un sadarbība",
        "url": f"https://gaita.example.lv/cases/{b}"}
    # nothing is left in the queue for the next meeting
    assert plan(gaita, working_day(gaita, 6)).items == []


def test_an_ordinary_meeting_warns_about_cases_that_waited_too_long(gaita: App) -> None:
    assert gaita.rt.param("cooperation_group.ordinary_max_wait_working_days") == 10
    ref = open_absence(gaita, 22)
    refer(gaita, ref)
    result = plan(gaita, working_day(gaita, 11))
    (warning,) = map(str, result.warnings)
    assert warning.startswith(f"{ref} was queued on 30.11.2026: by ") and \
        "will have waited 11 working days, more than 10" in warning


def test_an_extraordinary_meeting_takes_urgent_cases_by_the_next_working_day(gaita: App) -> None:
    urgent, ordinary = open_absence(gaita, 23), open_absence(gaita, 24)
    refer(gaita, urgent, urgent=True)
    refer(gaita, ordinary)
    before = group_snapshot(gaita)
    with pytest.raises(NotPermitted, match=r"an extraordinary meeting is held by 01\.12\.2026"):
        plan(gaita, working_day(gaita, 2), extraordinary=True)
    assert group_snapshot(gaita) == before
    result = plan(gaita, working_day(gaita, 1), extraordinary=True)
    assert [i.reference for i in result.items] == [urgent]
    assert rows(gaita, MEETING)[0]["kind"] == "extraordinary"
    statuses = {e["case_id"]: e["status"] for e in rows(gaita, ESCALATION)}
    assert statuses == {case_id(gaita, urgent): "scheduled", case_id(gaita, ordinary): "queued"}
    with pytest.raises(NotPermitted, match=r"for urgent cases only .* none is waiting"):
        plan(gaita, working_day(gaita, 1), extraordinary=True)


def test_planning_refuses_past_days_days_off_and_other_roles(gaita: App) -> None:
    refer(gaita, open_absence(gaita, 25))
    before = group_snapshot(gaita)
    with pytest.raises(NotPermitted, match=r"the meeting day 27\.11\.2026 is in the past"):
        plan(gaita, date(2026, 11, 27))
    with pytest.raises(NotPermitted, match=r"05\.12\.2026 is not a working day; the next one is 07\.12\.2026"):
        plan(gaita, date(2026, 12, 5))
    with pytest.raises(PermissionDenied, match="role 'institution_staff' may not plan"):
        plan_meeting(gaita.db, gaita.rt, STAFF, today(gaita))
    assert group_snapshot(gaita) == before


def test_a_case_left_undecided_at_a_past_meeting_comes_back(gaita: App, clock: FixedClock) -> None:
    ref = open_absence(gaita, 26)
    first = queued_meeting(gaita, ref)
    clock.advance(days=1)
    result = plan(gaita, today(gaita))
    assert [i.reference for i in result.items] == [ref] and result.meeting_id != first


# -- decisions ------------------------------------------------------------------------

def decide_two_actions(gaita: App, meeting: int, ref: str) -> Any:
    return decide(gaita.db, gaita.rt, meeting, ref, CHAIR, summary="Ģimenei nepieciešams atbalsts",
                  actions=[AgreedAction.parse(f"jslp:10:{ACTION_TEXT}"),
                           AgreedAction("pp", 3, "Apsekot dzīvesvietu")])


def test_a_decision_becomes_tracked_tasks_of_the_institutions_with_emails_and_links(
        gaita: App, clock: FixedClock) -> None:
    ref = open_absence(gaita, 30)
    meeting = queued_meeting(gaita, ref)
    owner_before = rows(gaita, CASE)[0]["owner_institution"]
    now = gaita.rt.clock.now()
    result = decide_two_actions(gaita, meeting, ref)
    cal = gaita.rt.calendar
    (decision,) = rows(gaita, DECISION)
    assert (decision["id"], decision["meeting_id"], decision["summary"], decision["decided_by"]) == (
        result.decision_id, meeting, "Ģimenei nepieciešams atbalsts", "vaditajs")
    tasks = rows(gaita, TASK, TASK.c.kind == TaskKind.DECISION)
    assert [(t["assignee_institution"], t["title"], t["due_at"], t["remind_at"]) for t in tasks] == [
        ("jslp", ACTION_TEXT, cal.due_at(now, 10), cal.due_at(now, 8)),
        ("pp", "Apsekot dzīvesvietu", cal.due_at(now, 3), cal.due_at(now, 1))]
    for t in tasks:
        assert t["decision_id"] == decision["id"] and t["closed_at"] is None
        assert t["ack_due_at"] == cal.due_at(now, 2)
        assert t["next_check_at"] == min(t["ack_due_at"], t["remind_at"])
    (event,) = rows(gaita, EVENT, EVENT.c.kind == "decision")
    assert event["id"] == decision["event_id"] and event["payload"]["meeting"] == meeting
    assert [a["institution"] for a in event["payload"]["actions"]] == ["jslp", "pp"]
    mails = rows(gaita, OUTBOX, OUTBOX.c.template == "decision_task")
    assert [(m["recipient_institution"], m["task_id"]) for m in mails] == [
        ("jslp", tasks[0]["id"]), ("pp", tasks[1]["id"])]            # with the task's links
    assert mails[0]["payload"]["extra"] == {"decision": "Ģimenei nepieciešams atbalsts"}
    assert rows(gaita, ESCALATION)[0]["status"] == "decided"
    assert rows(gaita, MEETING)[0]["status"] == "held"
    case = rows(gaita, CASE)[0]
    assert case["owner_institution"] == owner_before == SCHOOL
    # tracked like any other task: reminded, then overdue, by the tick
    clock.advance(days=2)                 # Wednesday: pp's reminder was due Tuesday evening
    tick(gaita.db, gaita.rt)
    reminders = rows(gaita, OUTBOX, OUTBOX.c.template == "task_reminder")
    assert [(m["recipient_institution"], m["task_id"]) for m in reminders] == [("pp", tasks[1]["id"])]
    clock.advance(days=3)
    tick(gaita.db, gaita.rt)
    overdue = rows(gaita, OUTBOX, OUTBOX.c.template == "task_overdue")
    assert ("pp", tasks[1]["id"]) in [(m["recipient_institution"], m["task_id"]) for m in overdue]
    assert rows(gaita, TASK, TASK.c.id == tasks[1]["id"])[0]["breached_at"] is not None


def test_a_decision_is_recorded_once_on_an_agenda_case_on_or_after_the_meeting_day(
        gaita: App) -> None:
    ref, other = open_absence(gaita, 31), open_absence(gaita, 32)
    refer(gaita, ref)
    future = plan(gaita, working_day(gaita, 2)).meeting_id
    before = group_snapshot(gaita)
    with pytest.raises(NotPermitted, match=r"meeting \d+ is on 02.12.2026; its decisions are recorded"):
        decide_two_actions(gaita, future, ref)
    with pytest.raises(NotPermitted, match=f"{other} is not on the agenda of meeting {future}"):
        decide_two_actions(gaita, future, other)
    with pytest.raises(NotFound, match="no meeting 999"):
        decide_two_actions(gaita, 999, ref)
    with pytest.raises(FieldError, match="unknown institution 'policija'"):
        decide(gaita.db, gaita.rt, future, ref, CHAIR, summary="x",
               actions=[AgreedAction.parse("policija:3:Apsekot")])
    with pytest.raises(FieldError, match="'btasg' is the cooperation group, which owns no task"):
        decide(gaita.db, gaita.rt, future, ref, CHAIR, summary="x",
               actions=[AgreedAction.parse("btasg:3:Apsekot")])
    with pytest.raises(FieldError, match="expected INSTITUTION:WORKING_DAYS:TEXT"):
        AgreedAction.parse("jslp-10-Apsekot")
    with pytest.raises(FieldError, match="field 'summary': required"):
        decide(gaita.db, gaita.rt, future, ref, CHAIR, summary="  ")
    with pytest.raises(PermissionDenied, match="may not record the cooperation group's decisions"):
        decide(gaita.db, gaita.rt, future, ref, STAFF, summary="x")
    assert group_snapshot(gaita) == before
    other_meeting = queued_meeting(gaita, other)
    decide(gaita.db, gaita.rt, other_meeting, other, CHAIR, summary="Pārrunāts")
    with pytest.raises(NotPermitted, match=f"the decision on {other} at meeting {other_meeting} "
                                           "is already recorded"):
        decide(gaita.db, gaita.rt, other_meeting, other, CHAIR, summary="Vēlreiz")


def test_decided_cases_come_back_for_review_until_their_tasks_are_done(
        gaita: App, clock: FixedClock) -> None:
    ref, fresh = open_absence(gaita, 33), open_absence(gaita, 34)
    first = queued_meeting(gaita, ref)
    result = decide_two_actions(gaita, first, ref)
    jslp_task, pp_task = (t.task_id for t in result.tasks)
    # next meeting: the decision is reviewed (a new referral also joins a queued one)
    clock.advance(days=7)
    refer(gaita, fresh)
    second = plan(gaita, today(gaita))
    assert {i.reference: i.reasons for i in second.items} == {ref: ("follow_up",), fresh: (SEVERAL,)}
    agenda = rows(gaita, OUTBOX, OUTBOX.c.template == "meeting_agenda")[-1]["payload"]["extra"]
    assert {i["reference"]: i["reason"] for i in agenda["items"]}[ref] == (
        "Iepriekšējā sadarbības grupas lēmuma izpildes pārskats")
    decide(gaita.db, gaita.rt, second.meeting_id, ref, CHAIR, summary="Izpilde turpinās")
    decide(gaita.db, gaita.rt, second.meeting_id, fresh, CHAIR, summary="Nodots skolai")
    # one institution reports done: its task closes; the other is still open
    answer(gaita.db, gaita.rt, pp_task, TaskAction.DONE,
           Actor("link:pp", "institution_staff", "pp"), reason="Apsekots")
    (done,) = rows(gaita, TASK, TASK.c.id == pp_task)
    assert (done["status"], done["closed_at"], done["next_check_at"]) == (
        "done", gaita.rt.clock.now(), None)
    assert done["closed_by_event"] == rows(gaita, EVENT)[-1]["id"]
    # a queued referral of a case under review gets both reasons
    refer(gaita, ref, reason="unsolvable")
    clock.advance(days=7)
    third = plan(gaita, today(gaita))
    assert {i.reference: i.reasons for i in third.items}[ref] == ("unsolvable", "follow_up")
    decide(gaita.db, gaita.rt, third.meeting_id, ref, CHAIR, summary="Gaidām sociālo dienestu")
    answer(gaita.db, gaita.rt, jslp_task, TaskAction.DONE,
           Actor("link:jslp", "institution_staff", "jslp"))
    clock.advance(days=7)
    assert [i.reference for i in plan(gaita, today(gaita)).items] == []   # all done
    with pytest.raises(NotPermitted, match="done without a transition"):
        decide_and_answer_with_trigger(gaita)


def decide_and_answer_with_trigger(gaita: App) -> None:
    ref = open_absence(gaita, 35)
    meeting = queued_meeting(gaita, ref)
    (task,) = decide(gaita.db, gaita.rt, meeting, ref, CHAIR, summary="x",
                     actions=[AgreedAction("jslp", 5, "Sazināties")]).tasks
    answer(gaita.db, gaita.rt, task.task_id, TaskAction.DONE,
           Actor("link:jslp", "institution_staff", "jslp"), trigger="record_unjustified")


def test_the_decision_task_email_is_delivered_with_its_action_links(db_url: str) -> None:
    with SmtpServer() as smtp:
        gaita = make_test_app(db_url, smtp_port=smtp.port, smtp_timeout=10)
        try:
            ref = open_absence(gaita, 36)
            meeting = queued_meeting(gaita, ref)
            decide(gaita.db, gaita.rt, meeting, ref, CHAIR, summary="Ģimenei nepieciešams atbalsts",
                   actions=[AgreedAction("jslp", 10, ACTION_TEXT)])
            report = deliver_in_time(gaita, delivery_worker(gaita, rng=random.Random(0)))
            assert len(report.sent) == len(rows(gaita, OUTBOX)) and not report.failed
        finally:
            gaita.db.dispose()
    messages = {r.message["Subject"]: r for r in smtp.received}
    subject = next(s for s in messages if s.startswith("Sadarbības grupas vienošanās par rīcību"))
    msg = messages[subject].message
    assert ref in subject and "termiņš" in subject
    text = msg.get_body(("plain",)).get_content()
    assert ACTION_TEXT in text and "Ģimenei nepieciešams atbalsts" in text
    assert "/link/done/" in text and "/link/more_time/" in text   # the task's action links
    assert CHILD not in text
    agenda = next(r for s, r in messages.items() if "darba kārtība" in s)
    assert ref in agenda.message.get_body(("plain",)).get_content()


# -- the meeting and its minutes ---------------------------------------------------------

def docx_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def test_the_minutes_are_a_docx_with_diacritics_intact_and_no_child_data(
        gaita: App, tmp_path: Path) -> None:
    ref, undecided = open_absence(gaita, 40), open_absence(gaita, 41)
    refer(gaita, undecided)
    meeting = queued_meeting(gaita, ref)
    decide_two_actions(gaita, meeting, ref)
    view = meeting_view(gaita.db, gaita.rt, meeting, CHAIR, action=AccessAction.EXPORT)
    assert [i["reference"] for i in view["items"]] == [undecided, ref]   # queued first
    path = write_minutes(gaita.rt, view, tmp_path / "protokols.docx")
    text = docx_text(path)
    due = format_day(gaita.rt.calendar.local_date(gaita.rt.calendar.due_at(
        gaita.rt.clock.now(), 10)), "lv")   # a day in words, as the minutes' date
    for expected in ("Bērnu tiesību aizsardzības sadarbības grupa", "Sēdes protokols",
                     "Datums: 2026. gada 30. novembris", ref, undecided, "Neattaisnoti mācību stundu kavējumi",
                     "Nepieciešama vairāku institūciju ātra rīcība un sadarbība",
                     "Vienošanās par rīcību: Ģimenei nepieciešams atbalsts", ACTION_TEXT,
                     "Apsekot dzīvesvietu", "Izpildes termiņš", due, "Vienošanās nav panākta.",
                     "ieteikuma raksturs (MK 545)", "Jelgavas izglītības pārvaldes pārstāvis: ____",
                     "Domes priekšsēdētāja vietnieks: ____", "Sēdes vadītājs: ____",
                     "Protokolētājs: ____"):
        assert expected in text, expected
    with gaita.db.connect() as conn:
        child = conn.execute(sa.text("SELECT name, personal_code FROM child")).first()
    assert child is not None and child.name not in text and child.personal_code not in text
    assert demo_code(40) not in text
    exports = rows(gaita, sa.table("access_log", sa.column("action"), sa.column("actor"),
                                   sa.column("id")))
    assert [(r["action"], r["actor"]) for r in exports] == [("export", "vaditajs")] * 2
    english = write_minutes(gaita.rt, meeting_view(gaita.db, gaita.rt, meeting, CHAIR, locale="en"),
                            tmp_path / "minutes.docx", locale="en")
    assert "Minutes of the meeting" in docx_text(english)
    assert "Child Rights Protection Cooperation Group" in docx_text(english)


# -- declarations and config ---------------------------------------------------------------

@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "jelgava"
    shutil.copytree(ROOT / "config" / "jelgava", copy)
    return copy


def _load(config: Path) -> Any:
    roles = load_roles(ROOT / "workflows")
    return load_municipality(config, institution_roles=roles.institution_roles,
                             shared_roles=roles.per_case)


def test_the_config_must_keep_the_reasons_the_engine_gives_and_known_window_parameters(
        config_copy: Path) -> None:
    group = config_copy / "cooperation_group.yaml"
    text = group.read_text(encoding="utf-8")
    group.write_text(text.replace("  follow_up:\n", "  follow_upp:\n")
                     .replace("absences: absences.repeat_window_months",
                              "absences: absences.repeat_months"), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        _load(config_copy)
    message = str(raised.value)
    assert "missing reason 'follow_up': the engine gives it itself" in message
    assert "unknown parameter 'absences.repeat_months'" in message


def test_a_transition_may_only_escalate_for_a_configured_reason(tmp_path: Path) -> None:
    path = tmp_path / "violence.yaml"
    path.write_text((ROOT / "workflows" / "violence.yaml").read_text(encoding="utf-8").replace(
        "escalate: mk474_p12", "escalate: mk474_p13"), encoding="utf-8")
    _, known = load_known_names(load_settings({}))
    assert known.escalation_reasons is not None and "mk474_p12" in known.escalation_reasons
    with pytest.raises(InvalidWorkflowDefinition,
                       match="transition 'report_to_municipality': unknown escalation reason "
                             "'mk474_p13'; configured: follow_up, mk474_p12"):
        load_workflow(path, known)
    load_workflow(path, replace(known, escalation_reasons=None))   # not checked without config


def test_group_roles_are_declared_in_roles_yaml() -> None:
    roles = load_roles(ROOT / "workflows")
    assert {r for r, s in roles.user_roles.items() if s.group_work} == {
        "coordinator", "group_member", "group_chair"}
    assert {r for r, s in roles.user_roles.items() if s.chairs} == {"group_chair"}
