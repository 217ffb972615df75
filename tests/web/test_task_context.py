"""Context for institutions (issue 12, point 4): the inbox task page and the email-link
page say what is asked and why, show the case fields the institution's role may read
(and no other), the deadline (a paused one as paused), whom to contact; the answers are
explained, "decline" is secondary, a task reported done waits apart, and the server
reads only the chosen next step's fields.  SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.answers import TaskAction
from engine.cases import fire
from engine.clock import FixedClock
from engine.notes import add_note
from engine.pause import pause
from engine.queries import actor_for
from engine.store import EVENT, OUTBOX, TASK, load_case_row
from gaita.bootstrap import App
from notifications.links import ActionLink, LinkSigner, action_path, link_expiry
from tests.web.conftest import CHILD_MARKS, form_csrf
from tests.web.test_inbox import at_board, at_social_service, login, open_tasks, task_id_in

Client = Callable[[str | None], TestClient]


def text_of(page: str) -> str:
    """A page's words (its main part, if it has one), tags gone, spaces folded."""
    main = re.search(r"<main.*?</main>", page, re.S)
    page = main.group(0) if main else page
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def brief_of(page: str) -> str:
    found = re.search(r'<section class="brief".*?</section>', page, re.S)
    assert found, "no brief on the page"
    return text_of(found.group(0))


def task_of(web: App, reference: str) -> int:
    [task] = open_tasks(web, reference)
    return int(task["id"])


def link_for(web: App, task_id: int, action: TaskAction) -> str:
    """The signed link of the task's email for ``action``."""
    with web.db.connect() as conn:
        mail = conn.execute(sa.select(OUTBOX.c.id, OUTBOX.c.created_at).where(
            OUTBOX.c.task_id == task_id).order_by(OUTBOX.c.id)).first()
    assert mail is not None
    token = LinkSigner(web.settings.secret_key).sign(
        ActionLink(mail.id, task_id, action, link_expiry(web.rt, mail.created_at)))
    return action_path(action, token)


def test_the_task_page_says_what_is_asked_why_and_whom_to_ask(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    add_note(web.db, web.rt, reference, actor_for(web.db, "koordinatore"),
             "Māte lūdz zvanīt pēc 16:00.")
    social = login(browser_client, "socdienests")   # reads English
    page = social.get(f"/inbox/{task_of(web, reference)}")
    assert page.status_code == 200
    brief = brief_of(page.text)
    for shown in ("What is asked and why",
                  "Assigned by Inese Koordinatore, Jelgava Education Board",
                  "Step: Refer to the social service.",
                  # what the coordinator wrote with the step
                  "What was written with the task", "Problem description Ģimenes situācija",
                  "Absences come with a social problem Yes",
                  "Notes on the case since the task was assigned", "Māte lūdz zvanīt pēc 16:00.",
                  # the case's fields the social service reads, support plan included
                  "Case data your institution may read", "Unjustified lessons this semester 24",
                  "What the school has done Sarunas ar vecākiem",
                  # whom to ask: the coordinator's name, institution and phone; the office
                  "Whom to ask", "Phone +371 63000000",
                  "Coordinating institution: Jelgava Education Board. jip@jelgava.example.lv"):
        assert shown in brief, shown
    assert 'href="tel:+37163000000"' in page.text
    assert not any(mark in page.text for mark in CHILD_MARKS)


def test_a_field_group_the_role_may_not_read_is_not_shown(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    fire(web.db, web.rt, reference, "involve_police", actor_for(web.db, "koordinatore"),
         {"reason": "family_not_cooperating"})
    police = login(browser_client, "policija")   # the police roles do not read support_plan
    task_id = task_of(web, reference)
    page = police.get(f"/inbox/{task_id}")
    assert page.status_code == 200
    brief = brief_of(page.text)
    assert "Iemesls Ģimene nesadarbojas" in brief   # the referral's field, in words
    assert "Neattaisnotās stundas šajā semestrī 24" in brief
    assert "Problēmas apraksts Ģimenes situācija" in brief
    for hidden in ("Sarunas ar vecākiem", "Izglītības iestādes veiktie pasākumi"):
        assert hidden not in page.text, hidden
    # the email link speaks for the same institution: the same fields, no more
    link = web_client(web).get(link_for(web, task_id, TaskAction.ACKNOWLEDGE))
    assert link.status_code == 200
    assert "Iemesls Ģimene nesadarbojas" in brief_of(link.text)
    assert "Sarunas ar vecākiem" not in link.text
    assert not any(mark in link.text for mark in CHILD_MARKS)


def web_client(web: App) -> TestClient:
    from gaita.web import create_app
    return TestClient(create_app(web), base_url="https://testserver")


def test_the_email_link_page_gives_the_same_context(web: App) -> None:
    reference = at_social_service(web)
    task_id = task_of(web, reference)
    client = web_client(web)
    for action in (TaskAction.ACKNOWLEDGE, TaskAction.DONE):
        page = client.get(link_for(web, task_id, action))
        assert page.status_code == 200
        brief = brief_of(page.text)
        for shown in ("Kas tiek lūgts un kāpēc", "Uzdevumu uzdeva Inese Koordinatore",
                      "Problēmas apraksts Ģimenes situācija", "Tālrunis +371 63000000",
                      "Izglītības iestādes veiktie pasākumi Sarunas ar vecākiem"):
            assert shown in brief, shown
        assert not any(mark in page.text for mark in CHILD_MARKS)
    ack = client.get(link_for(web, task_id, TaskAction.ACKNOWLEDGE) + "?lang=en")
    assert ("Confirm receipt: only says the task has arrived; the task stays open and its "
            "deadline keeps running.") in text_of(ack.text)
    done = text_of(client.get(link_for(web, task_id, TaskAction.DONE)).text)
    assert "Ziņot par izpildi: darbs ir paveikts" in done


def test_the_note_written_when_the_step_was_taken_reaches_the_next_institution(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    social = login(browser_client, "socdienests")
    task_id = task_of(web, reference)
    page = social.get(f"/inbox/{task_id}")
    done = social.post(f"/inbox/{task_id}/done", data={
        "csrf": form_csrf(page.text), "trigger": "attendance_restored",
        "note": "Skolēns atkal apmeklē skolu; lūdzam uzraudzīt mēnesi."})
    assert done.status_code == 303
    school = login(browser_client, "skola")
    page = school.get(f"/inbox/{task_of(web, reference)}")
    brief = brief_of(page.text)
    assert "Uzdevumu uzdeva Sociālā darbiniece, Jelgavas sociālo lietu pārvalde" in brief
    assert "Solis: Apmeklējums atjaunots." in brief
    assert "Piezīme, uzdodot uzdevumu Skolēns atkal apmeklē skolu; lūdzam uzraudzīt mēnesi." \
        in brief
    # the coordinator who last worked on the case is the second contact
    assert "Koordinators Inese Koordinatore, Jelgavas izglītības pārvalde" in brief


def test_a_paused_deadline_is_shown_as_paused_not_overdue(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    pause(web.db, web.rt, reference, actor_for(web.db, "koordinatore"), "child_abroad")
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=5)
    link = web_client(web).get(link_for(web, task_of(web, reference), TaskAction.ACKNOWLEDGE))
    assert "Termiņš termiņš apturēts kopš 30.11.2026" in text_of(link.text)
    clock.advance(days=55)   # long past the due date, but the clock stands still
    social = login(browser_client, "socdienests")
    inbox = social.get("/inbox")
    task_id = task_id_in(inbox.text, reference)
    row = re.search(rf'/inbox/{task_id}".*?</tr>', inbox.text, re.S)
    assert row is not None
    words = text_of(row.group(0))
    assert "paused" in words and "deadline paused since 30.11.2026" in words
    assert "overdue" not in words and "late" not in row.group(0)
    page = social.get(f"/inbox/{task_id}")
    summary = text_of(re.search(r'<dl class="summary">.*?</dl>', page.text, re.S).group(0))
    assert "Due deadline paused since 30.11.2026" in summary
    assert "overdue" not in text_of(page.text).lower()


def test_due_badges_say_the_deadline_in_words(web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)

    def badge() -> str | None:   # a new login: a session ends when idle for days
        found = re.search(r'<span class="badge due-(\w+)">([^<]*)</span>',
                          login(browser_client, "socdienests").get("/inbox").text)
        return f"{found.group(1)}: {found.group(2)}" if found else None

    assert badge() is None   # ten working days left
    clock.advance(days=12)
    assert badge() == "soon: ≤ 2 working days"
    clock.advance(days=2)
    assert badge() == "today: due today"
    clock.advance(days=1)
    assert badge() == "overdue: overdue"
    assert reference


def test_done_without_a_next_step_moves_the_task_to_waiting_for_the_coordinator(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    social = login(browser_client, "socdienests")
    task_id = task_of(web, reference)
    page = social.get(f"/inbox/{task_id}")
    done = social.post(f"/inbox/{task_id}/done", data={
        "csrf": form_csrf(page.text), "trigger": "", "note": "Ģimene apmeklēta"})
    assert (done.status_code, done.headers["location"]) == (303, "/inbox?done=done")
    inbox = social.get(done.headers["location"]).text
    open_part, _, waiting = inbox.partition('id="waiting-title"')
    assert f'href="/inbox/{task_id}"' not in open_part   # out of the open list
    assert "Your institution has no open tasks at the moment." in text_of(open_part)
    assert "Done, waiting for the coordinator" in waiting
    assert f'href="/inbox/{task_id}"' in waiting
    assert "Waiting for the coordinator: 1" in waiting
    # the task itself is still open: the coordinator chooses the next step
    assert open_tasks(web, reference)[0]["reported_done_at"] is not None


def test_the_server_reads_only_the_chosen_steps_fields(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    social = login(browser_client, "socdienests")
    task_id = task_of(web, reference)
    page = social.get(f"/inbox/{task_id}")
    # the other steps' fields are on the form, each inside its own step
    assert 'name="f.involve_police.reason"' in page.text
    assert 'name="f.flag_child_at_risk.concern"' in page.text
    done = social.post(f"/inbox/{task_id}/done", data={
        "csrf": form_csrf(page.text), "trigger": "attendance_restored",
        # typed into steps that were not chosen: ignored, even when invalid there
        "f.involve_police.reason": "not-a-choice", "f.flag_child_at_risk.concern": "x" * 50})
    assert (done.status_code, done.headers["location"]) == (303, "/inbox?done=done")
    with web.db.connect() as conn:
        case = load_case_row(conn, reference)
        event = conn.execute(sa.select(EVENT.c.trigger, EVENT.c.payload).where(
            EVENT.c.case_id == case["id"]).order_by(EVENT.c.seq.desc())).first()
    assert case["state"] == "attendance_monitoring"
    assert event is not None and event.trigger == "attendance_restored"
    assert "reason" not in event.payload and "concern" not in event.payload
    assert "concern" not in case["data"] and case["data"].get("reason") is None


def test_decline_is_secondary_and_each_answer_is_explained(
        web: App, browser_client: Client) -> None:
    reference = at_board(web)
    coordinator = login(browser_client, "koordinatore")
    page = coordinator.get(f"/inbox/{task_of(web, reference)}").text
    words = text_of(page)
    for line in ("Apstiprināt saņemšanu: tikai apliecina, ka uzdevums saņemts",
                 "Pieņemt: Jūsu iestāde uzņemas uzdevumu un to veiks.",
                 "Ziņot par izpildi: darbs ir paveikts"):
        assert line in words, line
    # declining: folded below every other answer, with a secondary button
    decline = page.index('<details class="answer secondary">')
    assert all(page.index(f'/{a}"') < decline for a in ("acknowledge", "accept", "done",
                                                         "more_time"))
    assert re.search(r'<button type="submit" class="secondary">Atteikties no uzdevuma</button>',
                     page)
    with web.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(TASK)).scalar_one() >= 1
