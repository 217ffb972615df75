"""Work queues on the dashboard and the case list behind each counter (engine.queues):
every counter opens its list and equals its rows; severity in words; the list's deadline
badges, child column, grouped state filter and collapsible filters; bad queue values."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.answers import TaskAction, answer
from engine.cases import open_case
from engine.filings import file_report
from engine.pause import pause
from engine.queries import actor_for
from gaita import demo
from gaita.bootstrap import App
from gaita.web import dashboard
from gaita.web.dashboard import CARDS, COORDINATOR_CARDS, Labels
from tests.engine.test_queues import state_task
from tests.web.conftest import SCHOOL
from tests.web.test_dashboard import (
    advance,
    card,
    clock_of,
    listed,
    open_absences,
    open_unregistered,
)

Client = Callable[[str | None], TestClient]


def scenario(app: App) -> dict[str, str]:
    """Monday 30 Nov: five absences cases at the school (one reported done, one with a
    request for more time, one paused), an unregistered child (the board's), a violence
    case with a report to the State Police; then Tuesday 10:00."""
    school = actor_for(app.db, "skola")
    refs = {name: open_absences(app, n) for n, name in enumerate(
        ("late", "done", "extension", "paused", "fresh"), start=1)}
    answer(app.db, app.rt, state_task(app, refs["done"]), TaskAction.DONE, school,
           reason="Vecāki sazināti")
    answer(app.db, app.rt, state_task(app, refs["extension"]), TaskAction.MORE_TIME, school,
           reason="Vecāki slimi", days=2)
    advance(app, refs["paused"], "record_unjustified", parents_reached=True)
    pause(app.db, app.rt, refs["paused"], actor_for(app.db, "koordinatore"), "child_abroad")
    refs["board"] = open_unregistered(app, 6)
    refs["violence"] = open_case(
        app.db, app.rt, "violence", school, child_name="Anna Bērziņa",
        child_code=demo.demo_code(7), school=SCHOOL,
        fields={"violence_kind": "at_home", "violence_form": "physical",
                "finding": "found"}).reference
    file_report(app.db, app.rt, refs["violence"], "state_police", school,
                {"description": "Zilumi uz rokas", "contact": "Direktore, 63000000"})
    clock_of(app).advance(hours=25)   # Tuesday: the same-day steps are late
    return refs


def cards_of(html: str) -> dict[str, tuple[str, str]]:
    """Each counter's (class, link)."""
    return {m.group(2): (m.group(1), m.group(3)) for m in re.finditer(
        r'<li class="([^"]*)" id="card-(\w+)"><span class="n">\d+</span>\s*<a href="([^"]*)">',
        html)}


def test_every_counter_opens_its_list_with_as_many_rows(web: App, browser_client: Client,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 500)
    refs = scenario(web)
    c = browser_client("koordinatore")
    html = c.get("/dashboard").text
    shown = cards_of(html)
    assert set(shown) == {key for key, _ in (*CARDS, *COORDINATOR_CARDS)}
    assert 'id="own-heading"' in html
    expected = {"overdue": {refs["late"], refs["extension"], refs["fresh"], refs["violence"]},
                "reported_done": {refs["done"]}, "extension_requests": {refs["extension"]},
                "information_requests": {refs["violence"]}, "my_tasks": {refs["board"]}}
    for key, (_, link) in shown.items():
        assert link == ("/cases" if key == "open" else f"/cases?queue={key}"), key
        response = c.get(link)
        assert response.status_code == 200, (key, response.text)
        rows = listed(response.text)
        assert card(html, key) == len(rows), key
        if key in expected:
            assert set(rows) == expected[key], key
        if key != "open":
            assert '<details class="filters" open>' in response.text   # a filter is set
    assert card(html, "my_tasks") == 1


def test_severity_is_said_in_words(web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    quiet = cards_of(c.get("/dashboard").text)
    assert all(cls == "card sev-zero" for key, (cls, _) in quiet.items()), quiet
    assert '<span class="sev">nav</span>' in c.get("/dashboard").text
    open_absences(web, 1)   # its parent contact is due today
    html = c.get("/dashboard").text
    assert cards_of(html)["due_today"][0] == "card sev-today"
    assert re.search(r'id="card-due_today">.*?<span class="sev"><span aria-hidden="true">◷ '
                     r'</span>šodien</span>', html, re.S)
    clock_of(web).advance(hours=25)
    c = browser_client("koordinatore")
    html = c.get("/dashboard").text
    assert cards_of(html)["overdue"][0] == "card sev-late"
    assert re.search(r'id="card-overdue">.*?<span class="sev"><span aria-hidden="true">⚠ '
                     r'</span>kavēts</span>', html, re.S)
    assert cards_of(html)["open"][0] == "card"   # a plain count: no severity
    english = c.get("/dashboard?lang=en").text
    assert re.search(r'id="card-overdue">.*?</span>overdue</span>', english, re.S)
    assert "Institution reported done: choose the next step" in english


def test_only_the_coordinating_institution_sees_its_own_queues(web: App,
                                                               browser_client: Client) -> None:
    scenario(web)
    for user in ("skola", "auditors"):
        html = browser_client(user).get("/dashboard").text
        assert 'id="own-heading"' not in html and 'id="card-my_tasks"' not in html, user
    # the list itself serves anyone: the school's own tasks
    school = browser_client("skola").get("/cases?queue=my_tasks")
    assert school.status_code == 200 and len(listed(school.text)) == 5


def test_the_list_shows_child_badge_and_opened_date(web: App, browser_client: Client) -> None:
    refs = scenario(web)
    c = browser_client("koordinatore")
    html = c.get("/cases").text
    assert '<table class="rows"' in html
    header = re.search(r"<thead>(.*?)</thead>", html, re.S)
    assert header and re.findall(r'<th scope="col"[^>]*>(?:<a [^>]*>)?([^<]+)', header.group(1)) \
        == ["Numurs", "Bērns", "Lietas veids", "Posms", "Atbildīgā iestāde", "Termiņš",
            "Atvērta"]

    def row(ref: str) -> str:
        found = re.search(rf'<a href="/cases/{ref}">{ref}</a></th>(.*?)</tr>', html, re.S)
        assert found, ref
        return found.group(1)

    for ref in refs.values():   # every cell names its column for the phone's cards
        assert all('data-label="' in td for td in re.findall(r"<td[^>]*>", row(ref)))
    assert 'data-label="Bērns">Bērns Nr 1</td>' in row(refs["late"])
    assert 'data-label="Atvērta">2026. gada 30. novembris</td>' in row(refs["late"])
    assert '<span class="badge deadline dl-overdue"><span aria-hidden="true">⚠ </span>kavēts' \
        in row(refs["late"])
    done = row(refs["done"])
    assert '<span class="badge deadline dl-waiting">gaida koordinatoru</span>' in done
    assert "nokavēts" not in done and "kavēts" not in done   # not the school's late work
    assert '<span class="badge deadline dl-paused">apturēts</span>' in row(refs["paused"])
    # the child's name was read: one access-log row per case listed
    with web.db.connect() as conn:
        logged = conn.execute(sa.text(
            "SELECT count(*) FROM access_log WHERE actor = 'koordinatore' AND action = 'read' "
            "AND detail = 'list'")).scalar_one()
    assert logged == len(refs)
    english = c.get("/cases?queue=reported_done&lang=en").text
    assert "Work queue: Institution reported done: choose the next step" in english
    assert "waiting for the coordinator" in english


@pytest.mark.parametrize(("row", "badge"), [
    ({"waiting_for_coordinator": True, "paused": False, "overdue": True}, "waiting"),
    ({"paused": True, "overdue": False, "working_days_left": 0}, "paused"),
    ({"overdue": True, "working_days_left": -2}, "overdue"),
    ({"working_days_left": 0}, "today"),
    ({"working_days_left": 1}, "soon"),
    ({"working_days_left": 2}, "soon"),
    ({"working_days_left": 3}, None),
    ({"due_at": None, "working_days_left": None}, None),
    ({"status": "closed", "overdue": True}, None),
])
def test_the_deadline_badge(web: App, row: dict[str, object], badge: str | None) -> None:
    base = {"status": "open", "waiting_for_coordinator": False, "paused": False,
            "overdue": False, "due_at": datetime(2026, 12, 1, tzinfo=UTC),
            "working_days_left": 5}
    labels = Labels(web.rt, "lv")
    assert labels.deadline_badge({**base, **row}) == badge
    if badge:
        assert labels.badge(badge) and "{" not in labels.badge(badge)
    assert Labels(web.rt, "lv").badge("soon") == "drīz: ≤ 2 darba dienas"
    assert Labels(web.rt, "en").badge("waiting") == "waiting for the coordinator"


def test_the_state_filter_groups_states_by_case_type(web: App, browser_client: Client) -> None:
    html = browser_client("koordinatore").get("/cases").text
    groups = re.findall(r'<optgroup label="([^"]+)">', html)
    assert sorted(groups) == sorted(["Neattaisnoti mācību stundu kavējumi",
                                     *[g for g in groups if g != "Neattaisnoti mācību stundu "
                                       "kavējumi"]]) and len(groups) == 4
    absences = re.search(r'<optgroup label="Neattaisnoti mācību stundu kavējumi">(.*?)'
                         r'</optgroup>', html, re.S)
    assert absences and 'value="parent_contact"' in absences.group(1)
    assert '<details class="filters">' in html   # no filter set: folded


@pytest.mark.parametrize("path", ["/cases", "/cases/export.csv", "/cases/export.xlsx"])
def test_an_unknown_queue_is_a_400_naming_it(web: App, browser_client: Client,
                                             path: str) -> None:
    c = browser_client("koordinatore")
    response = c.get(f"{path}?queue=everything")
    assert response.status_code == 400
    assert ('<a href="#f-queue">Nezināma darba rinda „everything”; iespējamās: overdue, '
            "due_today") in response.text
    assert '<select id="f-queue" name="queue" aria-invalid="true">' in response.text
    assert '<details class="filters" open>' in response.text
    english = c.get(f"{path}?queue=everything&lang=en")
    assert english.status_code == 400 and "Unknown work queue “everything”" in english.text
