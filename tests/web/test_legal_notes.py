"""What the law asks, shown where it is done: the state's legal reference and its note (in
the page's language) on the coordinator's case page beside the next steps, on the
institution's inbox task page and on the email-link page; a step's own note with the step."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from starlette.testclient import TestClient

from engine.answers import TaskAction
from engine.cases import open_case
from engine.queries import actor_for
from gaita.bootstrap import App
from tests.web.conftest import OpenTask, link_url, open_task

Client = Callable[[str | None], TestClient]

#: The absences case's first state, parent_contact (workflows/absences.yaml).
REF = "MK 89 (sazināties nekavējoties, bet ne vēlāk kā mācību dienas laikā)"
NOTE_LV = ("Ja bērns ir ārpusģimenes aprūpē, vecāku vietā sazinās ar audžuģimeni, aizbildni "
           "vai ārpusģimenes aprūpes iestādes vadītāju (MK 89 2. punkts).")
NOTE_EN = ("If the child is in out-of-family care, contact the foster family, guardian or "
           "care-institution head instead (MK 89 p. 2).")


def law_section(page: str) -> str:
    """The page's "what the law asks" box, as text."""
    found = re.search(r'<section class="law".*?</section>', page, re.S)
    assert found, "no legal box on the page"
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(0)))


def shows(page: str, *texts: str) -> bool:
    box = " ".join(law_section(page).split())
    return all(" ".join(t.split()) in box for t in texts)


def test_the_case_page_shows_the_law_beside_the_next_steps(web: App,
                                                          browser_client: Client) -> None:
    task = open_task(web)
    coordinator = browser_client("koordinatore")
    page = coordinator.get(f"/cases/{task.reference}")
    assert page.status_code == 200
    assert shows(page.text, "Ko šajā posmā prasa likums", f"Tiesību akts: {REF}", NOTE_LV)
    assert NOTE_EN not in page.text
    # right after the next steps (the forms first, then the duty they fulfil), before the
    # timeline
    actions = page.text.index('id="actions"')
    assert actions < page.text.index('class="step"') < page.text.index('class="law"') \
        < page.text.index('id="timeline"')
    english = coordinator.get(f"/cases/{task.reference}?lang=en")
    assert shows(english.text, "What the law asks at this step", f"Legal reference: {REF}",
                 NOTE_EN)
    assert NOTE_LV not in english.text


def test_the_inbox_task_page_shows_the_law(web: App, browser_client: Client) -> None:
    task = open_task(web)
    school = browser_client("skola")
    page = school.get(f"/inbox/{task.task_id}")
    assert page.status_code == 200
    assert shows(page.text, f"Tiesību akts: {REF}", NOTE_LV)
    english = school.get(f"/inbox/{task.task_id}?lang=en")
    assert shows(english.text, f"Legal reference: {REF}", NOTE_EN)
    assert NOTE_LV not in english.text


def test_the_link_page_shows_the_law(gaita: App, client: TestClient, task: OpenTask) -> None:
    url = link_url(gaita, task, TaskAction.DONE)
    page = client.get(url)
    assert page.status_code == 200
    assert shows(page.text, "Ko šajā posmā prasa likums", f"Tiesību akts: {REF}", NOTE_LV)
    english = client.get(url + "?lang=en")
    assert shows(english.text, f"Legal reference: {REF}", NOTE_EN)
    assert NOTE_LV not in english.text
    # a step the link may take says its own legal reference, with the step
    step = re.search(r'id="trigger-record_unjustified".*?</div>', page.text, re.S)
    assert step and "Tiesību akts: MK 89</p>" in step.group(0)


def test_a_step_shows_its_own_note(web: App, browser_client: Client) -> None:
    """An unregistered child's closing status for 5-6-year-olds says so, with the step."""
    reference = open_case(web.db, web.rt, "unregistered_child", actor_for(web.db, "koordinatore"),
                          child_name="Anna Liepa", child_code="120514-21234",
                          fields={"ikvd_list_date": "30.10.2026", "ikvd_cycle": "oct_30",
                                  "age_group": "preschool"}).reference
    coordinator = browser_client("koordinatore")
    page = coordinator.get(f"/cases/{reference}")
    step = re.search(r'<details class="step" id="step-status_home_or_childminder".*?</details>',
                     page.text, re.S)
    assert step, "the step is not offered"
    assert ("Statuss tikai 5 un 6 gadus veciem bērniem (uzskaitīts kopš 2016./2017. mācību "
            "gada).") in step.group(0)
    english = coordinator.get(f"/cases/{reference}?lang=en")
    assert "A status for 5- and 6-year-olds only (reported since 2016/17)." in english.text
    # the state's own note, in Latvian, with its legal reference
    assert shows(page.text, "MK 871 p. 6", "statuss VIIS ir „Pašvaldība noskaidro situāciju”")
