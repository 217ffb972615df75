"""Quieter, better-timed email (notifications.timing), against a real SMTP server
(aiosmtpd) on a real database: notices about one case sent together, reminders in one
email per recipient and only in working hours, same-day legal reports at once, the
fallback address after a permanent failure, the template version of each email, and
no loss or double send when the sender dies between composing and sending."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from engine.answers import TaskAction
from engine.calendar import WorkingDayCalendar
from engine.clock import FixedClock
from engine.filings import file_report
from engine.municipality import MailTiming
from engine.outbox import Template, queue_mail
from engine.queries import actor_for
from engine.store import EVENT, OUTBOX, TASK, load_case_row
from engine.tasks import TaskInfo
from gaita.bootstrap import App
from gaita.demo import sample_fields
from gaita.mail import delivery_worker
from gaita.settings import ROOT
from gaita.web import create_app
from notifications.catalogue import template_version
from notifications.compose import TEMPLATE_HEADER, Composer
from notifications.delivery import DeliveryReport
from tests.conftest import make_test_app
from tests.engine.test_escalation import open_in_state, state_task
from tests.notifications.smtp import NO_MAILBOX, OK, TRY_LATER, SmtpServer
from tests.notifications.waiting import deliver_in_time
from tests.web.conftest import TestClient, csrf_of, log_in

SCHOOL = "jelgavas-4-vsk"
SCHOOL_EMAIL = "4vsk@skolas.jelgava.example.lv"
FALLBACK = "kanceleja@skolas.jelgava.example.lv"
RIGA = WorkingDayCalendar().timezone


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=RIGA)


def deliver(app: App) -> DeliveryReport:
    return asyncio.run(delivery_worker(app).deliver())


def rows(app: App, **where: Any) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        q = sa.select(OUTBOX).order_by(OUTBOX.c.id)
        for k, v in where.items():
            q = q.where(OUTBOX.c[k] == v)
        return [dict(r) for r in conn.execute(q).mappings()]


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def settled(app: App, ref: str) -> dict[str, Any]:
    """The case in a working-day state, its opening emails sent; its open state task."""
    deliver_in_time(app, delivery_worker(app))
    assert all(r["status"] == "sent" for r in rows(app))
    return state_task(app, ref)


def notify(app: App, ref: str, template: str, task: dict[str, Any] | None = None) -> None:
    """Queue ``template`` to the school about ``ref`` now, as a change would."""
    with app.db.begin() as conn:
        case = load_case_row(conn, ref)
        event_id = conn.execute(sa.select(sa.func.max(EVENT.c.id)).where(
            EVENT.c.case_id == case["id"])).scalar_one()
        info = (TaskInfo(task["state"], SCHOOL, task["due_at"], task["id"])
                if task is not None else None)
        queue_mail(conn, case, event_id, app.rt.clock.now(), [(template, "school", SCHOOL)], info)


@pytest.fixture
def fallback_config(tmp_path: Path) -> Path:
    """Jelgava's config with a fallback address for the school."""
    folder = tmp_path / "jelgava"
    shutil.copytree(ROOT / "config" / "jelgava", folder)
    path = folder / "institutions.yaml"
    text = path.read_text(encoding="utf-8")
    line = f"  email: {SCHOOL_EMAIL}\n"
    assert text.count(line) == 1
    path.write_text(text.replace(line, f"{line}  fallback_email: {FALLBACK}\n"), encoding="utf-8")
    return folder


@pytest.fixture
def fb_app(db_url: str, smtp: SmtpServer, fallback_config: Path) -> Iterator[App]:
    gaita = make_test_app(db_url, smtp_port=smtp.port, smtp_timeout=10, config=fallback_config)
    yield gaita
    gaita.db.dispose()


@pytest.fixture
def fb_clock(fb_app: App) -> FixedClock:
    assert isinstance(fb_app.rt.clock, FixedClock)
    return fb_app.rt.clock


# --- 1. several notices about one case: one email ------------------------------------------


def test_notices_about_one_case_within_the_window_go_as_one_email_whose_links_work(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    ref = open_in_state(app, "absences")
    task = settled(app, ref)
    before = len(smtp.accepted)
    start = clock.now()
    notify(app, ref, Template.CASE_UPDATE)
    clock.advance(minutes=1)
    notify(app, ref, "task_assigned", task)
    clock.advance(minutes=1)
    notify(app, ref, Template.CASE_UPDATE)
    assert deliver(app).total == 0            # within the window: they wait for each other
    clock.set(start + timedelta(minutes=5))   # the first one's window is over
    report = deliver(app)
    assert len(report.sent) == 3 and len(smtp.accepted) == before + 1
    new = rows(app)[-3:]
    lead = new[0]
    assert [r["merged_into"] for r in new] == [None, lead["id"], lead["id"]]
    msg = smtp.accepted[-1].message
    assert msg["Subject"] == f"3 paziņojumi par lietu {ref}"
    assert msg["Message-ID"].startswith(f"<gaita.outbox.{lead['id']}.")
    assert {r["template_version"] for r in new} == {msg[TEMPLATE_HEADER]}
    assert msg[TEMPLATE_HEADER].startswith("notices@")
    assert {r["sent_to"] for r in new} == {SCHOOL_EMAIL}
    text = body(msg)
    assert text.count(f"lietā {ref}") + text.count(ref) >= 3
    assert "Anna" not in text and "Bērziņa" not in text        # no child data
    # the task's own links (signed for its own outbox row) work from the joint email
    links = re.findall(r"https?://\S+/link/(\w+)/(\S+)", text)
    assert {p for p, _ in links} == {a.value for a in TaskAction}
    token = next(tok for p, tok in links if p == TaskAction.ACKNOWLEDGE)
    with TestClient(create_app(app)) as client:
        url = f"/link/acknowledge/{token}"
        page = client.get(url)
        assert page.status_code == 200 and ref in page.text
        done = client.post(url, data={"csrf": csrf_of(page.text)})
        assert done.status_code == 200 and "Paldies" in done.text
    with app.db.connect() as conn:
        assert conn.execute(sa.select(TASK.c.acknowledged_at).where(
            TASK.c.id == task["id"])).scalar_one() is not None


def test_a_notice_alone_goes_out_as_itself_after_the_window(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    ref = open_in_state(app, "absences")
    settled(app, ref)
    notify(app, ref, Template.CASE_UPDATE)
    clock.advance(minutes=4, seconds=59)
    assert deliver(app).total == 0
    clock.advance(seconds=1)
    assert len(deliver(app).sent) == 1
    (row,) = rows(app)[-1:]
    assert row["merged_into"] is None
    assert row["template_version"] == template_version(["case_update"], "lv")
    assert smtp.accepted[-1].message[TEMPLATE_HEADER] == row["template_version"]


def test_the_scheduler_s_reminders_to_one_institution_go_as_one_email(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    refs = [open_in_state(app, "absences", n) for n in (1, 2, 3)]
    task = settled(app, refs[0])
    before = len(smtp.accepted)
    from engine.escalation import tick
    clock.set(task["remind_at"])
    assert tick(app.db, app.rt).effects["reminder"] == 3
    report = deliver_in_time(app, delivery_worker(app))
    reminders = rows(app, template="task_reminder")
    assert len(reminders) == 3 and len(report.sent) == 3
    assert len(smtp.accepted) == before + 1
    msg = smtp.accepted[-1].message
    assert msg["Subject"] == "Atgādinājumi: 3 uzdevumi prasa uzmanību"
    text = body(msg)
    assert all(ref in text for ref in refs)
    assert text.count("/link/acknowledge/") == 3        # each task's own links
    sent_at = reminders[0]["sent_at"].astimezone(RIGA)
    assert app.rt.calendar.is_working_day(sent_at.date())
    assert time(8) <= sent_at.time() < time(18)


# --- 2. working hours ---------------------------------------------------------------------


@pytest.mark.parametrize(("queued", "sent"), [
    ("2026-12-01T02:00", "2026-12-01T08:00"),    # Tuesday night: that morning
    ("2026-12-04T19:00", "2026-12-07T08:00"),    # Friday evening: Monday morning
    ("2026-12-05T02:00", "2026-12-07T08:00"),    # Saturday night: Monday morning
])
def test_a_reminder_outside_working_hours_waits_for_the_next_working_morning(
        app: App, smtp: SmtpServer, clock: FixedClock, queued: str, sent: str) -> None:
    ref = open_in_state(app, "absences")
    task = settled(app, ref)
    clock.set(local(queued))
    notify(app, ref, Template.TASK_REMINDER, task)
    for at in (local(queued) + timedelta(minutes=10), local(sent) - timedelta(seconds=1)):
        clock.set(at)
        assert deliver(app).total == 0
    (row,) = rows(app, template="task_reminder")
    assert row["next_attempt_at"] == local(sent) and row["attempts"] == 0
    clock.set(local(sent))
    assert len(deliver(app).sent) == 1
    assert rows(app, template="task_reminder")[0]["sent_at"] == local(sent)


def test_a_same_day_report_is_not_delayed_at_23_on_a_saturday(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    clock.set(local("2026-12-05T23:00"))   # a Saturday
    ref = open_in_state(app, "violence", until="immediate_protection")
    wf = app.rt.registry.latest("violence")
    report = wf.state("immediate_protection").report("state_police")
    assert report is not None
    file_report(app.db, app.rt, ref, report.code, actor_for(app.db, "skola"),
                sample_fields(report.fields))
    result = deliver(app)                   # at once, at 23:00 on a Saturday
    urgent = rows(app, template="urgent_report")
    assert len(urgent) == 1 and urgent[0]["id"] in result.sent
    assert urgent[0]["sent_at"] == local("2026-12-05T23:00") and urgent[0]["merged_into"] is None
    # the school's same-day task too: nothing about a same-day duty waits
    assert all(r["status"] == "sent" for r in rows(app))


def test_working_hours_must_end_after_they_start() -> None:
    with pytest.raises(ValidationError) as caught:
        MailTiming.model_validate({"working_hours": {"start": "18:00", "end": "08:00"}})
    assert caught.value.errors()[0]["type"] == "config.working_hours_order"


def test_the_calendar_finds_the_next_working_hours() -> None:
    cal = WorkingDayCalendar()
    hours = (time(8), time(18))
    assert cal.working_time(local("2026-12-01T09:30"), *hours) == local("2026-12-01T09:30")
    assert cal.working_time(local("2026-12-01T07:00"), *hours) == local("2026-12-01T08:00")
    assert cal.working_time(local("2026-12-01T18:00"), *hours) == local("2026-12-02T08:00")
    assert cal.working_time(local("2026-11-17T20:00"), *hours) == local("2026-11-19T08:00")  # 18 Nov


# --- 3. the fallback address --------------------------------------------------------------


def test_a_permanent_failure_sends_to_the_fallback_address_and_the_dashboard_says_so(
        fb_app: App, smtp: SmtpServer, fb_clock: FixedClock) -> None:
    app, clock = fb_app, fb_clock
    ref = open_in_state(app, "absences")
    settled(app, ref)
    smtp.answer = lambda e: NO_MAILBOX if SCHOOL_EMAIL in e.rcpt_tos else OK
    notify(app, ref, Template.CASE_UPDATE)
    clock.advance(minutes=5)
    assert len(deliver(app).sent) == 1
    (row,) = rows(app)[-1:]
    assert (row["status"], row["sent_to"], row["fallback"]) == ("sent", FALLBACK, True)
    assert SCHOOL_EMAIL in row["last_error"] and "550" in row["last_error"]
    tried = [m.rcpt_tos for m in smtp.received[-2:]]
    assert tried == [(SCHOOL_EMAIL,), (FALLBACK,)]
    assert not rows(app, template="delivery_failed")
    with TestClient(create_app(app)) as client:
        log_in(client, "koordinatore")
        page = client.get("/dashboard")
        assert page.status_code == 200
        assert "E-pasti, kas nosūtīti uz rezerves adresi" in page.text
        assert FALLBACK in page.text and ref in page.text


def test_a_transient_failure_does_not_use_the_fallback(
        fb_app: App, smtp: SmtpServer, fb_clock: FixedClock) -> None:
    app, clock = fb_app, fb_clock
    ref = open_in_state(app, "absences")
    settled(app, ref)
    smtp.answer = TRY_LATER
    notify(app, ref, Template.CASE_UPDATE)
    clock.advance(minutes=5)
    assert len(deliver(app).retrying) == 1
    (row,) = rows(app)[-1:]
    assert (row["status"], row["fallback"], row["sent_to"]) == ("queued", False, None)
    assert [m.rcpt_tos for m in smtp.received[-1:]] == [(SCHOOL_EMAIL,)]
    smtp.answer = OK
    clock.advance(hours=1)
    deliver(app)
    assert rows(app)[-1]["sent_to"] == SCHOOL_EMAIL


def test_without_a_fallback_a_permanent_failure_is_a_dead_letter(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    ref = open_in_state(app, "absences")
    settled(app, ref)
    smtp.answer = lambda e: NO_MAILBOX if SCHOOL_EMAIL in e.rcpt_tos else OK
    notify(app, ref, Template.CASE_UPDATE)
    clock.advance(minutes=5)
    assert len(deliver(app).failed) == 1
    assert rows(app, template="case_update")[-1]["fallback"] is False


# --- 4. dying between composing and sending ----------------------------------------------


class Died(BaseException):
    """The process ends here (not an error the worker handles)."""


class DiesAfterComposing(Composer):
    def compose_many(self, conn: sa.Connection, rows: Any) -> EmailMessage:
        super().compose_many(conn, rows)
        raise Died


def test_nothing_is_lost_or_sent_twice_when_the_sender_dies_between_composing_and_sending(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    ref = open_in_state(app, "absences")
    task = settled(app, ref)
    before = len(smtp.accepted)
    notify(app, ref, Template.CASE_UPDATE)
    notify(app, ref, "task_assigned", task)
    clock.advance(minutes=5)
    dying = delivery_worker(app, composer=DiesAfterComposing(app.rt, delivery_worker(app).composer.settings))
    with pytest.raises(Died):
        asyncio.run(dying.deliver())
    assert len(smtp.accepted) == before
    assert all(r["status"] == "queued" and r["claim_token"] for r in rows(app)[-2:])
    assert deliver(app).total == 0                  # claimed: the lease holds them
    clock.advance(minutes=5)                        # the lease is over: a new worker sends
    assert len(deliver(app).sent) == 2
    assert len(smtp.accepted) == before + 1
    assert deliver(app).total == 0                  # and never again
    assert len(smtp.accepted) == before + 1
    assert all(r["status"] == "sent" for r in rows(app))


# --- the template version -----------------------------------------------------------------


def test_the_template_version_follows_the_template_source(tmp_path: Path) -> None:
    copy = tmp_path / "templates"
    shutil.copytree(ROOT / "notifications" / "templates", copy)
    first = template_version(["case_update"], "lv", copy)
    assert re.fullmatch(r"case_update@[0-9a-f]{12}", first)
    assert template_version(["case_update"], "lv", copy) == first
    assert template_version(["case_update"], "en", copy) != first
    path = copy / "case_update.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert template_version(["case_update"], "lv", copy) != first
