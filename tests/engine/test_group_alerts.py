"""Urgent referrals waiting with no meeting planned (engine.group.alerts), on a fixed clock,
on a real SQLite file and a real PostgreSQL: no alert before the configured wait, one
after it, one more each working day, none on a day off, none once a meeting is planned,
and never two on one day, whatever runs the tick."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.clock import FixedClock
from engine.escalation import tick
from engine.group.alerts import ALERT_AFTER_PARAM, alert_waiting_urgent, waiting_urgent
from engine.tables import CaseEvent, Outbox
from gaita.bootstrap import App
from tests.conftest import START
from tests.engine.test_group import CHILD, open_absence, plan, refer, working_day
from tests.engine.test_parameters import set_param

EVENT, OUTBOX = CaseEvent.__table__, Outbox.__table__
RIGA = START.tzinfo


def at(day: str, time: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=RIGA)


def alerts(gaita: App) -> list[dict[str, Any]]:
    with gaita.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(EVENT).where(
            EVENT.c.kind == "group_waiting").order_by(EVENT.c.id)).mappings()]


def mails(gaita: App) -> list[dict[str, Any]]:
    with gaita.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(OUTBOX).where(
            OUTBOX.c.template == "group_waiting").order_by(OUTBOX.c.id)).mappings()]


def tick_at(gaita: App, clock: FixedClock, when: datetime) -> dict[str, int]:
    clock.set(when)
    return dict(tick(gaita.db, gaita.rt).effects)


def test_an_urgent_referral_with_no_meeting_alerts_after_one_working_day_then_daily(
        gaita: App, clock: FixedClock) -> None:
    ref = open_absence(gaita, risk="high")
    escalation = refer(gaita, ref, urgent=True)          # Monday 30.11.2026 09:00
    assert gaita.rt.days(ALERT_AFTER_PARAM) == 1
    # before one working day has passed: nothing
    assert "group_waiting" not in tick_at(gaita, clock, at("2026-11-30", "17:00"))
    assert "group_waiting" not in tick_at(gaita, clock, at("2026-12-01", "08:59"))
    assert alerts(gaita) == []
    # one working day later: one alert, to the group's chair and the coordinator
    assert tick_at(gaita, clock, at("2026-12-01", "09:00"))["group_waiting"] == 1
    (event,) = alerts(gaita)
    assert (event["actor"], event["payload"]) == (
        "gaita", {"escalation": escalation, "day": "2026-12-01", "waited": 1})
    sent = mails(gaita)
    assert [(m["recipient_institution"], m["payload"].get("to")) for m in sent] == [
        ("btasg", "head"), ("jip", None)]
    for m in sent:
        assert m["event_id"] == event["id"] and m["task_id"] is None
        assert m["payload"]["extra"] == {
            "reason": "Nepieciešama vairāku institūciju ātra rīcība un sadarbība",
            "risk": "high", "waited": 1, "queued": "2026. gada 30. novembris"}
        assert CHILD not in str(m["payload"])
    # the same day again: nothing more
    assert "group_waiting" not in tick_at(gaita, clock, at("2026-12-01", "16:00"))
    # the next working day: another one
    assert tick_at(gaita, clock, at("2026-12-02", "00:05"))["group_waiting"] == 1
    assert [e["payload"]["day"] for e in alerts(gaita)] == ["2026-12-01", "2026-12-02"]
    assert alerts(gaita)[-1]["payload"]["waited"] == 2
    assert len(mails(gaita)) == 4
    # a day off: none; Monday: one
    assert "group_waiting" not in tick_at(gaita, clock, at("2026-12-05", "10:00"))
    assert tick_at(gaita, clock, at("2026-12-07", "07:00"))["group_waiting"] == 1
    # a meeting is planned for it: the alerts stop
    plan(gaita, working_day(gaita, 1), extraordinary=True)
    assert "group_waiting" not in tick_at(gaita, clock, at("2026-12-08", "10:00"))
    assert len(alerts(gaita)) == 3


def test_an_ordinary_referral_or_one_with_a_meeting_is_not_alerted(
        gaita: App, clock: FixedClock) -> None:
    ordinary = open_absence(gaita)
    refer(gaita, ordinary)
    planned = open_absence(gaita, 1, risk="high")
    refer(gaita, planned, urgent=True)
    plan(gaita, working_day(gaita, 3))
    tick_at(gaita, clock, at("2026-12-02", "10:00"))
    assert alerts(gaita) == []
    with gaita.db.connect() as conn:
        assert waiting_urgent(conn, gaita.rt) == []


def test_the_wait_is_the_parameter(gaita: App, clock: FixedClock) -> None:
    set_param(gaita, ALERT_AFTER_PARAM, 3)
    ref = open_absence(gaita, risk="high")
    refer(gaita, ref, urgent=True)                       # Monday 09:00
    tick_at(gaita, clock, at("2026-12-02", "10:00"))     # two working days: not yet
    assert alerts(gaita) == []
    tick_at(gaita, clock, at("2026-12-03", "09:00"))     # three: the first alert
    assert [e["payload"]["waited"] for e in alerts(gaita)] == [3]


def test_several_ticks_at_once_alert_once(gaita: App, clock: FixedClock) -> None:
    refs = [open_absence(gaita, n, risk="high") for n in range(3)]
    for ref in refs:
        refer(gaita, ref, urgent=True)
    clock.set(at("2026-12-01", "10:00"))
    barrier = threading.Barrier(4)
    sent: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sent.append(alert_waiting_urgent(gaita.db, gaita.rt))
        except BaseException as exc:   # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(sent) == 3 and len(alerts(gaita)) == 3 and len(mails(gaita)) == 6
    assert alert_waiting_urgent(gaita.db, gaita.rt) == 0
