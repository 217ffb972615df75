"""The case page: what each role sees and may do, the forms that change a case
(each through its engine function, PRG, 422/409/403 without storing anything),
the timeline, the notes and the state diagram."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.answers import TaskAction, answer
from engine.cases import fire, open_case
from engine.clock import FixedClock
from engine.notes import add_note
from engine.queries import actor_for
from engine.store import CASE, ESCALATION
from engine.tasks import open_task_of
from gaita.bootstrap import App
from i18n import translator
from tests.conftest import snapshot
from tests.web.conftest import (
    CHILD_CODE,
    CHILD_NAME,
    SCHOOL,
    access_rows,
    form_csrf,
    without_access_log,
)

Client = Callable[[str | None], TestClient]
_VERSION = re.compile(r'name="expected_version" value="(\d+)"')
#: A refused form's message at its input: ``<p class="form-error" id="<input>-error">``.
_AT_FIELD = re.compile(r'<p class="form-error" id="([^"]+)-error">([^<]+)')
SCHOOL_ACTIONS = "Sarunas ar vecākiem un klases audzinātāju"


def open_absences(app: App) -> str:
    return open_case(app.db, app.rt, "absences", actor_for(app.db, "koordinatore"),
                     child_name=CHILD_NAME, child_code=CHILD_CODE, school=SCHOOL,
                     fields={"age_group": "basic"}).reference


def walk(app: App, reference: str, *steps: tuple[str, dict[str, Any]]) -> None:
    """Fire ``steps`` as the coordinator, straight through the engine."""
    coordinator = actor_for(app.db, "koordinatore")
    for trigger, fields in steps:
        fire(app.db, app.rt, reference, trigger, coordinator, fields)


TO_BOARD = (("record_unjustified", {"parents_reached": False}),
            ("report_to_board", {"unjustified_lessons": 24, "school_actions": SCHOOL_ACTIONS}))
TO_POLICE = (*TO_BOARD, ("refer_to_social_service", {"social_problem": True,
                                                     "problem_description": "Ģimenes situācija"}),
             ("involve_police", {"reason": "whereabouts_unclear"}))


def submit(c: TestClient, reference: str, action: str, **fields: str) -> httpx.Response:
    """Post one of the case page's forms as the page gives it (CSRF, expected version)."""
    page = c.get(f"/cases/{reference}")
    assert page.status_code == 200, page.text
    version = _VERSION.search(page.text)
    data = {"csrf": form_csrf(page.text), **({"expected_version": version.group(1)} if version
                                               else {}), **fields}
    response: httpx.Response = c.post(f"/cases/{reference}/{action}", data=data)
    return response


def version_in(html: str) -> str:
    found = _VERSION.search(html)
    assert found, "no expected_version in the page"
    return found.group(1)


def case_row(app: App, reference: str) -> dict[str, Any]:
    with app.db.connect() as conn:
        return dict(conn.execute(sa.select(CASE).where(CASE.c.reference == reference))
                    .mappings().one())


def forms_of(html: str, reference: str) -> list[str]:
    return re.findall(rf'action="/cases/{reference}/([a-z_/]+)"', html)


# --- moving a case -----------------------------------------------------------------------


def test_coordinator_moves_the_case_and_the_owner_follows_the_declaration(
        web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    ref = open_absences(web)
    page = c.get(f"/cases/{ref}")
    assert forms_of(page.text, ref)[:2] == ["fire/absence_justified", "fire/record_unjustified"]
    assert submit(c, ref, "fire/record_unjustified", **{
        "f.record_unjustified.parents_reached": "false"}).status_code == 303

    # the guard refuses 10 lessons: its message, the page again, nothing stored
    before = without_access_log(snapshot(web.db))
    refused = submit(c, ref, "fire/report_to_board", **{
        "f.report_to_board.unjustified_lessons": "10",
        "f.report_to_board.school_actions": SCHOOL_ACTIONS})
    assert refused.status_code == 422
    assert ("nosacījums nav izpildīts: vajadzīgas vairāk nekā 20 neattaisnoti kavētas mācību "
            "stundas semestrī (norādīts: 10)") in refused.text   # the engine's words, in Latvian
    assert 'id="step-report_to_board" open' in refused.text
    assert f">{SCHOOL_ACTIONS}</textarea>" in refused.text   # what was typed is kept
    assert without_access_log(snapshot(web.db)) == before
    done = submit(c, ref, "fire/report_to_board", **{
        "f.report_to_board.unjustified_lessons": "24",
        "f.report_to_board.school_actions": SCHOOL_ACTIONS})
    assert (done.status_code, done.headers["location"]) == (303, f"/cases/{ref}?notice=saved&event=3")

    # a missing field: named and linked, nothing stored
    before = without_access_log(snapshot(web.db))
    refused = submit(c, ref, "fire/refer_to_social_service", **{
        "f.refer_to_social_service.problem_description": "Ģimenes situācija"})
    assert refused.status_code == 422
    assert dict(_AT_FIELD.findall(refused.text)) == {
        "f-refer_to_social_service-social_problem":
            "Aizpildiet lauku «Kavējumi saistīti ar sociālu problēmu»."}
    assert without_access_log(snapshot(web.db)) == before
    version = case_row(web, ref)["version"]
    assert submit(c, ref, "fire/refer_to_social_service", **{
        "f.refer_to_social_service.social_problem": "true",
        "f.refer_to_social_service.problem_description": "Ģimenes situācija"}
    ).status_code == 303
    row = case_row(web, ref)
    social = web.rt.municipality.institution_for_role(
        web.rt.registry.latest("absences").states["social_work"].owner or "")
    assert (row["state"], row["owner_institution"], row["version"]) == (
        "social_work", social.code, version + 1)
    shown = c.get(f"/cases/{ref}").text
    assert f"<dt>Atbildīgā iestāde</dt><dd>{social.name.lv}</dd>" in shown
    assert ("Nodot sociālajam dienestam: Izglītības pārvaldes izvērtējums → "
            "Sociālais darbs ar ģimeni") in shown
    assert f"E-pasts «Jauns uzdevums» → {social.name.lv}: <span class=\"badge\">rindā</span>" \
        in shown


def test_a_refused_transition_and_an_unknown_trigger_are_422(web: App,
                                                             browser_client: Client) -> None:
    c = browser_client("koordinatore")
    ref = open_absences(web)
    before = without_access_log(snapshot(web.db))
    wrong_state = submit(c, ref, "fire/refer_to_social_service")
    assert wrong_state.status_code == 422
    assert f"lietā {ref} posmā „Sazināties ar vecākiem” nav iespējams" in wrong_state.text
    assert "iespējamie soļi: Kavējums attaisnots, Kavējums neattaisnots" in wrong_state.text
    for english in ("is not valid for case", "valid triggers", "trigger '", "parent_contact"):
        assert english not in wrong_state.text   # the refusal in Latvian only, by titles
    assert submit(c, ref, "fire/no_such_trigger").status_code == 422
    assert without_access_log(snapshot(web.db)) == before


def test_a_stale_form_is_a_conflict_and_a_missing_token_is_refused(
        web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    ref = open_absences(web)
    page = c.get(f"/cases/{ref}").text
    old = {"csrf": form_csrf(page), "expected_version": version_in(page)}
    walk(web, ref, ("record_unjustified", {"parents_reached": True}))   # someone else
    before = snapshot(web.db)
    stale = c.post(f"/cases/{ref}/fire/report_to_board", data={
        **old, "f.report_to_board.unjustified_lessons": "24",
        "f.report_to_board.school_actions": "x"})
    assert stale.status_code == 409
    assert translator("lv")("error.conflict.title") in stale.text
    assert c.post(f"/cases/{ref}/notes", data={
        **old, "note_text": "vēl", "note_group": "notes"}).status_code == 409
    assert c.post(f"/cases/{ref}/pause", data={
        **old, "pause_reason": "child_abroad"}).status_code == 409
    assert snapshot(web.db) == before
    no_token = {k: v for k, v in old.items() if k != "csrf"}
    fresh = version_in(c.get(f"/cases/{ref}").text)   # (a read: logged)
    before = snapshot(web.db)
    assert c.post(f"/cases/{ref}/notes", data={
        **no_token, "expected_version": fresh, "note_text": "x", "note_group": "notes"}
    ).status_code == 403
    assert c.post(f"/cases/{ref}/fire/report_to_board", data={
        "csrf": "f" * 64, "expected_version": fresh}).status_code == 403
    assert snapshot(web.db) == before


# --- who sees what -----------------------------------------------------------------------


def test_police_do_not_see_the_support_plan(web: App, browser_client: Client) -> None:
    ref = open_absences(web)
    walk(web, ref, *TO_POLICE)
    coordinator = actor_for(web.db, "koordinatore")
    add_note(web.db, web.rt, ref, coordinator, "Atbalsta plāna saturs", group="support_plan")
    add_note(web.db, web.rt, ref, coordinator, "Parasta piezīme policijai", group="notes")
    police = browser_client("policija")
    for holds in (True, False):
        page = police.get(f"/cases/{ref}")
        assert page.status_code == 200
        assert "Parasta piezīme policijai" in page.text
        assert "Atbalsta plāna saturs" not in page.text
        assert SCHOOL_ACTIONS not in page.text and "Izglītības iestādes veiktie pasākumi" not in page.text
        groups = re.search(r'<select id="note_group".*?</select>', page.text, re.S)
        assert groups and re.findall(r'value="([a-z_]+)"', groups.group(0)) == ["notes"]
        assert ("fire/police_done" in forms_of(page.text, ref)) is holds
        if holds:   # the police finish: they held a task, and still see no support plan
            assert submit(police, ref, "fire/police_done", **{
                "f.police_done.outcome_note": "Ģimene apmeklēta"}).status_code == 303
    shown = browser_client("koordinatore").get(f"/cases/{ref}").text
    assert "Atbalsta plāna saturs" in shown and SCHOOL_ACTIONS in shown


def test_staff_of_an_institution_without_a_task_are_refused_and_logged(
        web: App, browser_client: Client) -> None:
    ref = open_absences(web)
    court = browser_client("barintiesa")
    before = snapshot(web.db)
    assert court.get(f"/cases/{ref}").status_code == 403
    assert access_rows(web)[-1] == ("barintiesa", "denied", "web")
    csrf = form_csrf(court.get("/inbox").text)
    before = snapshot(web.db)
    assert court.post(f"/cases/{ref}/notes", data={
        "csrf": csrf, "expected_version": "1", "note_text": "x", "note_group": "notes"}
    ).status_code == 403
    assert court.post(f"/cases/{ref}/fire/absence_justified", data={
        "csrf": csrf, "expected_version": "1", "f.absence_justified.reason": "x"}
    ).status_code == 403
    assert snapshot(web.db) == before
    assert court.get("/cases/KAV-2026-99999").status_code == 404


def test_the_auditor_reads_the_access_log_and_changes_nothing(web: App,
                                                              browser_client: Client) -> None:
    ref = open_absences(web)
    browser_client("koordinatore").get(f"/cases/{ref}")
    auditor = browser_client("auditors")
    page = auditor.get(f"/cases/{ref}")
    assert page.status_code == 200
    assert '<h2 class="section" id="access-log">Piekļuves žurnāls</h2>' in page.text
    assert re.search(r'>Inese Koordinatore<br><span class="muted">Jelgavas izglītības pārvalde'
                     r'</span></td><td data-label="Darbība">skatīja</td>', page.text)
    assert ">tīmekļa lietotne<" in page.text   # the channel in words, the name not the login
    assert forms_of(page.text, ref) == []
    assert "Jums šajā lietā pašlaik nav pieejamu darbību." in page.text
    assert "Piekļuves žurnāls" not in browser_client("koordinatore").get(f"/cases/{ref}").text
    before = snapshot(web.db)
    csrf = form_csrf(page.text)
    for action, data in (("notes", {"note_text": "x", "note_group": "notes"}),
                         ("fire/record_unjustified",
                          {"f.record_unjustified.parents_reached": "true"}),
                         ("pause", {"pause_reason": "child_abroad"}),
                         ("escalate", {"escalate_reason": "several_institutions"})):
        assert auditor.post(f"/cases/{ref}/{action}", data={
            "csrf": csrf, "expected_version": "1", **data}).status_code == 403, action
    assert snapshot(web.db) == before


# --- pause, resume, escalation, extension, notes -----------------------------------------


def test_pause_resume_and_escalation_show_in_the_timeline(web: App,
                                                          browser_client: Client) -> None:
    c = browser_client("koordinatore")
    ref = open_absences(web)
    assert 'id="pause_reason"' not in c.get(f"/cases/{ref}").text   # not a pausable state
    walk(web, ref, TO_BOARD[0])
    refused = submit(c, ref, "pause", pause_reason="holiday")
    assert refused.status_code == 422
    assert dict(_AT_FIELD.findall(refused.text)) == {
        "pause_reason": "Izvēlieties apturēšanas iemeslu."}
    assert submit(c, ref, "pause", pause_reason="child_abroad").status_code == 303
    page = c.get(f"/cases/{ref}").text
    assert "Termiņš apturēts: Bērns ārzemēs, gaida apstiprinājumu" in page
    assert "apturēts 2026. gada 30. novembrī plkst. 09:00: Bērns ārzemēs, gaida apstiprinājumu" in page
    assert 'id="pause_reason"' not in page and 'id="resume"' in page
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=7)
    c = browser_client("koordinatore")   # a week later: a new session
    assert submit(c, ref, "resume").status_code == 303
    page = c.get(f"/cases/{ref}").text
    assert ("Termiņš atsākts; tas bija apturēts 5 darba dienas "
            "(Bērns ārzemēs, gaida apstiprinājumu)") in page

    assert submit(c, ref, "escalate", escalate_reason="stalled").status_code == 422
    assert submit(c, ref, "escalate", escalate_reason="several_institutions",
                  escalate_urgent="true").status_code == 303
    with web.db.connect() as conn:
        escalation = conn.execute(sa.select(ESCALATION)).mappings().one()
    assert (escalation["reasons"], escalation["urgent"]) == (["several_institutions"], True)
    page = c.get(f"/cases/{ref}").text
    title = web.rt.municipality.cooperation_group.escalation_reasons[
        "several_institutions"].title.lv
    assert f"Nodota sadarbības grupai: {title}" in page
    assert "<dt>Steidzami</dt><dd>Jā</dd>" in page


def test_the_coordinator_decides_a_request_for_more_time(web: App,
                                                         browser_client: Client) -> None:
    ref = open_absences(web)
    walk(web, ref, TO_BOARD[0])
    c = browser_client("koordinatore")
    assert 'id="extension"' not in c.get(f"/cases/{ref}").text
    task_id = open_task_of(web.db, ref)
    answer(web.db, web.rt, task_id, TaskAction.MORE_TIME, actor_for(web.db, "skola"),
           reason="Gaidām ārsta izziņu", days=3)
    due = case_due(web, ref)
    page = c.get(f"/cases/{ref}").text
    assert "Atbildīgā iestāde lūdz termiņa pagarinājumu: 3 darba dienas." in page
    assert "Gaidām ārsta izziņu" in page
    assert submit(c, ref, "extension", approve="true").status_code == 303
    assert case_due(web, ref) == web.rt.calendar.due_at(due, 3)
    page = c.get(f"/cases/{ref}").text
    assert "Termiņa pagarinājums piešķirts" in page and 'id="extension"' not in page
    assert submit(c, ref, "extension", approve="true").status_code == 422   # decided already


def case_due(app: App, reference: str) -> Any:
    from engine.store import TASK
    with app.db.connect() as conn:
        return conn.execute(sa.select(TASK.c.due_at).where(
            TASK.c.id == open_task_of(app.db, reference))).scalar_one()


def test_notes_are_escaped_and_need_text(web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    ref = open_absences(web)
    before = without_access_log(snapshot(web.db))
    refused = submit(c, ref, "notes", note_text="   ", note_group="notes")
    assert refused.status_code == 422
    assert dict(_AT_FIELD.findall(refused.text)) == {"note_text": "Piezīme nevar būt tukša."}
    assert without_access_log(snapshot(web.db)) == before
    assert submit(c, ref, "notes", note_text="<script>alert(1)</script>",
                  note_group="notes").status_code == 303
    page = c.get(f"/cases/{ref}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "Pievienota piezīme (Piezīmes)" in page


# --- the diagram ---------------------------------------------------------------------------


def test_the_diagram_marks_the_current_state(web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    ref = open_absences(web)
    wf = web.rt.registry.latest("absences")

    def current(html: str) -> str:
        svg = re.search(r'<svg [^>]*role="img".*?</svg>', html, re.S)
        assert svg, "no diagram"
        assert '<title id="diagram-title">' in svg.group(0)
        assert svg.group(0).count('class="state terminal"') == sum(
            s.terminal for s in wf.states.values())
        marked = re.findall(r'<g class="state current">(.*?)</g>', svg.group(0), re.S)
        assert len(marked) == 1 and "▶ pašreizējais" in marked[0]
        return " ".join(re.findall(r">([^<]+)</text>", marked[0]))

    assert "Sazināties ar vecākiem" in current(c.get(f"/cases/{ref}").text)
    walk(web, ref, TO_BOARD[0])
    page = c.get(f"/cases/{ref}").text
    assert "Atbalsts izglītības iestādē" in current(page)
    assert "<strong>Atbalsts izglītības iestādē un kavējumu uzskaite</strong> (pašreizējais)" in page
    english = c.get(f"/cases/{ref}?lang=en").text
    assert "▶ current" in english and "Timeline" in english
