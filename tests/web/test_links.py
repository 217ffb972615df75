"""The pages behind the email action links, on a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from engine.answers import TaskAction, answer
from engine.cases import fire
from engine.clock import FixedClock
from engine.outbox import queue_mail
from engine.queries import actor_for, link_actor, task_for_link
from engine.store import OUTBOX, TASK, load_case_row
from engine.tasks import TaskInfo
from gaita.bootstrap import App
from gaita.web import create_app
from gaita.web.security import SECURITY_HEADERS
from notifications.links import action_path, link_expiry
from tests.conftest import make_test_app, snapshot
from tests.engine.test_parameters import set_param
from tests.web.conftest import (
    CHILD_MARKS,
    LINK_ACTOR,
    SCHOOL,
    OpenTask,
    TestClient,
    access_rows,
    csrf_of,
    link_url,
    open_task,
    sign,
    state,
    used_links,
    without_access_log,
)

DIACRITICS = "Skolēns pārcēlies uz Rīgu; ģimene neatbild — ņēmām vērā"


def get_form(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def post(client: TestClient, url: str, **data: Any) -> Any:
    """GET the confirmation page (sets the nonce cookie), then POST its form with ``data``."""
    return client.post(url, data={"csrf": get_form(client, url), **data})


def task_row(gaita: App, task_id: int) -> dict[str, Any]:
    with gaita.db.connect() as conn:
        return dict(conn.execute(sa.select(TASK).where(TASK.c.id == task_id)).mappings().one())


def last_event(gaita: App) -> dict[str, Any]:
    with gaita.db.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT kind, trigger, actor, actor_role, actor_institution, payload, to_state "
            "FROM case_event ORDER BY id DESC LIMIT 1")).mappings().one())


def payload_of(event: dict[str, Any]) -> dict[str, Any]:
    value = event["payload"]
    return json.loads(value) if isinstance(value, str) else value


# --- acknowledge: GET changes nothing, POST answers --------------------------------------

def test_acknowledge_link_confirms_on_get_and_acknowledges_on_post(
        gaita: App, client: TestClient, task: OpenTask, clock: FixedClock) -> None:
    url = link_url(gaita, task, TaskAction.ACKNOWLEDGE)
    before = snapshot(gaita.db)
    page = client.get(url)
    assert page.status_code == 200
    assert '<html lang="lv">' in page.text
    for shown in (task.reference, "Apstiprināt uzdevuma saņemšanu",
                  "Neattaisnoti mācību stundu kavējumi", "Sazināties ar vecākiem",
                  "Jelgavas 4. vidusskola", "2026. gada 30. novembrī plkst. 23:59",
                  'method="post"', f'action="{url}"'):
        assert shown in page.text
    after = snapshot(gaita.db)
    assert without_access_log(after) == without_access_log(before)
    assert access_rows(gaita) == [(LINK_ACTOR, "read", "link")]

    clock.advance(hours=1)
    done = client.post(url, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200, done.text
    assert "Paldies — uzdevuma saņemšana apstiprināta." in done.text
    assert task.reference in done.text
    assert task_row(gaita, task.task_id)["acknowledged_at"] == clock.now()
    event = last_event(gaita)
    assert (event["kind"], event["actor"], event["actor_role"], event["actor_institution"]) == (
        "task", LINK_ACTOR, "institution_staff", SCHOOL)
    assert payload_of(event) == {"action": "acknowledge", "task": task.task_id}
    assert access_rows(gaita)[-1] == (LINK_ACTOR, "write", "link")
    assert used_links(gaita) == [(task.outbox_id, task.task_id, "acknowledge")]


@pytest.mark.parametrize("action", list(TaskAction))
def test_get_changes_nothing_but_the_access_log(
        gaita: App, client: TestClient, task: OpenTask, action: TaskAction) -> None:
    before = state(gaita)
    for _ in range(2):   # a mail scanner, then the person
        assert client.get(link_url(gaita, task, action)).status_code == 200
    assert state(gaita) == before
    assert access_rows(gaita) == [(LINK_ACTOR, "read", "link")] * 2


def test_accept(gaita: App, client: TestClient, task: OpenTask) -> None:
    page = post(client, link_url(gaita, task, TaskAction.ACCEPT))
    assert page.status_code == 200 and "Paldies — uzdevums pieņemts." in page.text
    row = task_row(gaita, task.task_id)
    assert row["accepted_at"] is not None and row["acknowledged_at"] is not None


# --- links that cannot be used --------------------------------------------------------------

def test_expired_link(gaita: App, client: TestClient, task: OpenTask, clock: FixedClock) -> None:
    url = link_url(gaita, task, TaskAction.ACKNOWLEDGE)
    expiry = link_expiry(gaita.rt, task.created_at)
    clock.set(expiry - timedelta(minutes=1))
    csrf = get_form(client, url)
    clock.set(expiry + timedelta(seconds=1))
    before = state(gaita)
    for response in (client.get(url), client.post(url, data={"csrf": csrf})):
        assert response.status_code == 410
        assert "Saites derīguma termiņš ir beidzies" in response.text
        assert "2026. gada 14. decembrī plkst. 23:59" in response.text   # 10 working days after Monday 30 Nov
    assert state(gaita) == before


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_tampered_link(gaita: App, client: TestClient, task: OpenTask, damage: str) -> None:
    url = link_url(gaita, task, TaskAction.DECLINE)
    csrf = get_form(client, url)
    prefix, token = url.rsplit("/", 1)
    if damage == "flip":
        i = len(token) // 2
        token = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    elif damage == "truncate":
        token = token[:-3]
    else:
        token = "not-a-token"
    before = state(gaita)
    for response in (client.get(f"{prefix}/{token}"),
                     client.post(f"{prefix}/{token}", data={"csrf": csrf, "reason": "x"})):
        assert response.status_code == 400
        assert "Saite nav derīga" in response.text
    assert state(gaita) == before


def test_wrong_purpose(gaita: App, client: TestClient, task: OpenTask) -> None:
    token = link_url(gaita, task, TaskAction.ACKNOWLEDGE).rsplit("/", 1)[1]
    for purpose in ("decline", "nonsense"):
        response = client.get(f"/link/{purpose}/{token}")
        assert response.status_code == 400
        assert "Saite paredzēta citai darbībai" in response.text
        assert "«Apstiprināt uzdevuma saņemšanu»" in response.text
    before = state(gaita)
    response = client.post(f"/link/decline/{token}", data={"reason": "x"})
    assert response.status_code == 400
    assert state(gaita) == before


def test_used_link_is_refused(gaita: App, client: TestClient, task: OpenTask) -> None:
    url = link_url(gaita, task, TaskAction.ACKNOWLEDGE)
    csrf = get_form(client, url)
    assert client.post(url, data={"csrf": csrf}).status_code == 200
    before = state(gaita)
    again = client.post(url, data={"csrf": csrf})
    assert again.status_code == 409
    assert "Atbilde jau sniegta" in again.text
    assert client.get(url).status_code == 409
    assert state(gaita) == before


def test_answer_given_through_another_email_is_refused(
        gaita: App, client: TestClient, task: OpenTask) -> None:
    """Acknowledged already (here through the engine, as from a reminder's link): the
    engine refuses the second acknowledgement, and the page says so."""
    url = link_url(gaita, task, TaskAction.ACKNOWLEDGE)
    csrf = get_form(client, url)
    answer(gaita.db, gaita.rt, task.task_id, TaskAction.ACKNOWLEDGE, link_actor(gaita.rt, SCHOOL))
    before = state(gaita)
    response = client.post(url, data={"csrf": csrf})
    assert response.status_code == 409 and "Atbilde jau sniegta" in response.text
    assert state(gaita) == before


def test_unknown_task(gaita: App, client: TestClient, task: OpenTask) -> None:
    for outbox_id, task_id in ((task.outbox_id, 999), (999, task.task_id)):
        token = sign(gaita, outbox_id, task_id, TaskAction.DONE, task.created_at)
        response = client.get(action_path(TaskAction.DONE, token))
        assert response.status_code == 404
        assert "Nav atrasts" in response.text
    assert client.get("/no/such/page").status_code == 404


def test_task_now_held_by_another_institution(gaita: App, client: TestClient,
                                              task: OpenTask) -> None:
    url = link_url(gaita, task, TaskAction.ACKNOWLEDGE)
    csrf = get_form(client, url)
    with gaita.db.begin() as conn:
        conn.execute(sa.update(TASK).where(TASK.c.id == task.task_id).values(
            assignee_institution="jslp"))
    before = state(gaita)
    for response in (client.get(url), client.post(url, data={"csrf": csrf})):
        assert response.status_code == 403
        assert "Uzdevums nav jūsu iestādei" in response.text
    assert state(gaita) == before


# --- CSRF ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["no_field", "no_cookie", "wrong_field", "other_links_field",
                                  "forged_cookie"])
def test_post_without_a_valid_csrf_pair_is_refused(
        gaita: App, client: TestClient, task: OpenTask, what: str) -> None:
    url = link_url(gaita, task, TaskAction.DECLINE)
    csrf = get_form(client, url)
    data = {"csrf": csrf, "reason": "Nav mūsu kompetencē"}
    if what == "no_field":
        del data["csrf"]
    elif what == "no_cookie":
        client.cookies.clear()
    elif what == "wrong_field":
        data["csrf"] = "0" * 64
    elif what == "other_links_field":
        data["csrf"] = get_form(client, link_url(gaita, task, TaskAction.MORE_TIME))
    headers = {}
    if what == "forged_cookie":   # a nonce of the attacker's choosing, with a guessed field
        client.cookies.clear()
        headers["Cookie"] = "gaita_csrf=" + "A" * 43
    before = snapshot(gaita.db), used_links(gaita)
    response = client.post(url, data=data, headers=headers)
    assert response.status_code == 403
    assert "Pieprasījumu nevar apstrādāt" in response.text
    assert (snapshot(gaita.db), used_links(gaita)) == before   # not even an access log row


def test_csrf_cookie_attributes(db_url: str) -> None:
    """Plain HTTP (development): ``gaita_csrf`` on /link.  HTTPS: ``__Host-`` (Secure, Path=/)."""
    for base_url, expected in (
            ("http://127.0.0.1:8000", "gaita_csrf="),
            ("https://gaita.example.lv", "__Host-gaita_csrf=")):
        app = make_test_app(db_url, base_url=base_url)
        try:
            task = open_task(app)
            with TestClient(create_app(app), base_url="https://testserver") as client:
                page = client.get(link_url(app, task, TaskAction.ACKNOWLEDGE))
                cookie = page.headers["set-cookie"]
                assert cookie.startswith(expected)
                assert "HttpOnly" in cookie and "SameSite=lax" in cookie
                if base_url.startswith("https"):
                    assert "Secure" in cookie and "Path=/;" in cookie + ";"
                else:
                    assert "Secure" not in cookie and "Path=/link" in cookie
                # the same browser keeps its nonce for a second link
                again = client.get(link_url(app, task, TaskAction.DECLINE))
                assert "set-cookie" in again.headers
                assert again.headers["set-cookie"].split(";")[0] == cookie.split(";")[0]
                done = client.post(link_url(app, task, TaskAction.ACKNOWLEDGE),
                                   data={"csrf": csrf_of(page.text)})
                assert done.status_code == 200
        finally:
            app.db.dispose()


# --- decline, more time --------------------------------------------------------------------------

@pytest.mark.parametrize("reason", [None, "", "   \n "])
def test_decline_without_reason_is_refused(gaita: App, client: TestClient, task: OpenTask,
                                           reason: str | None) -> None:
    url = link_url(gaita, task, TaskAction.DECLINE)
    csrf = get_form(client, url)
    before = state(gaita)
    data = {"csrf": csrf} if reason is None else {"csrf": csrf, "reason": reason}
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "Lūdzu, izlabojiet:" in response.text and "Norādiet iemeslu." in response.text
    assert 'aria-invalid="true"' in response.text
    assert csrf_of(response.text) == csrf   # the form again, still valid
    assert state(gaita) == before


def test_decline_with_reason_keeps_latvian_text(gaita: App, client: TestClient,
                                                task: OpenTask) -> None:
    response = post(client, link_url(gaita, task, TaskAction.DECLINE), reason=DIACRITICS)
    assert response.status_code == 200, response.text
    assert "Paldies — atteikums reģistrēts" in response.text
    assert task_row(gaita, task.task_id)["declined_at"] is not None
    event = last_event(gaita)
    assert event["actor"] == LINK_ACTOR
    assert payload_of(event) == {"action": "decline", "task": task.task_id, "reason": DIACRITICS}
    with gaita.db.connect() as conn:
        told = conn.execute(sa.text(
            "SELECT template, recipient_institution FROM outbox ORDER BY id DESC LIMIT 1")).one()
    assert tuple(told) == ("case_update", "jip")
    # declined: no other answer on this task; the page says so before showing a form
    refused = client.get(link_url(gaita, task, TaskAction.ACCEPT))
    assert refused.status_code == 409 and "csrf" not in refused.text


def test_form_is_shown_again_with_what_was_typed(gaita: App, client: TestClient,
                                                 task: OpenTask) -> None:
    response = post(client, link_url(gaita, task, TaskAction.MORE_TIME), reason=DIACRITICS,
                    days="99")
    assert response.status_code == 422
    assert DIACRITICS in response.text
    assert "Norādiet veselu darba dienu skaitu no 1 līdz 60." in response.text


def test_more_time(gaita: App, client: TestClient, task: OpenTask) -> None:
    response = post(client, link_url(gaita, task, TaskAction.MORE_TIME),
                    reason="Gaidām ģimenes atbildi", days="5")
    assert response.status_code == 200, response.text
    assert "Paldies — lūgums pēc pagarinājuma nosūtīts koordinatoram." in response.text
    assert task_row(gaita, task.task_id)["extension_days"] == 5
    assert payload_of(last_event(gaita)) == {"action": "more_time", "task": task.task_id,
                                             "reason": "Gaidām ģimenes atbildi", "days": 5}


@pytest.mark.parametrize(("days", "reason"), [
    ("0", "r"), ("61", "r"), ("abc", "r"), ("", "r"), ("5.5", "r"), ("-1", "r"), ("٣", "r"),
    ("5", ""),
])
def test_more_time_needs_reason_and_days(gaita: App, client: TestClient, task: OpenTask,
                                         days: str, reason: str) -> None:
    url = link_url(gaita, task, TaskAction.MORE_TIME)
    csrf = get_form(client, url)
    before = state(gaita)
    response = client.post(url, data={"csrf": csrf, "days": days, "reason": reason})
    assert response.status_code == 422
    assert state(gaita) == before


def test_overlong_text_is_refused(gaita: App, client: TestClient, task: OpenTask) -> None:
    url = link_url(gaita, task, TaskAction.DECLINE)
    csrf = get_form(client, url)
    before = state(gaita)
    response = client.post(url, data={"csrf": csrf, "reason": "ā" * 4001})
    assert response.status_code == 422 and "pārāk garš" in response.text
    assert state(gaita) == before


# --- done -----------------------------------------------------------------------------------------

def test_done_by_firing_a_transition_closes_the_task(
        gaita: App, client: TestClient, task: OpenTask) -> None:
    url = link_url(gaita, task, TaskAction.DONE)
    page = client.get(url)
    for shown in ('name="trigger" value=""', "neizvēloties nākamo soli",
                  'value="record_unjustified"', "Kavējums neattaisnots", "Vecāki sasniegti",
                  'name="f.record_unjustified.parents_reached" value="false"',
                  'value="absence_justified"', "Attaisnojuma iemesls"):
        assert shown in page.text
    response = client.post(url, data={
        "csrf": csrf_of(page.text), "trigger": "record_unjustified",
        "f.record_unjustified.parents_reached": "false",
        "f.absence_justified.reason": "ignored: another step's field", "note": "Zvanījām divreiz"})
    assert response.status_code == 200, response.text
    assert "Paldies — izpilde reģistrēta." in response.text
    assert "Atbalsts izglītības iestādē un kavējumu uzskaite" in response.text
    with gaita.db.connect() as conn:
        case = load_case_row(conn, task.reference)
    assert case["state"] == "in_school_support"
    assert case["data"]["parents_reached"] is False
    assert task_row(gaita, task.task_id)["closed_at"] is not None
    event = last_event(gaita)
    assert (event["kind"], event["trigger"], event["actor"]) == (
        "transition", "record_unjustified", LINK_ACTOR)
    assert payload_of(event) == {"parents_reached": False, "note": "Zvanījām divreiz"}
    assert access_rows(gaita)[-1] == (LINK_ACTOR, "write", "link")

    before = state(gaita)
    for action in TaskAction:
        other = link_url(gaita, task, action)
        for response in (client.get(other), client.post(other, data={"reason": "x"})):
            assert response.status_code == 410
            assert "Uzdevums jau slēgts" in response.text
    assert state(gaita) == before


def test_done_without_a_next_step(gaita: App, client: TestClient, task: OpenTask) -> None:
    response = post(client, link_url(gaita, task, TaskAction.DONE), trigger="",
                    note="Vecāki informēti")
    assert response.status_code == 200, response.text
    assert task_row(gaita, task.task_id)["reported_done_at"] is not None
    assert payload_of(last_event(gaita)) == {"action": "done", "task": task.task_id,
                                             "reason": "Vecāki informēti"}
    with gaita.db.connect() as conn:
        assert load_case_row(conn, task.reference)["state"] == "parent_contact"


@pytest.mark.parametrize(("data", "message"), [
    ({"trigger": "record_unjustified"}, "Pārbaudiet lauku «Vecāki sasniegti»."),
    ({"trigger": "record_unjustified", "f.record_unjustified.parents_reached": "varbūt"},
     "jābūt „jā” vai „nē”, norādīts &#39;varbūt&#39;"),
    ({"trigger": "monitoring_complete"}, "Izvēlieties vienu no piedāvātajiem nākamajiem soļiem."),
    ({"trigger": "no_such_step"}, "Izvēlieties vienu no piedāvātajiem nākamajiem soļiem."),
])
def test_done_with_a_bad_step_is_refused(gaita: App, client: TestClient, task: OpenTask,
                                         data: dict[str, str], message: str) -> None:
    url = link_url(gaita, task, TaskAction.DONE)
    csrf = get_form(client, url)
    before = state(gaita)
    response = client.post(url, data={"csrf": csrf, **data})
    assert response.status_code == 422
    assert message in response.text
    assert state(gaita) == before


def test_failing_guard_is_shown_with_the_engines_message(gaita: App, client: TestClient,
                                                         task: OpenTask) -> None:
    """The school's next task (in-school support) has a guarded step: report to the board."""
    fire(gaita.db, gaita.rt, task.reference, "record_unjustified", actor_for(gaita.db, "skola"),
         {"parents_reached": "true"})
    with gaita.db.begin() as conn:   # that step sends no email; simulate one with links
        case = load_case_row(conn, task.reference)
        new_task = conn.execute(sa.select(TASK).where(TASK.c.case_id == case["id"],
                                                      TASK.c.closed_at.is_(None))).mappings().one()
        queue_mail(conn, case, None, gaita.rt.clock.now(), [("task_assigned", "school", SCHOOL)],
                   TaskInfo(new_task["state"], SCHOOL, new_task["due_at"], new_task["id"]))
    info = task_for_link(gaita.db, gaita.rt, new_task["id"])
    assert "report_to_board" in [t["trigger"] for t in info["transitions"]]
    with gaita.db.connect() as conn:
        outbox_id = conn.execute(sa.text("SELECT max(id) FROM outbox")).scalar_one()
    url = action_path(TaskAction.DONE, sign(gaita, outbox_id, new_task["id"], TaskAction.DONE,
                                            gaita.rt.clock.now()))
    csrf = get_form(client, url)
    before = state(gaita)
    response = client.post(url, data={
        "csrf": csrf, "trigger": "report_to_board", "f.report_to_board.unjustified_lessons": "12",
        "f.report_to_board.school_actions": "Sarunas"})
    assert response.status_code == 422
    assert "Sistēma šo soli neatļāva." in response.text
    assert "vajadzīgas vairāk nekā 20 neattaisnoti kavētas mācību stundas semestrī" in response.text
    assert 'value="12"' in response.text   # what was typed is kept
    assert state(gaita) == before


# --- language, headers, privacy, health ----------------------------------------------------------

def test_english(gaita: App, client: TestClient, task: OpenTask) -> None:
    url = link_url(gaita, task, TaskAction.DECLINE)
    page = client.get(url + "?lang=en")
    assert '<html lang="en">' in page.text
    assert "Decline the task" in page.text and "Unjustified absences" in page.text
    assert "Jelgava Secondary School No. 4" in page.text
    assert f'action="{url}?lang=en"' in page.text
    assert f'href="/lang/lv?next={quote(url, safe="")}"' in page.text   # without ?lang=en
    done = client.post(url + "?lang=en", data={"csrf": csrf_of(page.text), "reason": "Not ours"})
    assert "Thank you — the decline is recorded" in done.text
    assert client.get(url + "?lang=xx").text.count('<html lang="lv">') == 1


def test_security_headers_on_every_response(gaita: App, client: TestClient,
                                            task: OpenTask) -> None:
    url = link_url(gaita, task, TaskAction.ACKNOWLEDGE)
    responses = [client.get(url), client.get("/healthz"), client.get("/nope"),
                 client.get(url[:-2]), client.post(url, data={}), client.put(url)]
    responses.append(post(client, url))
    assert [r.status_code for r in responses] == [200, 200, 404, 400, 403, 405, 200]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert SECURITY_HEADERS["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    assert SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"
    assert SECURITY_HEADERS["Cache-Control"] == "no-store"
    assert "<script" not in responses[0].text


def test_no_page_shows_the_child(gaita: App, client: TestClient, task: OpenTask,
                                 clock: FixedClock) -> None:
    pages = []
    for lang in ("", "?lang=en"):
        for action in TaskAction:
            pages.append(client.get(link_url(gaita, task, action) + lang).text)
    pages.append(post(client, link_url(gaita, task, TaskAction.DECLINE), reason="").text)
    pages.append(post(client, link_url(gaita, task, TaskAction.DONE),
                      trigger="record_unjustified").text)
    pages.append(post(client, link_url(gaita, task, TaskAction.DONE),
                      trigger="record_unjustified",
                      **{"f.record_unjustified.parents_reached": "true"}).text)
    pages.append(client.get(link_url(gaita, task, TaskAction.ACCEPT)).text)   # closed
    clock.advance(days=30)
    pages.append(client.get(link_url(gaita, task, TaskAction.ACCEPT)).text)   # expired
    assert len(pages) == 15
    for page in pages:
        for mark in CHILD_MARKS:
            assert mark not in page


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_unexpected_error_is_a_plain_page(gaita: App, client: TestClient, task: OpenTask,
                                          monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail KAV-2026-00001")

    monkeypatch.setattr("gaita.web.links.task_for_link", broken)
    url = link_url(gaita, task, TaskAction.ACKNOWLEDGE)
    with caplog.at_level(logging.ERROR, logger="gaita.web"):
        response = client.get(url)
    assert response.status_code == 500
    assert "Radās kļūda" in response.text
    assert "secret detail" not in response.text and "Traceback" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "secret detail" in caplog.text
    token = url.rsplit("/", 1)[1]
    assert token not in caplog.text   # the log names the route, not the link's token


def test_a_decision_task_link_shows_the_agreed_action_and_no_case_steps(
        gaita: App, client: TestClient, task: OpenTask) -> None:
    """A cooperation group's decision task is its agreed action: "done" closes it alone."""
    from engine.group.decisions import AgreedAction, decide
    from engine.group.meetings import plan_meeting
    from engine.group.queue import escalate

    escalate(gaita.db, gaita.rt, task.reference, actor_for(gaita.db, "koordinatore"),
             "several_institutions")
    chair = actor_for(gaita.db, "vaditajs")
    meeting = plan_meeting(gaita.db, gaita.rt, chair, gaita.rt.clock.now().date())
    decide(gaita.db, gaita.rt, meeting.meeting_id, task.reference, chair, summary="Atbalsts",
           actions=[AgreedAction("jslp", 5, "Sagatavot ģimenes atbalsta plānu")])
    with gaita.db.connect() as conn:
        mail = conn.execute(sa.select(OUTBOX.c.id, OUTBOX.c.task_id, OUTBOX.c.created_at).where(
            OUTBOX.c.recipient_institution == "jslp", OUTBOX.c.task_id.is_not(None))).one()
    decision = OpenTask(task.reference, mail.task_id, mail.id, mail.created_at)
    page = client.get(link_url(gaita, decision, TaskAction.DONE))
    assert page.status_code == 200, page.text
    assert "Sagatavot ģimenes atbalsta plānu" in page.text
    assert 'name="trigger"' not in page.text   # no step of the case is offered


def test_the_most_days_one_may_ask_for_is_the_parameter(gaita: App, client: TestClient,
                                                        task: OpenTask) -> None:
    set_param(gaita, "tasks.max_extension_days", 90)
    response = post(client, link_url(gaita, task, TaskAction.MORE_TIME), reason=DIACRITICS,
                    days="99")
    assert response.status_code == 422
    assert "Norādiet veselu darba dienu skaitu no 1 līdz 90." in response.text
    assert 'max="90"' in response.text
    response = post(client, link_url(gaita, task, TaskAction.MORE_TIME), reason=DIACRITICS,
                    days="75")
    assert response.status_code == 200, response.text
