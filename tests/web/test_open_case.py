"""Opening a case through the web form: fields from the declaration, the child's
personal code checked with a precise message, nothing stored on any refusal."""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.store import CASE, CHILD
from gaita.bootstrap import App
from tests.conftest import snapshot
from tests.web.conftest import CHILD_CODE, SCHOOL, form_csrf

Client = Callable[[str | None], TestClient]
NAME = "Jānis Bērziņš-Ķēniņš"
_LINKS = re.compile(r'<li><a href="#([^"]+)">([^<]+)</a>')


def opening(csrf: str, **changes: str) -> dict[str, str]:
    """A complete, valid opening form for an absences case; ``changes`` override fields."""
    return {"csrf": csrf, "child_name": NAME, "child_code": CHILD_CODE, "school": SCHOOL,
            "risk_level": "high", "f.open.age_group": "basic", "f.open.grade": "5", **changes}


def test_coordinator_opens_a_case_and_its_page_shows_the_child(web: App,
                                                                browser_client: Client) -> None:
    c = browser_client("koordinatore")
    types = c.get("/cases/new")
    assert types.status_code == 200
    assert 'href="/cases/new/absences"' in types.text
    form = c.get("/cases/new/absences")
    assert form.status_code == 200
    for field in ('name="child_name"', 'name="child_code"', 'id="school"',
                  f'<option value="{SCHOOL}"', 'name="risk_level" value="high"',
                  'name="f.open.age_group"', '<option value="basic"', 'name="f.open.grade"',
                  '<label for="f-open-grade">Klase'):
        assert field in form.text, field
    done = c.post("/cases/new/absences", data=opening(form_csrf(form.text)))
    assert done.status_code == 303
    location = done.headers["location"]
    assert re.fullmatch(r"/cases/KAV-2026-\d{5}\?notice=opened", location)
    assert "120514" not in location and "21234" not in location
    with web.db.connect() as conn:
        case = conn.execute(sa.select(CASE)).mappings().one()
        child = conn.execute(sa.select(CHILD.c.name, CHILD.c.personal_code)).one()
    assert (child.name, child.personal_code) == (NAME, CHILD_CODE)
    assert case["risk_level"] == "high" and case["school_institution"] == SCHOOL
    assert case["data"] == {"age_group": "basic", "grade": 5}
    shown = c.get(location)
    assert shown.status_code == 200
    assert "Lieta atvērta." in shown.text
    assert NAME in shown.text and CHILD_CODE in shown.text   # the coordinator sees identity
    assert "Augsts" in shown.text and "Jelgavas 4. vidusskola" in shown.text


#: Personal codes and what the form says about each (engine.personal_code's checks).
BAD_CODES = (
    ("120514-21235", "Personas koda kontrolcipars (pēdējais cipars) nesakrīt"),
    ("1205142123", "Personas kodā jābūt 11 cipariem (ievadīti 10)."),
    ("12a514-21234", "Personas koda 3. zīme nav cipars"),
    ("12051-421234", "defisei jābūt aiz sestā cipara"),
    ("121314-21234", "dzimšanas mēnesis (13) neeksistē"),
    ("310414-21234", "04. mēnesī nav 31. datuma"),
    ("290223-21234", "2023. gads nav garais gads, tāpēc februārī nav 29. datuma"),
    ("120514-31234", "septītajam ciparam (gadsimtam) jābūt 0, 1 vai 2"),
    ("", "Personas kods nav ievadīts"),
)


def test_a_bad_personal_code_is_named_and_nothing_is_stored(web: App,
                                                            browser_client: Client) -> None:
    c = browser_client("koordinatore")
    csrf = form_csrf(c.get("/cases/new/absences").text)
    before = snapshot(web.db)
    for code, message in BAD_CODES:
        refused = c.post("/cases/new/absences", data=opening(csrf, child_code=code))
        assert refused.status_code == 422, code
        links = dict(_LINKS.findall(refused.text))
        assert list(links) == ["child_code"] and message in links["child_code"], (code, links)
        assert 'role="alert"' in refused.text
        assert re.search(r'id="child_code"[^>]*aria-invalid="true"', refused.text)
        assert f'value="{NAME}"' in refused.text   # what was typed is kept
    assert snapshot(web.db) == before


def test_every_problem_is_listed_and_linked_to_its_field(web: App,
                                                         browser_client: Client) -> None:
    c = browser_client("koordinatore")
    csrf = form_csrf(c.get("/cases/new/absences").text)
    before = snapshot(web.db)
    refused = c.post("/cases/new/absences", data=opening(
        csrf, child_name="  ", school="", risk_level="extreme", **{
            "f.open.age_group": "university", "f.open.grade": "-1"}))
    assert refused.status_code == 422
    assert snapshot(web.db) == before
    assert dict(_LINKS.findall(refused.text)) == {
        "child_name": "Ievadiet bērna vārdu un uzvārdu.",
        "school": "Izvēlieties izglītības iestādi.",
        "risk_level": "Izvēlieties riska līmeni.",
        "f-open-age_group": "«Izglītības pakāpe»: izvēlieties kādu no piedāvātajām vērtībām.",
        "f-open-grade": "«Klase»: jābūt vismaz 0.",
    }
    assert f'value="{CHILD_CODE}"' in refused.text   # kept in the form, never in a URL


def test_the_form_needs_the_session_csrf_token(web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    before = snapshot(web.db)
    data = opening("")
    del data["csrf"]
    assert c.post("/cases/new/absences", data=data).status_code == 403
    assert c.post("/cases/new/absences", data=opening("0" * 64)).status_code == 403
    assert snapshot(web.db) == before


def test_who_may_open_what(web: App, browser_client: Client) -> None:
    auditor = browser_client("auditors")
    assert auditor.get("/cases/new").status_code == 403
    assert auditor.get("/cases/new/absences").status_code == 403
    before = snapshot(web.db)
    page = auditor.get("/dashboard")
    assert auditor.post("/cases/new/absences",
                        data=opening(form_csrf(page.text))).status_code == 403
    assert snapshot(web.db) == before
    coordinator = browser_client("koordinatore")
    assert coordinator.get("/cases/new/no_such_type").status_code == 404
    school = browser_client("skola")
    form = school.get("/cases/new/absences")
    assert form.status_code == 200   # school staff open absences cases for their own school
    select = re.search(r'<select id="school".*?</select>', form.text, re.S)
    assert select and re.findall(r'<option value="([^"]+)"', select.group(0)) == [SCHOOL]


def test_the_form_in_english(web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    form = c.get("/cases/new/absences?lang=en")
    assert "Open a case: Unjustified absences" in form.text
    assert "Education level" in form.text and 'lang="en"' in form.text


def test_a_case_entered_after_its_same_day_deadline_opens_overdue_and_says_so(
        web: App, browser_client: Client) -> None:
    """The violence happened on Saturday 28 Nov; it is entered on Monday 30 Nov."""
    c = browser_client("koordinatore")
    form = c.get("/cases/new/violence")
    assert 'name="incident_at"' in form.text and "DD.MM.GGGG SS:MM" in form.text
    data = {"csrf": form_csrf(form.text), "child_name": NAME, "child_code": CHILD_CODE,
            "school": SCHOOL, "risk_level": "high", "incident_at": "28.11.2026 11:20",
            "f.open.violence_kind": "pupil_to_pupil", "f.open.violence_form": "physical",
            "f.open.finding": "found"}
    done = c.post("/cases/new/violence", data=data)
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith("?notice=opened_late")
    shown = c.get(done.headers["location"])
    assert "Lieta atvērta ar nokavētu termiņu" in shown.text
    assert "2026. gada 28. novembrī plkst. 11:20" in shown.text                      # the incident
    assert "2026. gada 28. novembrī plkst. 23:59" in shown.text                      # due that Saturday
    assert "Ziņots novēloti: kavējums 2 d." in shown.text


def test_an_incident_time_in_the_future_or_unreadable_is_refused_beside_its_field(
        web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    form = c.get("/cases/new/violence")
    before = snapshot(web.db)
    base = {"csrf": form_csrf(form.text), "child_name": NAME, "child_code": CHILD_CODE,
            "school": SCHOOL, "risk_level": "high", "f.open.violence_kind": "pupil_to_pupil",
            "f.open.violence_form": "physical", "f.open.finding": "found"}
    for typed, said in (("31.02.2026", "Norādiet notikuma laiku formā DD.MM.GGGG SS:MM"),
                        ("01.12.2026 10:00", "notikuma laiks 01.12.2026 10:00 ir nākotnē")):
        refused = c.post("/cases/new/violence", data={**base, "incident_at": typed})
        assert refused.status_code == 422
        assert said in refused.text and 'href="#incident_at"' in refused.text
        assert 'id="incident_at"' in refused.text and 'aria-invalid="true"' in refused.text
    assert snapshot(web.db) == before
def test_a_date_is_typed_dd_mm_gggg_and_a_day_that_does_not_exist_is_named(
        web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    form = c.get("/cases/new/unregistered_child")
    assert re.search(r'id="f-open-ikvd_list_date"[^>]*placeholder="DD.MM.GGGG"', form.text)
    assert "datums: DD.MM.GGGG" in form.text
    data = {"csrf": form_csrf(form.text), "child_name": NAME, "child_code": CHILD_CODE,
            "risk_level": "high", "f.open.ikvd_cycle": "jan_30", "f.open.age_group": "basic"}
    before = snapshot(web.db)
    for typed, said in (("31.11.2026", "datums „31.11.2026” kalendārā nepastāv"),
                        ("30/11/2026", "datums jāraksta formātā DD.MM.GGGG")):
        refused = c.post("/cases/new/unregistered_child",
                         data={**data, "f.open.ikvd_list_date": typed})
        assert refused.status_code == 422, typed
        links = dict(_LINKS.findall(refused.text))
        assert links == {"f-open-ikvd_list_date": "«IKVD saraksta saņemšanas datums»: ievadiet "
                                                  "datumu formātā DD.MM.GGGG (piemēram, "
                                                  "31.01.2026)."}
        assert f'value="{typed}"' in refused.text
        assert said in refused.text   # the engine's reason, in Latvian
    assert snapshot(web.db) == before
    done = c.post("/cases/new/unregistered_child",
                  data={**data, "f.open.ikvd_list_date": "30.11.2026"})
    assert done.status_code == 303, done.text
    with web.db.connect() as conn:
        assert conn.execute(sa.select(CASE.c.data)).scalar()["ikvd_list_date"] == "2026-11-30"
