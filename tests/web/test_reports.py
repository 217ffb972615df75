"""The reports a state declares (issue 11 §2-3), on the web and through the API: the
case page's "Ziņojumi" panel (file, waive, what is missing), the timeline, the
recipient reading exactly the declared fields through its email link and its inbox,
answering with the declared answer fields, and the REST API's file/waive/answer.

D2: violence at home is reported the same day to the State Police and the orphan's
court; the case then moves on along MK 474 p. 11-12.
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Iterator
from email import policy
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.cases import open_case
from engine.filings import file_report
from engine.queries import actor_for
from engine.store import OUTBOX, TASK, load_case_row
from gaita import users
from gaita.bootstrap import App
from gaita.demo import sample_fields
from gaita.mail import mail_settings
from gaita.web import create_app
from notifications.compose import Composer
from tests.web.conftest import (
    CHILD_CODE,
    CHILD_MARKS,
    CHILD_NAME,
    SCHOOL,
    access_rows,
    csrf_of,
    form_csrf,
    state,
)
from tests.web.test_case_page import submit

Client = Callable[[str | None], TestClient]
POLICE = "vp-jelgava"
DESCRIPTION = "Skolēnam zilumi uz rokas; stāsta, ka tēvs mājās sit"
CONTACT = "Direktore Ērika Ozoliņa, 63000000"
PROTECTED = {"f.protected_and_reported.victim_protected": "true",
             "f.protected_and_reported.first_aid_given": "false"}


def open_violence(app: App, kind: str = "at_home") -> str:
    return open_case(app.db, app.rt, "violence", actor_for(app.db, "skola"),
                     child_name=CHILD_NAME, child_code=CHILD_CODE, school=SCHOOL,
                     fields={"violence_kind": kind, "violence_form": "physical",
                             "finding": "found"}).reference


def report_form(code: str, description: str = DESCRIPTION) -> dict[str, str]:
    return {f"f.report-{code}.description": description, f"f.report-{code}.contact": CONTACT}


def report_task(app: App, reference: str, code: str) -> dict[str, Any]:
    with app.db.connect() as conn:
        case = load_case_row(conn, reference)
        return dict(conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case["id"], TASK.c.report == code)).mappings().one())


def case_state(app: App, reference: str) -> str:
    with app.db.connect() as conn:
        return str(load_case_row(conn, reference)["state"])


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def mailed_link(app: App, task_id: int, purpose: str) -> str:
    """The ``purpose`` link of the email that carries the task, as composed for sending."""
    with app.db.connect() as conn:
        row = conn.execute(sa.select(OUTBOX).where(OUTBOX.c.task_id == task_id)
                           ).mappings().one()
        msg = Composer(app.rt, mail_settings(app)).compose(conn, dict(row))
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    body = "\n".join(part.get_content() for part in parsed.walk()
                     if part.get_content_type() == "text/plain")
    for secret in CHILD_MARKS:   # the email itself carries no child data
        assert secret not in body
    found = re.search(rf"https://testserver(/link/{purpose}/[^\s\"<>]+)", body)
    assert found, body
    return found.group(1)


# --- the case page ------------------------------------------------------------------------


def test_violence_at_home_reported_to_the_police_and_the_orphans_court_from_the_case_page(
        web: App, browser_client: Client) -> None:
    ref = open_violence(web)
    school = browser_client("skola")
    page = school.get(f"/cases/{ref}")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Ziņojumi" in shown
    assert "Ziņojums Valsts policijai" in shown and "Ziņojums bāriņtiesai" in shown
    assert "Valsts policijas Zemgales reģiona pārvaldes Jelgavas iecirknis" in shown
    assert "Jā, jāiesniedz vai ar pamatojumu jāatsakās" in shown   # at home: the court
    assert "Vēl nav iesniegts" in shown
    # the diagram and its list name where the state's reports go ("+": beside its task)
    svg = page.text[page.text.index("<svg"):page.text.index("</svg>")]
    assert "+ " in svg and "ziņojumi: " in shown
    # what is missing is said before anyone tries: the engine's own words
    assert "vispirms jāiesniedz" in shown and "Ziņojums bāriņtiesai" in shown
    for code in ("state_police", "orphans_court"):
        assert f'action="/cases/{ref}/reports/{code}"' in page.text
        assert f'action="/cases/{ref}/reports/{code}/waiver"' in page.text
    # the transition refused while the orphan's court is not told: its reason beside it
    filed = submit(school, ref, "reports/state_police", **report_form("state_police"))
    assert filed.status_code == 303
    assert re.fullmatch(rf"/cases/{ref}\?notice=report_filed&event=\d+",
                        filed.headers["location"])
    refused = submit(school, ref, "fire/protected_and_reported", **PROTECTED)
    assert refused.status_code == 422
    assert "Ziņojums bāriņtiesai" in text_of(refused.text)
    assert case_state(web, ref) == "immediate_protection"
    assert submit(school, ref, "reports/orphans_court",
                  **report_form("orphans_court")).status_code == 303
    after = school.get(f"/cases/{ref}?notice=report_filed")
    shown = text_of(after.text)
    assert "Ziņojums iesniegts: saņēmējai iestādei nosūtīts uzdevums." in shown
    assert shown.count("Iesniegts ") >= 2 and "vispirms jāiesniedz" not in shown
    assert "Saņēmējs vēl nav apstiprinājis saņemšanu" in shown
    # the timeline: each report by its title, with its fields by their titles
    assert "Iesniegts ziņojums: Ziņojums Valsts policijai" in shown
    assert "Iesniegts ziņojums: Ziņojums bāriņtiesai" in shown
    assert "Notikušā apraksts" in shown and DESCRIPTION in shown
    # both reports made: the case moves on along MK 474 p. 11-12
    moved = submit(school, ref, "fire/protected_and_reported", **PROTECTED)
    assert moved.status_code == 303, moved.text
    assert case_state(web, ref) == "inform_parents_and_founder"
    tasks = {report_task(web, ref, c)["assignee_institution"]
             for c in ("state_police", "orphans_court")}
    assert POLICE in tasks and len(tasks) == 2
    # English: the same panel, no Latvian words of ours
    english = browser_client("skola")
    english.get("/lang/en")
    assert "Report filed: Report to the State Police" in text_of(
        english.get(f"/cases/{ref}").text)


def test_a_waiver_without_a_reason_is_refused_beside_its_form(
        web: App, browser_client: Client) -> None:
    ref = open_violence(web, "pupil_to_pupil")
    school = browser_client("skola")
    before = state(web)
    r = submit(school, ref, "reports/orphans_court/waiver", waive_reason="   ")
    assert r.status_code == 422
    assert state(web) == before   # nothing stored
    form = r.text[r.text.index('id="waive-orphans_court"'):]
    form = form[:form.index("</form>")]
    assert " open" in r.text[r.text.index('id="waive-orphans_court"') - 30:
                             r.text.index('id="waive-orphans_court"') + 40]
    assert "Norādiet pamatojumu, kāpēc ziņojums netiek iesniegts." in form
    assert 'id="waive-orphans_court-reason"' in form and 'aria-invalid="true"' in form
    # a report without its required description: the error at that field, nothing stored
    r = submit(school, ref, "reports/municipal_police",
               **report_form("municipal_police", description=""))
    assert r.status_code == 422
    assert state(web) == before
    form = r.text[r.text.index('id="report-municipal_police"'):]
    form = form[:form.index("</form>")]
    assert "Notikušā apraksts" in form and "form-error" in form
    assert re.search(r'id="f-report-municipal_police-description"[^>]*aria-invalid="true"', form)
    # with its reason the waiver is recorded, and shown with it
    reason = "Vardarbība starp skolēniem; ģimenē apdraudējuma nav"
    ok = submit(school, ref, "reports/orphans_court/waiver", waive_reason=reason)
    assert ok.status_code == 303
    shown = text_of(school.get(f"/cases/{ref}").text)
    assert f"Netiek iesniegts. Pamatojums: {reason}" in shown
    assert "Ziņojums netiek iesniegts: Ziņojums bāriņtiesai" in shown   # the timeline


def test_the_forms_are_offered_only_to_whom_the_policy_lets_file(
        web: App, browser_client: Client) -> None:
    ref = open_violence(web)
    page = browser_client("auditors").get(f"/cases/{ref}")
    assert page.status_code == 200
    assert "Ziņojums Valsts policijai" in page.text
    assert f"/cases/{ref}/reports/" not in page.text


# --- the recipient: the email link and the inbox ----------------------------------------


def file_both(web: App, school: TestClient, ref: str) -> None:
    for code in ("state_police", "orphans_court"):
        assert submit(school, ref, f"reports/{code}", **report_form(code)).status_code == 303


def test_the_police_answer_from_the_email_link_seeing_exactly_the_declared_fields(
        web: App, browser_client: Client) -> None:
    ref = open_violence(web)
    file_both(web, browser_client("skola"), ref)
    task = report_task(web, ref, "state_police")
    url = mailed_link(web, task["id"], "done")
    police = browser_client(None)
    reads = len(access_rows(web))
    page = police.get(url)
    assert page.status_code == 200
    shown = text_of(page.text)
    # the report reads identity and case_data: the police learn whom it is about (the
    # email did not say), and nothing of the notes or the support plan
    assert CHILD_NAME in shown and CHILD_CODE in shown
    assert "Ziņojums Valsts policijai" in shown and "BTAL 73. panta pirmā daļa" in shown
    assert DESCRIPTION in shown and CONTACT in shown          # what the school wrote
    assert "Vardarbības pazīmes ģimenē" in shown               # the case data it reads
    assert 'name="trigger"' not in page.text                   # no case transitions
    assert 'name="f.answer.taken_up"' in page.text
    assert "Uzsākts process (pārbaude, lieta)" in page.text    # choices by title
    assert access_rows(web)[reads:] == [(f"link:{POLICE}", "read", "link")]
    # the answer's required field missing: said at the field, nothing stored
    before = state(web)
    csrf = csrf_of(page.text)
    r = police.post(url, data={"csrf": csrf, "f.answer.file_number": "VP-1"})
    assert r.status_code == 422
    assert re.search(r'id="f-answer-taken_up"[^>]*aria-invalid="true"', r.text)
    assert state(web) == before
    done = police.post(url, data={"csrf": csrf, "f.answer.taken_up": "proceedings_started",
                                  "f.answer.file_number": "VP-2026-118"})
    assert done.status_code == 303, done.text   # to the thank-you page (PRG)
    assert police.get(done.headers["location"]).status_code == 200
    answered = report_task(web, ref, "state_police")
    assert answered["status"] == "done"
    assert answered["details"]["answer"] == {"taken_up": "proceedings_started",
                                             "file_number": "VP-2026-118"}
    # the case page shows the recipient's answer, by its declared titles
    shown = text_of(browser_client("koordinatore").get(f"/cases/{ref}").text)
    assert "Uzsākts process (pārbaude, lieta)" in shown and "VP-2026-118" in shown
    assert "Kā ziņojums izskatīts" in shown
    assert "Ziņojums Valsts policijai — Iestāde paziņoja" in shown   # the timeline


def test_the_inbox_of_a_police_officer_shows_the_report_and_takes_its_answer(
        web: App, browser_client: Client) -> None:
    ref = open_violence(web)
    file_both(web, browser_client("skola"), ref)
    task = report_task(web, ref, "state_police")
    police = browser_client("vpolicija")
    listing = police.get("/inbox")
    assert listing.status_code == 200
    shown = text_of(listing.text)
    assert "Ziņojums Valsts policijai" in shown and "Ziņojums Jūsu iestādei" in shown
    reads = len(access_rows(web))
    page = police.get(f"/inbox/{task['id']}")
    assert page.status_code == 200
    assert access_rows(web)[reads:] == [("vpolicija", "read", "web")]
    shown = text_of(page.text)
    assert CHILD_NAME in shown and CHILD_CODE in shown   # the report reads identity
    assert DESCRIPTION in shown and "Vardarbības pazīmes ģimenē" in shown
    assert 'name="trigger"' not in page.text
    r = police.post(f"/inbox/{task['id']}/done", data={
        "csrf": form_csrf(page.text), "f.answer.taken_up": "forwarded"})
    assert r.status_code == 303 and r.headers["location"] == "/inbox?done=done"
    assert report_task(web, ref, "state_police")["details"]["answer"] == {
        "taken_up": "forwarded"}


# --- the REST API ---------------------------------------------------------------------


@pytest.fixture
def api(web: App) -> Iterator[TestClient]:
    with TestClient(create_app(web), base_url="https://testserver",
                    follow_redirects=False) as c:
        yield c


def bearer(web: App, username: str) -> dict[str, str]:
    _, token = users.create_token(web.db, web.rt, "admin", username, "test")
    return {"Authorization": f"Bearer {token}"}


def test_the_api_files_waives_and_answers_reports(web: App, api: TestClient) -> None:
    ref = open_violence(web)
    school = bearer(web, "skola")
    view = api.get(f"/api/v1/cases/{ref}", headers=school).json()
    assert {r["code"]: (r["required"], r["status"]) for r in view["reports"]} == {
        "state_police": (False, "missing"), "municipal_police": (False, "missing"),
        "orphans_court": (True, "missing"), "bac": (False, "missing")}
    fields = {"description": DESCRIPTION, "contact": CONTACT}
    r = api.post(f"/api/v1/cases/{ref}/reports/state_police", headers=school,
                 json={"fields": fields, "expected_version": view["version"]})
    assert r.status_code == 201, r.text
    filed = r.json()
    assert filed["task"]["owner"] == POLICE and filed["version"] == view["version"] + 1
    # stale, unknown, a field missing, a blank reason: problems with codes
    stale = api.post(f"/api/v1/cases/{ref}/reports/orphans_court", headers=school,
                     json={"fields": fields, "expected_version": view["version"]})
    assert stale.status_code == 409
    unknown = api.post(f"/api/v1/cases/{ref}/reports/fire_brigade", headers=school,
                       json={"fields": fields})
    assert unknown.status_code == 404 and unknown.json()["code"] == "report.not_declared"
    missing = api.post(f"/api/v1/cases/{ref}/reports/orphans_court", headers=school,
                       json={"fields": {"contact": CONTACT}})
    assert missing.status_code == 422 and missing.json()["field"] == "description"
    blank = api.post(f"/api/v1/cases/{ref}/reports/orphans_court/waiver", headers=school,
                     json={"reason": " "})
    assert blank.status_code == 422
    assert blank.json()["field"] == "reason"
    assert "report.waive_reason" in (blank.json().get("code"), blank.json().get("reason_code"))
    assert blank.headers["content-type"].startswith("application/problem+json")
    waived = api.post(f"/api/v1/cases/{ref}/reports/orphans_court/waiver", headers=school,
                      json={"reason": "Bāriņtiesa jau informēta telefoniski; lieta tai zināma",
                            "expected_version": filed["version"]})
    assert waived.status_code == 201, waived.text
    assert waived.json()["version"] == filed["version"] + 1
    again = api.post(f"/api/v1/cases/{ref}/reports/orphans_court/waiver", headers=school,
                     json={"reason": "x"})
    assert again.status_code == 422 and again.json()["code"] == "report.already_waived"
    # the police answer their task with the declared answer fields
    police = bearer(web, "vpolicija")
    tasks = api.get("/api/v1/tasks", headers=police).json()["items"]
    [mine] = [t for t in tasks if t["kind"] == "report"]
    assert mine["title"] == "Ziņojums Valsts policijai"
    bad = api.post(f"/api/v1/tasks/{mine['id']}/answers", headers=police,
                   json={"action": "done", "fields": {"taken_up": "arrested"}})
    assert bad.status_code == 422 and bad.json()["field"] == "taken_up"
    ok = api.post(f"/api/v1/tasks/{mine['id']}/answers", headers=police,
                  json={"action": "done", "fields": {"taken_up": "assessed_no_grounds"}})
    assert ok.status_code == 200, ok.text
    view = api.get(f"/api/v1/cases/{ref}", headers=bearer(web, "koordinatore")).json()
    reports = {r["code"]: r for r in view["reports"]}
    assert reports["state_police"]["status"] == "filed"
    assert reports["state_police"]["fields"] == fields
    assert reports["state_police"]["task"]["status"] == "done"
    assert reports["state_police"]["task"]["answer"] == {"taken_up": "assessed_no_grounds"}
    assert reports["orphans_court"]["status"] == "waived"
    assert reports["orphans_court"]["waived_reason"].startswith("Bāriņtiesa jau informēta")
    # the transition now fires
    moved = api.post(f"/api/v1/cases/{ref}/transitions", headers=school, json={
        "trigger": "protected_and_reported",
        "fields": {"victim_protected": True, "first_aid_given": False}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "inform_parents_and_founder"


def test_vsaa_answers_an_information_request_from_its_email_link(
        web: App, browser_client: Client) -> None:
    """MK 871 p. 6: VSAA reads whom the request is about (the email does not say) and
    answers with its declared choices; the coordinator sees the answer on the case."""
    coordinator = actor_for(web.db, "koordinatore")
    wf = web.rt.registry.latest("unregistered_child")
    ref = open_case(web.db, web.rt, "unregistered_child", coordinator, child_name=CHILD_NAME,
                    child_code=CHILD_CODE, fields=sample_fields(wf.open.fields)).reference
    filed = file_report(web.db, web.rt, ref, "vsaa", coordinator, {
        "question": "Vai bērna vecākiem ir reģistrētas darba attiecības Latvijā?",
        "contact": "Inese Koordinatore, 63000001"})
    url = mailed_link(web, filed.task.id, "done")
    vsaa = browser_client(None)
    page = vsaa.get(url)
    assert page.status_code == 200
    shown = text_of(page.text)
    assert CHILD_NAME in shown and CHILD_CODE in shown      # reads: [identity]
    assert "Vai bērna vecākiem ir reģistrētas darba attiecības" in shown
    assert "Atrasti dati par nodarbinātību (zemāk)" in page.text
    done = vsaa.post(url, data={"csrf": csrf_of(page.text), "f.answer.finding": "employment_found",
                                "f.answer.details": "SIA Ābeles, kopš 01.03.2026"})
    assert done.status_code == 303, done.text   # to the thank-you page (PRG)
    assert vsaa.get(done.headers["location"]).status_code == 200
    assert report_task(web, ref, "vsaa")["details"]["answer"] == {
        "finding": "employment_found", "details": "SIA Ābeles, kopš 01.03.2026"}
    case_page = text_of(browser_client("koordinatore").get(f"/cases/{ref}").text)
    assert "Atrasti dati par nodarbinātību" in case_page and "SIA Ābeles" in case_page
