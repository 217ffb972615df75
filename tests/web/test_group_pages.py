"""The cooperation group's pages: queue, meetings, decisions, minutes (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import re
from typing import Any

import sqlalchemy as sa
from docx import Document

from engine.clock import FixedClock
from engine.group.queue import escalate, escalation_queue
from engine.queries import actor_for
from engine.tables import Decision, Escalation, EscalationStatus, Meeting
from gaita.bootstrap import App
from tests.conftest import snapshot
from tests.web.conftest import CHILD_MARKS, form_csrf, without_access_log
from tests.web.test_inbox import Client, at_social_service, csrf, login, open_tasks

REASON_LV = "Nepieciešama vairāku institūciju ātra rīcība un sadarbība"
SUMMARY = "Ģimenei nepieciešams atbalsts; skolēnam — individuāls plāns"
ACTION = "Sagatavot ģimenes atbalsta plānu"


def queued(web: App) -> str:
    """A case at the social service, referred to the group by the coordinator."""
    reference = at_social_service(web)
    escalate(web.db, web.rt, reference, actor_for(web.db, "koordinatore"), "several_institutions")
    return reference


def group_rows(web: App) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a group page could write, with what a case write touches."""
    out = without_access_log(snapshot(web.db))
    with web.db.connect() as conn:
        for table in (Escalation, Meeting, Decision):
            t = table.__table__
            out[t.name] = [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
    return out


def waiting(web: App) -> list[str]:
    """The references waiting in the group's queue."""
    return [i.reference for i in escalation_queue(web.db, web.rt,
                                                  statuses=(EscalationStatus.QUEUED,))]


def plan(c: Any, token: str, *cases: str, web: App | None = None, **data: str) -> Any:
    """Plan a meeting at 14:00 taking ``cases`` (with ``web``: every queued case)."""
    picked = list(cases) or (waiting(web) if web is not None else [])
    return c.post("/group/meetings", data={"csrf": token, "day": "2026-11-30", "time": "14:00",
                                           "kind": "ordinary", "place": "Lielā iela 11",
                                           "case": picked, **data})


def decide(c: Any, token: str, meeting: int, reference: str, **data: str) -> Any:
    return c.post(f"/group/meetings/{meeting}/cases/{reference}", data={
        "csrf": token, "summary": SUMMARY, **data})


def test_chair_plans_a_meeting_and_its_decision_reaches_the_social_services_inbox(
        web: App, browser_client: Client) -> None:
    reference = queued(web)
    chair = login(browser_client, "vaditajs")
    queue = chair.get("/group")
    assert queue.status_code == 200
    for shown in (reference, REASON_LV, "Inese Koordinatore",
                  "2026. gada 30. novembrī plkst. 09:00",
                  "vēl nav ieplānota", 'href="/group/meetings/new"'):
        assert shown in queue.text, shown
    form = chair.get("/group/meetings/new")
    assert form.status_code == 200 and 'placeholder="DD.MM.GGGG"' in form.text
    assert 'value="30.11.2026"' in form.text   # the next working day, as people write it
    assert f'name="case" value="{reference}"' in form.text   # the queue to pick from
    planned = plan(chair, form_csrf(form.text), reference, day="30.11.2026")
    assert (planned.status_code, planned.headers["location"]) == (303, "/group/meetings/1?planned=1")
    page = chair.get(planned.headers["location"])
    assert page.status_code == 200
    for shown in ("Sēde ieplānota", "Lietas darba kārtībā: 1", reference, REASON_LV,
                  f'href="/cases/{reference}"', "Lielā iela 11", "14:00",
                  f'href="/group/meetings/1/cases/{reference}"'):
        assert shown in page.text, shown
    assert 'name="summary"' not in page.text   # the forms are one case a page
    assert not any(mark in page.text for mark in CHILD_MARKS)
    assert "Nr. 1" in chair.get("/group").text   # the queue shows the meeting it is on
    one = chair.get(f"/group/meetings/1/cases/{reference}")
    for shown in ('name="a1.institution"',
                  '<option value="jslp">Jelgavas sociālo lietu pārvalde</option>'):
        assert shown in one.text, shown

    done = decide(chair, form_csrf(one.text), 1, reference, **{
        "a1.institution": "jslp", "a1.days": "10", "a1.text": ACTION})
    assert done.status_code == 303
    assert done.headers["location"] == f"/group/meetings/1?decided={reference}"   # none left
    due = web.rt.calendar.due_at(web.rt.clock.now(), 10)
    day = web.rt.calendar.local_date(due)
    page = chair.get(done.headers["location"])
    assert (f"Vienošanās par rīcību lietā {reference} reģistrēta. Ar iestādēm saskaņotie "
            "uzdevumi: 1.") in page.text
    page = chair.get(f"/group/meetings/1/cases/{reference}")
    for shown in (SUMMARY, ACTION, "Jelgavas sociālo lietu pārvalde",
                  f"2026. gada {day.day}. decembris", "vēl 10 darba dienas", "izpildē"):
        assert shown in page.text, shown
    assert 'name="summary"' not in page.text   # decided: no form any more

    social = login(browser_client, "socdienests")
    inbox = social.get("/inbox").text
    row = re.search(r"<tr>(?:(?!</tr>).)*" + re.escape(ACTION) + r".*?</tr>", inbox, re.S)
    assert row, inbox
    for shown in (reference, "Action agreed at the cooperation group", day.strftime("%-d %B %Y"),
                  "10 working days left"):
        assert shown in row.group(0), shown


def test_a_decision_task_is_answered_by_its_institution_not_the_cases_holder(
        web: App, browser_client: Client) -> None:
    reference = queued(web)
    chair = login(browser_client, "vaditajs")
    token = csrf(chair)
    assert plan(chair, token, web=web).status_code == 303
    assert decide(chair, token, 1, reference, **{
        "a1.institution": "pp", "a1.days": "5", "a1.text": "Apsekot dzīvesvietu"}).status_code == 303
    task = next(t for t in open_tasks(web, reference) if t["kind"] == "decision")
    police = login(browser_client, "policija")
    assert "Apsekot dzīvesvietu" in police.get("/inbox").text
    page = police.get(f"/inbox/{task['id']}")
    assert page.status_code == 200 and 'name="trigger"' not in page.text   # no step to pick
    done = police.post(f"/inbox/{task['id']}/done", data={"csrf": form_csrf(page.text)})
    assert done.status_code == 303
    assert all(t["kind"] == "state" for t in open_tasks(web, reference))
    # the social service holds the case's own task, not this one
    social = login(browser_client, "socdienests")
    assert social.get(f"/inbox/{task['id']}").status_code == 403


def test_group_member_reads_the_queue_and_school_staff_may_not(
        web: App, browser_client: Client) -> None:
    reference = queued(web)
    member = login(browser_client, "grupa")
    queue = member.get("/group")
    assert queue.status_code == 200 and reference in queue.text
    chair = login(browser_client, "vaditajs")
    assert plan(chair, csrf(chair), web=web).status_code == 303
    school = login(browser_client, "skola")
    token = csrf(school)
    before = group_rows(web)
    for path in ("/group", "/group/meetings/new", "/group/meetings/1",
                 "/group/meetings/1/minutes.docx"):
        assert school.get(path).status_code == 403, path
    assert plan(school, token, web=web).status_code == 403
    assert decide(school, token, 1, reference).status_code == 403
    assert group_rows(web) == before


def test_minutes_download_is_a_docx_with_the_latvian_text(web: App, browser_client: Client) -> None:
    reference = queued(web)
    chair = login(browser_client, "vaditajs")
    token = csrf(chair)
    assert plan(chair, token, web=web).status_code == 303
    assert decide(chair, token, 1, reference, **{
        "a1.institution": "jslp", "a1.days": "10", "a1.text": ACTION}).status_code == 303
    response = chair.get("/group/meetings/1/minutes.docx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert response.headers["content-disposition"] == 'attachment; filename="protokols-1.docx"'
    doc = Document(io.BytesIO(response.content))
    text = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    for shown in ("Sēdes protokols", "Bērnu tiesību aizsardzības sadarbības grupa", reference,
                  REASON_LV, SUMMARY, ACTION, "Jelgavas sociālo lietu pārvalde", "Lielā iela 11"):
        assert shown in text, shown
    assert not any(mark in text for mark in CHILD_MARKS)
    with web.db.connect() as conn:
        exports = conn.execute(sa.text("SELECT actor, channel FROM access_log WHERE action = "
                                       "'export'")).all()
    assert [tuple(r) for r in exports] == [("vaditajs", "web")]


def test_auditor_reads_the_group_pages_but_changes_nothing(web: App, browser_client: Client) -> None:
    reference = queued(web)
    chair = login(browser_client, "vaditajs")
    assert plan(chair, csrf(chair), web=web).status_code == 303
    auditor = login(browser_client, "auditors")
    token = csrf(auditor)
    queue = auditor.get("/group")
    assert queue.status_code == 200 and reference in queue.text
    assert 'href="/group/meetings/new"' not in queue.text
    meeting = auditor.get("/group/meetings/1")
    assert meeting.status_code == 200 and reference in meeting.text
    assert 'name="summary"' not in meeting.text
    assert auditor.get("/group/meetings/1/minutes.docx").status_code == 200
    before = group_rows(web)
    assert auditor.get("/group/meetings/new").status_code == 403
    assert plan(auditor, token, web=web).status_code == 403
    assert decide(auditor, token, 1, reference).status_code == 403
    assert group_rows(web) == before


def test_forms_show_what_to_correct_and_store_nothing(web: App, browser_client: Client) -> None:
    reference = queued(web)
    chair = login(browser_client, "vaditajs")
    token = csrf(chair)
    before = group_rows(web)
    saturday = plan(chair, token, reference, day="2026-12-05")
    assert saturday.status_code == 422
    assert "nav darba diena" in saturday.text and 'href="#day"' in saturday.text
    assert 'aria-describedby="day-error" aria-invalid="true"' in saturday.text
    assert plan(chair, token, reference, day="2026-11-27").status_code == 422   # in the past
    assert "Lielā iela 11" in plan(chair, token, reference, day="nope").text   # kept as typed
    no_such_day = plan(chair, token, reference, day="31.11.2026")
    assert no_such_day.status_code == 422 and "kalendārā nepastāv" in no_such_day.text
    assert "DD.MM.GGGG" in plan(chair, token, reference, day="30/11/2026").text
    for typed, said in (("", "formātā HH:MM"), ("2 pm", "formātā HH:MM"),
                        ("25:00", "laiks „25:00” nepastāv")):
        refused = plan(chair, token, reference, time=typed)
        assert refused.status_code == 422 and 'href="#time"' in refused.text, typed
        assert said in refused.text, typed
    nothing = plan(chair, token, "")   # the queue has a case, none ticked
    assert nothing.status_code == 422
    assert 'href="#agenda"' in nothing.text and "Atzīmējiet vismaz vienu lietu" in nothing.text
    not_queued = plan(chair, token, "KAV-2026-99999")
    assert not_queued.status_code == 422
    assert "lieta KAV-2026-99999 negaida sadarbības grupas rindā" in not_queued.text
    # an extraordinary meeting with no urgent case: why not, in plain words, at the choice
    extra = plan(chair, token, reference, kind="extraordinary")
    assert extra.status_code == 422 and 'href="#kind-extraordinary"' in extra.text
    assert "Ārkārtas sēdi sasauc tikai steidzamām lietām" in extra.text
    assert "izvēlieties „kārtējā”" in extra.text
    english = plan(chair, token, reference, kind="extraordinary", lang="en")
    assert "An extraordinary meeting is called for urgent cases only" in \
        chair.get("/group/meetings/new?lang=en").text
    assert english.status_code == 422
    assert chair.post("/group/meetings", data={"day": "2026-11-30"}).status_code == 403   # no CSRF
    assert group_rows(web) == before
    assert plan(chair, token, web=web).status_code == 303
    before = group_rows(web)
    empty = decide(chair, token, 1, reference, summary=" ")
    assert empty.status_code == 422
    assert re.search(r'id="summary"[^>]*aria-describedby="summary-error" aria-invalid="true"',
                     empty.text)
    bad = decide(chair, token, 1, reference, **{"a1.institution": "jslp", "a1.days": "0",
                                               "a2.institution": "nav-tadas", "a2.days": "3",
                                               "a2.text": "x"})
    assert bad.status_code == 422
    for target in ("a1-days", "a1-text", "a2-institution"):
        assert f'href="#{target}"' in bad.text, target
        assert f'id="{target}-error"' in bad.text, target
    assert SUMMARY in bad.text
    assert decide(chair, token, 1, "KAV-2026-99999").status_code == 404
    assert group_rows(web) == before


def test_a_meeting_planned_too_late_warns_and_waits_for_its_day(
        web: App, browser_client: Client) -> None:
    reference = queued(web)
    chair = login(browser_client, "vaditajs")
    assert plan(chair, csrf(chair), reference, day="2026-12-21").status_code == 303
    page = chair.get("/group/meetings/1")
    assert "Brīdinājumi" in page.text
    assert f"Lieta {reference} ir rindā kopš 2026. gada 30. novembris" in page.text
    assert "Gaidīšanas laiks līdz sēdei: 15 darba dienas; pieļaujamais: 10 darba dienas." in page.text
    assert "Vienošanos var reģistrēt sēdes dienā (2026. gada 21. decembris) vai vēlāk." in page.text
    one = chair.get(f"/group/meetings/1/cases/{reference}").text
    assert 'name="summary"' not in one
    assert "Vienošanos var reģistrēt sēdes dienā (2026. gada 21. decembris) vai vēlāk." in one


def test_the_queue_shows_an_urgent_case_with_no_meeting_and_the_meeting_shows_the_seats(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    escalate(web.db, web.rt, reference, actor_for(web.db, "koordinatore"), "several_institutions",
             urgent=True)
    chair = login(browser_client, "vaditajs")
    queue = chair.get("/group").text
    assert ("Sēde nav plānota: ja tā netiks plānota, grupas vadītājs un koordinators pirmo "
            "reizi tiks brīdināti 2026. gada 1. decembrī plkst. 09:00.") in queue
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=2)   # Wednesday (a new login: the session idled out)
    chair = login(browser_client, "vaditajs")
    queue = chair.get("/group").text
    assert ("Sēde nav plānota jau 2 darba dienas: grupas vadītājs un koordinators tiek "
            "brīdināti katru darba dienu.") in queue
    english = chair.get("/group?lang=en").text
    assert "No meeting planned for 2 working days" in english
    planned = plan(chair, csrf(chair), reference, day="2026-12-02", kind="extraordinary")
    assert planned.status_code == 303
    assert "Sēde nav plānota" not in chair.get("/group").text
    page = chair.get(planned.headers["location"]).text
    for shown in ("Grupas sastāvs (MK 545)",
                  "Jelgavas izglītības pārvaldes pārstāvis — Jelgavas izglītības pārvalde",
                  "Domes priekšsēdētāja vietnieks",
                  "Sadarbības grupa ir konsultatīva koleģiāla institūcija (MK 545)"):
        assert shown in page, shown


def test_the_planner_proposes_the_rhythms_days_and_the_chair_accepts_one(
        web: App, browser_client: Client) -> None:
    chair = login(browser_client, "vaditajs")
    form = chair.get("/group/meetings/new")
    assert form.status_code == 200
    for shown in ("Ierosinātās kārtējās sēdes",
                  '<a href="/group/meetings/new?day=2027-01-14#plan">'
                  "Plānot sēdi 2027. gada 14. janvāris</a>"):
        assert shown in form.text, shown
    chosen = chair.get("/group/meetings/new?day=2027-01-14")   # the day goes in the form
    assert 'id="day" name="day"' in chosen.text and 'value="14.01.2027"' in chosen.text
    assert "Rindā nav lietu." in chosen.text
    accepted = plan(chair, form_csrf(form.text), day="2027-01-14")
    assert accepted.status_code == 303
    assert "ieplānota (sēde Nr. 1)" in chair.get("/group/meetings/new").text
