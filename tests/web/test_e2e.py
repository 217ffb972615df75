"""The whole path through the web app in a real browser (Debian's chromium, Playwright).

A coordinator opens an absences case through the form and takes it to the social
service; the social service acknowledges its task in the inbox and reports it done
with the next step; the coordinator refers the case to the cooperation group, whose
chair plans a meeting and records a decision with a task for the social service;
the dashboard's figures follow, also after the clock moves.  The demo cases (``gaita
init --demo``) fill the lists around it.  Every page: Latvian by default, one ``<h1>``,
no console error; Tab from the top reaches the skip link first.

With ``GAITA_SCREENSHOTS=<dir>`` the test saves full-page PNGs of the main pages there,
at a 1280×900 viewport (``make screenshots`` refreshes docs/screenshots/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from engine.clock import FixedClock
from engine.escalation import tick
from engine.group.reasons import manual_reasons
from engine.store import load_case_row
from gaita.bootstrap import App
from gaita.demo import load_demo
from tests.conftest import make_test_app
from tests.web.browser import (
    BROWSER_MARKS,
    Session,
    checked,
    chromium,
    free_port,
    screenshot,
    serve,
    skip_link_first,
)

pytestmark = BROWSER_MARKS

CHILD, CODE = "Ģirts Čakste", "030915-21235"
SOCIAL = "Jelgavas sociālo lietu pārvalde"     # jslp's Latvian name (institutions.yaml)
SCHOOL_NAME = "Jelgavas 4. vidusskola"
DECISION_DUE = "2026. gada 7. decembris"        # 5 working days after Monday 30 November


def card(page: Page, key: str) -> int:
    """A dashboard card's number."""
    return int(page.locator(f"#card-{key} .n").inner_text())


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    """The app over plain HTTP on a port chosen first (so its cookies are ``gaita_session``,
    without ``Secure``), with the demo users and cases; the test serves it on that port."""
    port = free_port()
    gaita = make_test_app(db_url, base_url=f"http://127.0.0.1:{port}")
    load_demo(gaita.db, gaita.rt)
    yield gaita
    gaita.db.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_absence_case_from_opening_to_the_cooperation_group(app: App) -> None:
    with serve(app) as base, chromium() as browser:
        coordinator = Session(browser, base)
        reference, open_before = _open_and_refer(coordinator)
        social = Session(browser, base)
        _social_service_reports_done(app, social, reference)
        _cooperation_group_decides(app, browser, base, coordinator, social, reference)
        _dashboard_follows_the_clock(app, coordinator, reference, open_before)
        for session in (coordinator, social):
            session.assert_no_errors()
        _admin_page(browser, base)


def _open_and_refer(s: Session) -> tuple[str, int]:
    """Step 1, the coordinator: open a case by the form, take it to the social service."""
    page = s.page
    s.go("/")                                     # not logged in: the login page
    s.log_in("koordinatore", shot="01-login")
    checked(page, "Pārskats")
    skip_link_first(page)
    open_before = card(page, "open")

    menu = page.get_by_role("navigation", name="Galvenā izvēlne")
    menu.get_by_role("link", name="Lietas").click()
    checked(page, "Lietas")
    expect(page.get_by_role("heading", name=f"Atrastas lietas: {open_before}")).to_be_visible()
    expect(page.locator("main").get_by_role("link", name="Jauna lieta")).to_have_attribute(
        "href", "/cases/new")
    menu.get_by_role("link", name="Jauna lieta").click()
    checked(page, "Atvērt lietu")
    expect(menu.locator("[aria-current=page]")).to_have_text("Jauna lieta")
    page.get_by_role("link", name="Neattaisnoti mācību stundu kavējumi").click()
    checked(page, "Atvērt lietu: Neattaisnoti mācību stundu kavējumi")
    page.get_by_label("Bērna vārds, uzvārds").fill(CHILD)
    page.get_by_label("Personas kods").fill(CODE)
    page.locator("#school").select_option(label=SCHOOL_NAME)
    page.get_by_role("group", name="Riska līmenis").get_by_label("Augsts").check()
    page.get_by_label("Izglītības pakāpe").select_option(label="Pamatizglītība")   # value basic
    page.get_by_label("Klase").fill("5")
    screenshot(page, "04-case-open-form")
    page.get_by_role("button", name="Atvērt lietu").click()

    opened = re.compile(r"/cases/(KAV-[^/?]+)\?notice=opened$")
    expect(page).to_have_url(opened)
    reference = opened.findall(page.url)[0]
    assert "irts" not in page.url and "21235" not in page.url   # no child data in URLs
    checked(page, f"Lieta {reference}")
    expect(page.get_by_role("status")).to_have_text("Lieta atvērta.")
    summary = page.locator("dl.summary")
    expect(summary).to_contain_text(CHILD)
    expect(summary).to_contain_text(CODE)
    opening = page.locator("ol.timeline > li").first
    expect(opening).to_contain_text("Inese Koordinatore")    # the user's name, not koordinatore
    expect(opening.locator("dt:text-is('Izglītības pakāpe') + dd")).to_have_text("Pamatizglītība")
    skip_link_first(page)

    # (trigger, its title, radio groups to answer, text fields to fill): values the
    # guards accept (more than 20 lessons; a social problem for the social service)
    steps = (("record_unjustified", "Kavējums neattaisnots",
              {"Vecāki sasniegti": "Jā"}, {}),
             ("report_to_board", "Ziņot izglītības pārvaldei", {},
              {"Neattaisnotās stundas šajā semestrī": "24",
               "Izglītības iestādes veiktie pasākumi": "Sarunas ar vecākiem; atbalsta plāns."}),
             ("refer_to_social_service", "Nodot sociālajam dienestam",
              {"Kavējumi saistīti ar sociālu problēmu": "Jā"},
              {"Problēmas apraksts": "Ģimenē materiālas grūtības; bērns pieskata brāļus."}))
    for trigger, title, radios, texts in steps:
        step = page.locator(f"details#step-{trigger}")
        step.locator("summary").click()
        for legend, choice in radios.items():
            step.get_by_role("group", name=legend).get_by_label(choice, exact=True).check()
        for label, value in texts.items():
            step.get_by_label(label).fill(value)
        step.get_by_role("button", name=title, exact=True).click()
        # what changed: the stage the case moved to, its owner and due date
        expect(page.get_by_role("status")).to_contain_text(
            "Saglabāts: lieta pārvietota uz posmu «")
        checked(page, f"Lieta {reference}")

    expect(page.locator("dl.summary dt:text-is('Atbildīgā iestāde') + dd")).to_have_text(SOCIAL)
    current = page.locator("#diagram-box .diagram-box svg g.state.current")
    expect(current).to_have_count(1)
    expect(current).to_contain_text("Sociālais darbs ar ģimeni")
    expect(current).to_contain_text("pašreizējais")
    expect(page.locator("ol.states strong")).to_have_text("Sociālais darbs ar ģimeni")
    screenshot(page, "05-case-page")

    s.go("/dashboard")
    checked(page, "Pārskats")
    assert card(page, "open") == open_before + 1
    s.go("/cases")
    checked(page, "Lietas")
    expect(page.get_by_role("heading", name=f"Atrastas lietas: {open_before + 1}")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))
    expect(row).to_contain_text("Sociālais darbs ar ģimeni")
    expect(row).to_contain_text(SOCIAL)
    screenshot(page, "03-case-list")
    return reference, open_before


def _social_service_reports_done(app: App, s: Session, reference: str) -> None:
    """Step 2, the social service (its user reads English): acknowledge, then done with
    the next step attendance_restored."""
    page = s.page
    s.log_in("socdienests")
    checked(page, "Institution's tasks", lang="en")
    page.get_by_role("link", name="Latviski").click()
    checked(page, "Iestādes uzdevumi")
    skip_link_first(page)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("saņemšana nav apstiprināta")
    screenshot(page, "06-inbox")

    row.get_by_role("link", name="Sociālais darbs ar ģimeni").click()
    checked(page, f"Uzdevums lietā {reference}")
    screenshot(page, "07-inbox-task")
    page.get_by_role("button", name="Apstiprinu saņemšanu").click()
    checked(page, "Iestādes uzdevumi")
    expect(page.get_by_role("status")).to_have_text(
        "Paldies — uzdevuma saņemšana apstiprināta.")

    page.get_by_role("row").filter(has=page.get_by_role("link", name=reference)) \
        .get_by_role("link", name="Sociālais darbs ar ģimeni").click()
    checked(page, f"Uzdevums lietā {reference}")
    expect(page.get_by_role("heading", name="Apstiprināt uzdevuma saņemšanu")).to_have_count(0)
    page.get_by_role("group", name="Nākamais solis").get_by_label("Apmeklējums atjaunots").check()
    page.locator("#note").fill("Mājas vizīte notikusi; bērns kopš pirmdienas apmeklē skolu.")
    page.get_by_role("button", name="Ziņot par izpildi").click()
    checked(page, "Iestādes uzdevumi")
    expect(page.get_by_role("status")).to_have_text("Paldies — izpilde reģistrēta.")
    expect(page.get_by_role("link", name=reference)).to_have_count(0)   # the task closed
    with app.db.connect() as conn:
        assert load_case_row(conn, reference)["state"] == "attendance_monitoring"


def _cooperation_group_decides(app: App, browser: Browser, base: str, coordinator: Session,
                               social: Session, reference: str) -> None:
    """Step 3: the coordinator refers the case to the group; its chair plans a meeting for
    today and records a decision with a task for the social service, who sees it."""
    page = coordinator.go(f"/cases/{reference}")
    checked(page, f"Lieta {reference}")
    expect(page.locator("dl.summary dt:text-is('Posms') + dd")).to_contain_text(
        "Apmeklējuma uzraudzība")
    expect(page.locator("dl.summary dt:text-is('Atbildīgā iestāde') + dd")).to_have_text(
        SCHOOL_NAME)
    reason = app.rt.municipality.cooperation_group.escalation_reasons[manual_reasons(app.rt)[0]]
    page.locator("details#escalate > summary").click()   # a folded next step
    page.get_by_label("Nodošanas iemesls").select_option(label=reason.title.lv)
    page.locator("details#escalate").get_by_role("button", name="Nodot sadarbības grupai").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Saglabāts: lieta nodota sadarbības grupai (iemesls: {reason.title.lv}).")
    expect(page.locator("ol.timeline")).to_contain_text(
        f"Nodota sadarbības grupai: {reason.title.lv}")

    chair = Session(browser, base)
    page = chair.page
    chair.log_in("vaditajs")
    group_name = app.rt.municipality.cooperation_group.name.lv
    checked(page, group_name)
    skip_link_first(page)
    queued = page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))
    expect(queued).to_contain_text(reason.title.lv)
    expect(queued).to_contain_text("vēl nav ieplānota")
    screenshot(page, "08-group-queue")

    page.get_by_role("link", name="Plānot sēdi").click()
    checked(page, "Plānot sadarbības grupas sēdi")
    page.get_by_label("Sēdes datums").fill("2026-11-30")
    page.get_by_label("Laiks").fill("14:00")
    page.get_by_label("Vieta").fill("Lielā iela 11, Jelgava, 2. stāva zāle")
    page.get_by_label(reference).check()   # the chair picks the agenda from the queue
    page.get_by_role("button", name="Plānot sēdi").click()
    checked(page, "Sēde Nr. 1, 2026. gada 30. novembris")
    screenshot(page, "09-meeting")

    page.get_by_role("link", name=f"Reģistrēt vienošanos ({reference})").click()
    checked(page, f"Vienošanās lietā {reference}")
    page.get_by_label("Par ko grupa vienojās").fill(
        "Sociālajam dienestam turpināt darbu ar ģimeni; skolai ziņot par apmeklējumu.")
    action = page.get_by_role("group", name="Saskaņotā rīcība 1")
    action.get_by_label("Iestāde").select_option(label=SOCIAL)
    action.get_by_label("Termiņš (darba dienās)").fill("5")
    action.get_by_label("Kas jādara").fill("Apmeklēt ģimeni un vienoties par atbalsta plānu.")
    page.get_by_role("button", name="Reģistrēt vienošanos").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Vienošanās par rīcību lietā {reference} reģistrēta. Ar iestādēm saskaņotie uzdevumi: 1.")
    page.get_by_role("link", name=f"Skatīt vienošanos ({reference})").click()
    task = page.locator("table").get_by_role("row").filter(has_text="Apmeklēt ģimeni")
    expect(task).to_contain_text(SOCIAL)
    expect(task).to_contain_text(DECISION_DUE)
    expect(task).to_contain_text("izpildē")
    expect(page.locator("main")).to_contain_text("Reģistrēja Sadarbības grupas vadītājs")
    chair.assert_no_errors()
    chair.context.close()

    page = social.go("/inbox")
    checked(page, "Iestādes uzdevumi")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sadarbības grupas vienošanās par rīcību")
    expect(row).to_contain_text(DECISION_DUE)


def _dashboard_follows_the_clock(app: App, s: Session, reference: str, open_before: int) -> None:
    """Step 4: days later (a new login: the session idled out) unacknowledged receipts and
    missed deadlines show; weeks later this case's deadline too."""
    clock = app.rt.clock
    assert isinstance(clock, FixedClock)
    page = s.go("/dashboard")
    assert (card(page, "unacknowledged"), card(page, "overdue")) == (0, 0)

    clock.advance(days=3)                  # Thursday: receipts were due on Wednesday
    tick(app.db, app.rt)
    s.go("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdashboard$"))
    s.log_in("koordinatore")
    checked(page, "Pārskats")
    assert card(page, "open") == open_before + 1
    assert card(page, "unacknowledged") == open_before + 1   # nobody confirmed any receipt
    overdue = card(page, "overdue")
    assert overdue > 0
    screenshot(page, "02-dashboard")
    page.locator("#card-overdue a").click()
    checked(page, "Lietas")
    expect(page.get_by_role("heading", name=f"Atrastas lietas: {overdue}")).to_be_visible()
    expect(page.get_by_role("link", name=reference)).to_have_count(0)

    clock.advance(days=70)                 # past attendance monitoring's 40 working days
    s.go("/cases?overdue=1")
    s.log_in("koordinatore")
    checked(page, "Lietas")
    expect(page.get_by_role("link", name=reference)).to_have_count(1)


def _admin_page(browser: Browser, base: str) -> None:
    """The administrators' overview, when it is there (it is being finished)."""
    admin = Session(browser, base)
    admin.log_in("admin")
    response = admin.page.goto(base + "/admin")
    if response is None or response.status != 200:
        return
    expect(admin.page.locator("h1")).to_have_count(1)
    expect(admin.page.locator("html")).to_have_attribute("lang", "lv")
    screenshot(admin.page, "10-admin")
    skip_link_first(admin.page)
    admin.assert_no_errors()
