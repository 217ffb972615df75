"""One case of each type walks up its escalation ladder, tick by tick, with real email.

For each case type a case is brought to a state with a working-day deadline, a
reminder and a full ladder; then the clock jumps to one second before each
moment something falls due (nothing happens), and to the moment itself (exactly
that happens): the acknowledgement deadline, the reminder, the breach, each
ladder step at its working-day offset, and at the end the cooperation group's
queue.  Every event is checked, and every email is delivered to a real SMTP
server (aiosmtpd) and checked: its template, recipient and subject.

The expected moments come from the declaration (the state's deadline,
``remind_before`` and ladder, with its parameters) and the app's calendar.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.clock import FixedClock
from engine.escalation import tick
from gaita.bootstrap import App
from gaita.mail import delivery_worker
from notifications.compose import message_id
from tests.conftest import make_test_app
from tests.engine.test_escalation import (
    CASE,
    COORDINATING,
    ESCALATION,
    EVENT,
    GROUP,
    OUTBOX,
    PATHS,
    SECOND,
    app_case_type,
    chains_verify,
    counts,
    email,
    head_email,
    local,
    open_in_state,
    param,
    state_task,
)
from tests.notifications.smtp import SmtpServer
from tests.notifications.waiting import deliver_in_time

#: The subject each template starts with (the institutions' locale is Latvian); the head's
#: starts with the institution's name.
SUBJECTS = {"task_reminder": "Atgādinājums:", "task_overdue": "Termiņš nokavēts:",
            "escalation_head": ": nokavēts termiņš lietā ", "group_queued": "Lieta "}
FULL_LADDER = ["remind_owner", "notify_owner_head", "notify_coordinator", "queue_cooperation_group"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql",
                                                marks=[pytest.mark.pg, pytest.mark.slow])])
def walk_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Like ``db_url``; the walks on PostgreSQL are slow-marked (the concurrency
    tests in test_escalation.py are where PostgreSQL differs)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gaita.db'}"
    return str(request.getfixturevalue("pg_server").new_database())


@pytest.fixture
def app(walk_db: str, smtp: SmtpServer) -> Iterator[App]:
    gaita = make_test_app(walk_db, smtp_port=smtp.port, smtp_timeout=10)
    yield gaita
    gaita.db.dispose()


@pytest.fixture
def clock(app: App) -> FixedClock:
    assert isinstance(app.rt.clock, FixedClock)
    return app.rt.clock


@dataclass
class Moment:
    """Something due at ``at``: the tick's effect, the events it writes (kind,
    payload without the task id) and the emails (template, address, and the
    escalation level a head's notice names)."""
    at: datetime
    effect: str
    events: list[tuple[str, dict[str, Any]]]
    mails: list[tuple[str, str, int | None]] = field(default_factory=list)


def plan(app: App, ref: str) -> list[Moment]:
    """What the declaration says will happen to the case's open task, and when."""
    cal = app.rt.calendar
    task = state_task(app, ref)
    wf = app.rt.registry.latest(app_case_type(app, ref))
    state = wf.state(task["state"])
    with app.db.connect() as conn:
        risk = conn.execute(sa.select(CASE.c.risk_level).where(CASE.c.reference == ref)).scalar()
    start, owner = task["opened_at"], task["assignee_institution"]
    assert state.deadline is not None and state.deadline.param is not None
    days = param(app, state.deadline.param)
    due = cal.due_at(start, days)
    assert task["due_at"] == due
    moments = [Moment(cal.due_at(start, param(app, "tasks.acknowledge_days")), "unacknowledged",
                      [("unacknowledged", {})])]
    assert state.remind_before is not None
    before = param(app, state.remind_before) if isinstance(state.remind_before, str) else (
        state.remind_before)
    assert days > before
    remind = cal.due_at(start, days - before)
    assert task["remind_at"] == remind
    moments.append(Moment(remind, "reminder", [("reminded", {})],
                          [("task_reminder", email(owner), None)]))
    moments.append(Moment(due, "breach", [("overdue", {})], [("task_overdue", email(owner), None)]))
    taken = []
    for i, s in enumerate(state.escalation):
        if s.risk is not None and risk not in s.risk:
            continue
        taken.append(s.action)
        after = param(app, s.after) if isinstance(s.after, str) else s.after
        at = due if after == 0 else cal.due_at(due, after)
        events: list[tuple[str, dict[str, Any]]] = [
            ("escalated", {"step": i + 1, "action": s.action})]
        mails: list[tuple[str, str, int | None]] = []
        match s.action:
            case "remind_owner":
                assert after == 0   # the breach notice is the reminder
            case "notify_owner_head":
                mails = [("escalation_head", head_email(owner), len(taken))]   # steps so far
            case "notify_coordinator":
                mails = [("task_overdue", email(COORDINATING), None)]
            case "queue_cooperation_group":
                events.append(("queued", {"reason": "stalled", "urgent": risk == "high"}))
                mails = [("group_queued", email(GROUP), None)]
        moments.append(Moment(at, f"ladder:{s.action}", events, mails))
    assert taken == FULL_LADDER
    return moments   # in the order one tick does them; sorted by time below (stable)


class Walk:
    def __init__(self, app: App, smtp: SmtpServer, ref: str):
        self.app, self.smtp, self.ref = app, smtp, ref
        self.task_id = state_task(app, ref)["id"]
        self.deliver()          # what the case's opening and transitions queued
        self.seen_event = self._max(EVENT)
        self.seen_mail = self._max(OUTBOX)

    def _max(self, table: sa.Table) -> int:
        with self.app.db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
                       .scalar_one())

    def deliver(self) -> None:
        """Each email when it goes out: reminders in working hours, after the window."""
        deliver_in_time(self.app, delivery_worker(self.app, rng=random.Random(0)))

    def tick(self, when: datetime) -> dict[str, int]:
        self.app.rt.clock.set(when)   # type: ignore[attr-defined]  # the tests' FixedClock
        return dict(tick(self.app.db, self.app.rt).effects)

    def new_events(self) -> list[tuple[str, dict[str, Any]]]:
        with self.app.db.connect() as conn:
            rows = conn.execute(sa.select(EVENT).where(EVENT.c.id > self.seen_event)
                                .order_by(EVENT.c.id)).mappings().all()
        for r in rows:
            assert (r["actor"], r["actor_role"], r["at"]) == ("gaita", "system",
                                                             self.app.rt.clock.now())
            self.seen_event = r["id"]
        out = []
        for r in rows:
            payload = dict(r["payload"])
            if r["kind"] != "queued":
                assert payload.pop("task") == self.task_id
            out.append((r["kind"], payload))
        return out

    def new_mails(self) -> list[tuple[str, str, int | None]]:
        """Deliver the new outbox rows; each must arrive at the SMTP server as sent."""
        self.deliver()
        with self.app.db.connect() as conn:
            rows = conn.execute(sa.select(OUTBOX).where(OUTBOX.c.id > self.seen_mail)
                                .order_by(OUTBOX.c.id)).mappings().all()
        arrived = {m.message_id: m for m in self.smtp.accepted}
        out = []
        for r in rows:
            self.seen_mail = r["id"]
            assert r["status"] == "sent", r
            lead = r if r["merged_into"] is None else next(
                x for x in rows if x["id"] == r["merged_into"])   # notices sent as one
            got = arrived[message_id(lead, self.app.settings.mail_from)]
            msg = got.message
            assert got.rcpt_tos == (r["sent_to"],) and msg["To"] == r["sent_to"]
            subject = str(msg["Subject"])
            expected = SUBJECTS[r["template"]]
            if msg["X-Gaita-Template"].startswith("notices@"):   # its notice is in the list
                subject = msg.get_body(("plain",)).get_content()
            assert (expected in subject if r["template"] == "escalation_head"
                    or msg["X-Gaita-Template"].startswith("notices@")
                    else subject.startswith(expected)) and self.ref in subject, subject
            level = None
            if r["template"] == "escalation_head":
                level = r["payload"]["extra"]["level"]
                assert f"({level}. eskalācijas līmenis)" in subject
            out.append((r["template"], r["sent_to"], level))
        return out

    def run(self, moments: list[Moment]) -> list[tuple[date, list[str]]]:
        """Each group of moments that fall due together: a tick one second before
        does nothing, a tick at the moment does exactly that group."""
        timeline = []
        for at, group in groupby(sorted(moments, key=lambda m: m.at), key=lambda m: m.at):
            due = list(group)
            assert self.tick(at - SECOND) == {}
            assert self.new_events() == [] and self.new_mails() == []
            expected: dict[str, int] = {}
            for m in due:
                expected[m.effect] = expected.get(m.effect, 0) + 1
            assert self.tick(at) == expected, at
            assert self.new_events() == [e for m in due for e in m.events]
            assert sorted(self.new_mails()) == sorted(x for m in due for x in m.mails)
            assert self.tick(at) == {}     # and a second tick at once does nothing
            timeline.append((local(self.app, at), [m.effect for m in due]))
        return timeline


def walk(app: App, smtp: SmtpServer, case_type: str) -> tuple[str, list[tuple[date, list[str]]]]:
    ref = open_in_state(app, case_type)
    assert state_task(app, ref)["state"] == PATHS[case_type][2]
    w = Walk(app, smtp, ref)
    moments = plan(app, ref)
    timeline = w.run(moments)
    # At the top of the ladder: queued once for the group, and nothing more to check.
    last = max(m.at for m in moments)
    task = state_task(app, ref)
    assert (task["next_check_at"], task["check_token"]) == (None, None)
    assert task["escalation_step"] == len(app.rt.registry.latest(case_type)
                                          .state(task["state"]).escalation)
    assert w.tick(last.replace(year=last.year + 1)) == {}
    assert w.new_events() == [] and w.new_mails() == []
    with app.db.connect() as conn:
        esc = conn.execute(sa.select(ESCALATION)).mappings().one()
        owner = conn.execute(sa.select(CASE.c.owner_institution, CASE.c.state)).one()
    assert (esc["status"], esc["reasons"], esc["queued_by"], esc["queued_at"]) == (
        "queued", ["stalled"], "gaita", last)
    assert owner == (task["assignee_institution"], task["state"])   # the group is not an owner
    assert counts(app)["effects"] == {
        "unacknowledged": 1, "reminder": 1, "breach": 1,
        **{f"step:{i}": 1 for i, s in enumerate(app.rt.registry.latest(case_type)
                                                 .state(task["state"]).escalation)
           if s.risk is None or "medium" in s.risk}}
    chains_verify(app)
    return ref, timeline


def test_absence_case_walks_up_its_ladder_to_the_cooperation_group(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    ref, timeline = walk(app, smtp, "absences")
    assert ref.startswith("KAV-")
    # The dates, spelled out once: 20 working days from Monday 30 Nov 2026 skip
    # Christmas (24-25 Dec); 31 Dec and 1 Jan are holidays too.
    assert timeline == [
        (date(2026, 12, 2), ["unacknowledged"]),
        (date(2026, 12, 28), ["reminder"]),
        (date(2026, 12, 30), ["breach", "ladder:remind_owner"]),
        (date(2027, 1, 5), ["ladder:notify_owner_head"]),
        (date(2027, 1, 8), ["ladder:notify_coordinator"]),
        (date(2027, 1, 22), ["ladder:queue_cooperation_group"]),
    ]


def test_substance_case_walks_up_its_ladder_to_the_cooperation_group(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    ref, timeline = walk(app, smtp, "substances")
    assert ref.startswith("ATK-")
    # board_report: 3 working days, reminded 1 before, on the day receipt was due.
    assert timeline == [
        (date(2026, 12, 2), ["unacknowledged", "reminder"]),
        (date(2026, 12, 3), ["breach", "ladder:remind_owner"]),
        (date(2026, 12, 7), ["ladder:notify_owner_head"]),
        (date(2026, 12, 10), ["ladder:notify_coordinator"]),
        (date(2026, 12, 28), ["ladder:queue_cooperation_group"]),   # 24-25 Dec skipped
    ]


@pytest.mark.parametrize("case_type", ["unregistered_child", "violence"])
def test_other_case_types_walk_up_their_ladders_to_the_cooperation_group(
        app: App, smtp: SmtpServer, clock: FixedClock, case_type: str) -> None:
    walk(app, smtp, case_type)
