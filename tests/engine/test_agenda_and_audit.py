"""The chair picks a meeting's agenda and gives its time; the audit log folds repeated
reads and answers "what did this person read, when?" (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from engine.access_log import AuditFilter, audit_log, fold, log_access
from engine.clock import FixedClock
from engine.dates import InvalidTime, parse_time_of_day
from engine.errors import AccessDenied, NotFound, NotPermitted
from engine.group.meetings import meeting_view, plan_meeting
from engine.queries import actor_for, case_view
from engine.runtime import Actor
from engine.store import ACCESS
from engine.tables import AccessAction, Channel
from gaita.bootstrap import App
from i18n.messages import render
from tests.engine.test_group import (
    CHAIR,
    COORDINATOR,
    ESCALATION,
    MEETING,
    OUTBOX,
    case_id,
    group_snapshot,
    open_absence,
    refer,
    rows,
    today,
    working_day,
)

AUDITOR = Actor("auditors", "auditor", None)


def test_the_chair_picks_the_agenda_and_the_rest_stay_queued(gaita: App) -> None:
    a, b, c = (open_absence(gaita, n) for n in (31, 32, 33))
    for ref in (a, b, c):
        refer(gaita, ref)
    day = working_day(gaita, 1)
    plan = plan_meeting(gaita.db, gaita.rt, CHAIR, day, picked=[c, a, a], at=time(14, 0))
    assert sorted(i.reference for i in plan.items) == sorted([a, c])
    statuses = {e["case_id"]: e["status"] for e in rows(gaita, ESCALATION)}
    assert statuses == {case_id(gaita, a): "scheduled", case_id(gaita, b): "queued",
                        case_id(gaita, c): "scheduled"}
    (meeting,) = rows(gaita, MEETING)
    starts = meeting["starts_at"].astimezone(gaita.rt.calendar.timezone)
    assert (starts.date(), starts.time()) == (day, time(14, 0))
    assert plan.starts_at == meeting["starts_at"]
    view = meeting_view(gaita.db, gaita.rt, plan.meeting_id, CHAIR)
    assert view["time"] == "14:00"
    (mail,) = rows(gaita, OUTBOX, OUTBOX.c.template == "meeting_agenda")
    assert mail["payload"]["extra"]["meeting"]["when"] == f"{day:%d.%m.%Y} 14:00"
    assert [i["reference"] for i in mail["payload"]["extra"]["items"]] == [i.reference for i in plan.items]


def test_a_meeting_without_a_time_says_so(gaita: App) -> None:
    refer(gaita, open_absence(gaita, 34))
    plan = plan_meeting(gaita.db, gaita.rt, CHAIR, working_day(gaita, 1))
    assert plan.starts_at is None
    assert meeting_view(gaita.db, gaita.rt, plan.meeting_id, CHAIR)["time"] is None


@pytest.mark.parametrize(("picked", "code"), [
    ([], "meeting.nothing_picked"),
    (["  "], "meeting.nothing_picked"),
    (["KAV-2026-99999"], "meeting.not_queued"),
])
def test_a_pick_that_is_not_queued_is_refused_and_nothing_is_stored(
        gaita: App, picked: list[str], code: str) -> None:
    queued = open_absence(gaita, 35)
    refer(gaita, queued)
    before = group_snapshot(gaita)
    with pytest.raises(NotPermitted) as refused:
        plan_meeting(gaita.db, gaita.rt, CHAIR, working_day(gaita, 1), picked=[queued, *picked]
                     if code == "meeting.not_queued" else picked)
    assert refused.value.code == code
    assert group_snapshot(gaita) == before


def test_a_case_already_on_an_agenda_or_never_queued_is_not_picked(gaita: App) -> None:
    first, never = open_absence(gaita, 36), open_absence(gaita, 37)
    refer(gaita, first)
    plan_meeting(gaita.db, gaita.rt, CHAIR, working_day(gaita, 2), picked=[first])
    before = group_snapshot(gaita)
    for ref in (first, never):
        with pytest.raises(NotPermitted) as refused:
            plan_meeting(gaita.db, gaita.rt, CHAIR, working_day(gaita, 1), picked=[ref])
        assert (refused.value.code, refused.value.params["reference"]) == ("meeting.not_queued", ref)
    assert group_snapshot(gaita) == before


def test_an_extraordinary_meeting_takes_only_urgent_picks(gaita: App) -> None:
    urgent, ordinary = open_absence(gaita, 38), open_absence(gaita, 39)
    refer(gaita, urgent, urgent=True)
    refer(gaita, ordinary)
    before = group_snapshot(gaita)
    with pytest.raises(NotPermitted) as refused:
        plan_meeting(gaita.db, gaita.rt, CHAIR, working_day(gaita, 1), extraordinary=True,
                     picked=[urgent, ordinary])
    assert (refused.value.code, refused.value.params["reference"]) == ("meeting.not_urgent",
                                                                      ordinary)
    assert group_snapshot(gaita) == before
    plan = plan_meeting(gaita.db, gaita.rt, CHAIR, working_day(gaita, 1), extraordinary=True,
                        picked=[urgent])
    assert [i.reference for i in plan.items] == [urgent]


def test_no_urgent_case_explains_itself(gaita: App) -> None:
    refer(gaita, open_absence(gaita, 40))
    with pytest.raises(NotPermitted) as refused:
        plan_meeting(gaita.db, gaita.rt, CHAIR, working_day(gaita, 1), extraordinary=True)
    assert refused.value.code == "meeting.no_urgent_case"
    assert "ārkārtas sēde ir tikai steidzamām lietām" in render("lv", refused.value)
    assert "plānojiet kārtējo sēdi" in render("lv", refused.value)


@pytest.mark.parametrize(("typed", "expected"), [("14:00", time(14)), (" 9:05 ", time(9, 5)),
                                             ("14.30", time(14, 30))])
def test_a_time_of_day_as_people_type_it(typed: str, expected: time) -> None:
    assert parse_time_of_day(typed) == expected


@pytest.mark.parametrize(("typed", "code"), [("", "time.format"), ("2pm", "time.format"),
                                         ("14:0", "time.format"), ("24:00", "time.no_such_time"),
                                         ("12:60", "time.no_such_time")])
def test_a_time_that_is_not_one_is_refused(typed: str, code: str) -> None:
    with pytest.raises(InvalidTime) as refused:
        parse_time_of_day(typed)
    assert refused.value.code == code


# --- the audit log ------------------------------------------------------------------------


def _reads(gaita: App, ref: str, who: str, n: int) -> None:
    for _ in range(n):
        case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, who), channel=Channel.WEB)


def test_repeated_reads_fold_into_one_line_per_person_case_and_day(gaita: App) -> None:
    ref = open_absence(gaita, 41)
    clock = gaita.rt.clock
    assert isinstance(clock, FixedClock)
    _reads(gaita, ref, "koordinatore", 3)
    clock.advance(hours=2)
    _reads(gaita, ref, "koordinatore", 2)
    _reads(gaita, ref, "auditors", 1)
    clock.advance(days=1)
    _reads(gaita, ref, "koordinatore", 1)
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "auditors"))
    lines = [ln for ln in fold(view["access_log"], gaita.rt.calendar.timezone)
             if ln.action == "read" and ln.channel == "web"]
    assert [(ln.actor, ln.count, ln.name, ln.institution) for ln in lines] == [
        ("koordinatore", 5, "Inese Koordinatore", "jip"),
        ("auditors", 1, lines[1].name, None),
        ("koordinatore", 1, "Inese Koordinatore", "jip")]
    assert lines[0].last - lines[0].first == timedelta(hours=2)


def test_the_audit_log_filters_by_person_case_and_days_newest_first(gaita: App) -> None:
    a, b = open_absence(gaita, 42), open_absence(gaita, 43)
    clock = gaita.rt.clock
    assert isinstance(clock, FixedClock)
    first_day = today(gaita)
    _reads(gaita, a, "koordinatore", 2)
    _reads(gaita, b, "skola", 1)
    clock.advance(days=7)
    _reads(gaita, b, "koordinatore", 4)
    everything = audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(user="koordinatore"))
    reads = [(ln.reference, ln.count, ln.day) for ln in everything.lines if ln.action == "read"]
    assert reads == [(b, 4, first_day + timedelta(days=7)), (a, 2, first_day)]
    assert not everything.more
    week = audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(
        user="koordinatore", since=first_day, until=first_day + timedelta(days=1)))
    assert {(ln.reference, ln.action) for ln in week.lines} == {(a, "read")}
    one_case = audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(reference=b))
    assert {ln.actor for ln in one_case.lines if ln.action == "read"} == {"koordinatore",
                                                                         "skola"}
    school = next(ln for ln in one_case.lines if ln.actor == "skola")
    assert school.institution == "jelgavas-4-vsk" and school.name


def test_reading_the_audit_log_is_logged_and_paged(gaita: App) -> None:
    refs = [open_absence(gaita, n) for n in range(44, 47)]
    for ref in refs:
        _reads(gaita, ref, "koordinatore", 1)
    page = audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(user="koordinatore"), limit=2)
    assert len(page.lines) == 2 and page.more
    rest = audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(user="koordinatore"), offset=2,
                     limit=2)
    seen = [ln.reference for ln in page.lines + rest.lines if ln.action == "read"]
    assert sorted(seen) == sorted(refs) and len(seen) == 3
    with gaita.db.connect() as conn:
        audits = conn.execute(sa.select(ACCESS.c.actor, ACCESS.c.detail).where(
            ACCESS.c.action == "audit")).all()
    assert audits and {a.actor for a in audits} == {"auditors"}
    assert all(a.detail == "user=koordinatore" for a in audits)


def test_the_audit_log_refuses_what_it_cannot_answer(gaita: App) -> None:
    day = date(2026, 12, 1)
    with pytest.raises(NotFound) as unknown:
        audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(reference="KAV-2026-99999"))
    assert unknown.value.code == "audit.unknown_case"
    with pytest.raises(NotPermitted) as reversed_range:
        audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(since=day, until=day - timedelta(1)))
    assert reversed_range.value.code == "audit.range_reversed"
    for who in (COORDINATOR, CHAIR, Actor("admin", "admin", None)):
        with pytest.raises(AccessDenied):
            audit_log(gaita.db, gaita.rt, who)


def test_log_access_rows_fold_across_midnight_by_local_day(gaita: App) -> None:
    ref = open_absence(gaita, 47)
    cid = case_id(gaita, ref)
    zone = gaita.rt.calendar.timezone
    late = datetime(2026, 12, 1, 23, 50, tzinfo=zone)
    with gaita.db.begin() as conn:
        for at in (late, late + timedelta(minutes=5), late + timedelta(minutes=20)):
            log_access(conn, cid, "koordinatore", AccessAction.READ, Channel.API, at)
    page = audit_log(gaita.db, gaita.rt, AUDITOR, AuditFilter(reference=ref, user="koordinatore"))
    api = [(ln.day, ln.count) for ln in page.lines if ln.channel == "api"]
    assert api == [(date(2026, 12, 2), 1), (date(2026, 12, 1), 2)]
