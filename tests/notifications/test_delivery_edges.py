"""Delivery edge cases found in review: rows that cannot be built, leases that must
outlive slow servers, failures of emails about no case, requeueing, Message-IDs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from engine.clock import FixedClock
from engine.errors import NotPermitted
from engine.tables import Case, CaseEvent
from gaita.bootstrap import App
from notifications.compose import message_id
from notifications.delivery import requeue
from notifications.digest import queue_digests
from tests.notifications.smtp import NO_MAILBOX, OK, SmtpServer
from tests.notifications.test_delivery import (
    COORDINATING,
    SCHOOL,
    deliver,
    open_absence,
    outbox,
    row,
    worker,
)

CASE, EVENT = Case.__table__, CaseEvent.__table__


def test_a_row_that_cannot_be_built_fails_alone_and_the_queue_goes_on(
        app: App, smtp: SmtpServer) -> None:
    broken, fine = open_absence(app), open_absence(app)
    with app.db.begin() as conn:   # e.g. a case type removed from workflows/
        conn.execute(sa.update(CASE).where(CASE.c.reference == broken).values(case_type="gone"))
    report = deliver(app)
    assert len(report.failed) == 1 and len(report.sent) == 2   # the other case + the notice
    failed = row(app, report.failed[0])
    assert failed["status"] == "failed" and "could not be built: UnknownCaseType" in failed["last_error"]
    assert any(fine in r.message["Subject"] for r in smtp.accepted)
    notice = next(r for r in outbox(app) if r["template"] == "delivery_failed")
    assert (notice["status"], notice["recipient_institution"]) == ("sent", COORDINATING)
    assert f"(case {broken})" in notice["payload"]["extra"]["error"]


def test_an_email_about_a_renamed_state_keeps_the_old_title(app: App, smtp: SmtpServer) -> None:
    open_absence(app)
    with app.db.begin() as conn:   # as if a version migration renamed the state since
        conn.execute(sa.update(EVENT).values(to_state="no_longer_declared"))
    assert len(deliver(app).sent) == 1
    text = smtp.accepted[0].message.get_body(("plain",)).get_content()
    assert "no_longer_declared" in text and "Sazināties ar vecākiem" in text


def test_the_lease_is_renewed_while_a_slow_batch_is_sent(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    for _ in range(3):
        open_absence(app)
    assert app.settings.mail_lease_seconds == 300
    stolen: list[int] = []

    def slow(envelope: Any) -> str:   # each message takes 0.4 of the lease
        clock.advance(seconds=120)
        _, rows = worker(app).claim(10)   # a second worker, at the same moment
        stolen.extend(r["id"] for r in rows)
        return OK

    smtp.answer = slow
    report = asyncio.run(worker(app).deliver())
    assert len(report.sent) == 3 and stolen == []
    assert len(smtp.accepted) == 3


def test_a_failed_email_about_no_case_is_still_reported_to_the_coordinator(
        app: App, smtp: SmtpServer) -> None:
    open_absence(app)
    deliver(app)
    queue_digests(app.db, app.rt, app.settings.base_url)
    smtp.answer = lambda e: NO_MAILBOX if SCHOOL in str(e.rcpt_tos) or "4vsk" in str(e.rcpt_tos) else OK
    report = deliver(app)
    assert report.failed, report
    notices = [r for r in outbox(app) if r["template"] == "delivery_failed"]
    assert notices and all(n["case_id"] is None and n["recipient_institution"] == COORDINATING
                           for n in notices)
    assert all(n["status"] == "sent" for n in notices)


def test_requeue_gives_a_failed_email_a_fresh_window_and_refuses_other_rows(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    open_absence(app)
    smtp.script(NO_MAILBOX)
    oid = deliver(app, limit=1).failed[0]
    clock.advance(days=10)
    requeue(app.db, app.rt, oid)
    again = row(app, oid)
    assert (again["status"], again["attempts"], again["queued_at"]) == ("queued", 0, clock.now())
    assert oid in deliver(app).sent
    with pytest.raises(NotPermitted, match="is sent; only failed emails are retried"):
        requeue(app.db, app.rt, oid)


def test_message_id_takes_the_domain_of_a_from_with_a_display_name(app: App) -> None:
    open_absence(app)
    first = outbox(app)[0]
    assert message_id(first, "Gaita <gaita@jelgava.lv>").endswith("@jelgava.lv>")
    assert ">>" not in message_id(first, "Gaita <gaita@jelgava.lv>")
    assert message_id(first, "gaita@jelgava.lv") == message_id(first, "Gaita <gaita@jelgava.lv>")
