"""`gaita sweep` and `gaita status` as real subprocesses, and the scheduler of `gaita serve`
(``gaita.scheduler.start_scheduler``) running the tick and the delivery in its threads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent

from engine.clock import FixedClock
from engine.tables import Case, Outbox, SchedulerRun, Task
from gaita.bootstrap import App
from gaita.scheduler import start_scheduler
from tests.cli.test_cli import NOW, Gaita
from tests.conftest import make_test_app
from tests.engine.test_escalation import (
    CASE_TYPES,
    counts,
    migrated_app,
    open_in_state,
    state_task,
)
from tests.notifications.smtp import SmtpServer

TASK, RUN, OUTBOX = Task.__table__, SchedulerRun.__table__, Outbox.__table__
SCHOOL = "jelgavas-4-vsk"


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def gaita_on(db_url: str, tmp_path: Path) -> tuple[Gaita, App]:
    """A migrated database (as `gaita init` leaves it) with one case of each type,
    opened in-process at ``NOW``, and the `gaita` command on it."""
    app = migrated_app(db_url, datetime.fromisoformat(NOW))
    for n, case_type in enumerate(CASE_TYPES):
        open_in_state(app, case_type, n)
    return Gaita(db_url, tmp_path), app


def due_counts(db: sa.Engine, now: datetime) -> dict[str, Any]:
    """What `gaita status` should say at ``now``, read from the task table."""
    with db.connect() as conn:
        open_ = TASK.c.closed_at.is_(None)
        return {
            "tasks_due_now": conn.execute(sa.select(sa.func.count()).where(
                open_, TASK.c.next_check_at <= now)).scalar_one(),
            "next_task_check": conn.execute(sa.select(sa.func.min(TASK.c.next_check_at)).where(
                open_, TASK.c.next_check_at > now)).scalar(),
            "overdue_tasks": conn.execute(sa.select(sa.func.count()).where(
                open_, TASK.c.due_at < now)).scalar_one(),
        }


def status_view(data: dict[str, Any]) -> dict[str, Any]:
    return {"tasks_due_now": data["tasks_due_now"], "overdue_tasks": data["overdue_tasks"],
            "next_task_check": at(data["next_task_check"])}


def test_sweep_and_status_report_the_tick_as_json(tmp_path: Path) -> None:
    g, app = gaita_on(f"sqlite:///{tmp_path / 'gaita.db'}", tmp_path)
    try:
        # Three weeks on: every case is past its acknowledgement deadline, three of
        # them past their deadline (the absence case is due on 30 Dec).
        later = datetime.fromisoformat(NOW) + timedelta(days=21)
        expected = due_counts(app.db, later)
        assert (expected["tasks_due_now"], expected["overdue_tasks"]) == (4, 3)
        before = g.json("--now", later.isoformat(), "status")
        assert set(before) == {"last_tick", "next_tick", "tick_seconds", "healthy",
                               "tasks_due_now", "next_task_check", "overdue_tasks", "outbox"}
        assert (before["last_tick"], before["next_tick"], before["healthy"],
                before["tick_seconds"]) == (None, None, False, 60)
        assert status_view(before) == expected
        assert before["outbox"] == {"queued": counts(app)["outbox"].total(), "sent": 0, "failed": 0}

        swept = g.json("--now", later.isoformat(), "sweep")
        assert set(swept) == {"started_at", "examined", "effects", "seconds", "retried"}
        assert at(swept["started_at"]) == later
        assert (swept["examined"], swept["retried"]) == (len(CASE_TYPES), 0)
        assert isinstance(swept["seconds"], float) and swept["seconds"] >= 0
        effects = swept["effects"]
        assert list(effects) == sorted(effects)
        assert effects == {"unacknowledged": 4, "breach": 3, "ladder:remind_owner": 3,
                           "ladder:notify_owner_head": 3, "ladder:notify_coordinator": 3}
        with app.db.connect() as conn:
            run = conn.execute(sa.select(RUN)).mappings().one()
        assert (run["examined"], run["effects"], run["runner"], run["started_at"]) == (
            swept["examined"], effects, "sweep", later)

        status = g.json("--now", later.isoformat(), "status")
        assert status["healthy"] is True
        last = status["last_tick"]
        assert set(last) == {"at", "runner", "examined", "effects", "duration_ms"}
        assert (at(last["at"]), last["runner"], last["examined"], last["effects"]) == (
            later, "sweep", swept["examined"], effects)
        after = due_counts(app.db, later)
        assert status_view(status) == after
        assert (after["tasks_due_now"], after["overdue_tasks"]) == (0, 3)
        assert after["next_task_check"] == min(   # the coming ladder steps
            state_task(app, r)["next_check_at"] for r in refs(app))
        assert status["outbox"] == {"queued": counts(app)["outbox"].total(), "sent": 0,
                                    "failed": 0}
        assert counts(app)["outbox"]["escalation_head"] == 3
    finally:
        app.db.dispose()


def refs(app: App) -> list[str]:
    with app.db.connect() as conn:
        return list(conn.execute(sa.select(Case.__table__.c.reference)).scalars())


@pytest.mark.slow
def test_sweep_and_status_in_words_and_a_late_scheduler(db_url: str, tmp_path: Path) -> None:
    g, app = gaita_on(db_url, tmp_path)
    try:
        assert "last tick: never" in g("status").stdout
        later = datetime.fromisoformat(NOW) + timedelta(days=21)
        out = g("--now", later.isoformat(), "sweep").stdout
        assert out.startswith(f"examined {len(CASE_TYPES)} task(s): ") and " ms)" in out
        assert "breach 3, " in out and "ladder:notify_owner_head 3" in out
        again = g("--now", later.isoformat(), "sweep").stdout
        assert again.startswith("examined 0 task(s): nothing due")
        text = g("--now", later.isoformat(), "status").stdout
        assert "due now: 0 task(s)" in text and "LATE" not in text
        assert "overdue tasks: 3;" in text
        # No tick for more than three intervals (3 x 60 s): reported late.
        stale = (later + timedelta(minutes=4)).isoformat()
        assert g.json("--now", stale, "status")["healthy"] is False
        assert "LATE" in g("--now", stale, "status").stdout
    finally:
        app.db.dispose()


# -- the scheduler in `gaita serve` ------------------------------------------------------

def wait_for(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("gave up waiting")
        time.sleep(0.05)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def runs(app: App) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(RUN).order_by(RUN.c.id)).mappings()]


def job_errors(scheduler: Any) -> list[JobExecutionEvent]:
    errors: list[JobExecutionEvent] = []
    scheduler.add_listener(errors.append, EVENT_JOB_ERROR)
    return errors


def test_the_scheduler_ticks_and_delivers_at_start_up(db_url: str, smtp: SmtpServer) -> None:
    """With intervals of an hour, only the start-up runs can have happened."""
    app = make_test_app(db_url, tick_seconds=3600, mail_poll_seconds=3600,
                        smtp_port=smtp.port, smtp_timeout=10)
    try:
        ref = open_in_state(app, "absences")
        task = state_task(app, ref)
        assert isinstance(app.rt.clock, FixedClock)
        app.rt.clock.set(task["ack_due_at"])    # the tick has something to do
        scheduler = start_scheduler(app)
        try:
            assert {j.id for j in scheduler.get_jobs()} >= {"tick", "deliver", "digest"}
            wait_for(lambda: len(runs(app)) == 1 and len(smtp.accepted) == 2)
        finally:
            scheduler.shutdown()
        assert not scheduler.running
        [run] = runs(app)
        assert (run["runner"], run["examined"], run["effects"], run["started_at"]) == (
            "serve", 1, {"unacknowledged": 1}, task["ack_due_at"])
        assert sorted(m.message["To"] for m in smtp.accepted) == [
            "4vsk@skolas.jelgava.example.lv"] * 2    # the opening's and the transition's
        with app.db.connect() as conn:
            assert set(conn.execute(sa.select(OUTBOX.c.status)).scalars()) == {"sent"}
    finally:
        app.db.dispose()


def test_the_scheduler_keeps_ticking_and_delivering_until_shut_down(
        db_url: str, smtp: SmtpServer) -> None:
    app = make_test_app(db_url, tick_seconds=1, mail_poll_seconds=1, smtp_port=smtp.port,
                        smtp_timeout=10)
    try:
        scheduler = start_scheduler(app)
        errors = job_errors(scheduler)
        try:
            wait_for(lambda: len(runs(app)) >= 1)
            ref = open_in_state(app, "absences")       # queued after start-up
            task = state_task(app, ref)
            assert isinstance(app.rt.clock, FixedClock)
            app.rt.clock.set(task["due_at"])           # now the interval tick has work
            wait_for(lambda: any(r["effects"].get("breach") for r in runs(app)))
            # the overdue notice (at 23:59) waits for the next working morning
            hours = app.rt.municipality.municipality.mail.working_hours
            app.rt.clock.set(app.rt.calendar.working_time(task["due_at"], hours.start, hours.end)
                             + timedelta(minutes=5))
            wait_for(lambda: any("Termiņš nokavēts" in str(m.message["Subject"])
                                 for m in smtp.accepted))
        finally:
            scheduler.shutdown()
        assert not scheduler.running and errors == []
        n = len(runs(app))
        assert n >= 2 and {r["runner"] for r in runs(app)} == {"serve"}   # start-up + interval
        time.sleep(1.5)
        assert len(runs(app)) == n                      # nothing runs after shutdown
        effects: dict[str, int] = {}
        for r in runs(app):
            for k, v in r["effects"].items():
                effects[k] = effects.get(k, 0) + v
        assert effects == {"unacknowledged": 1, "breach": 1, "ladder:remind_owner": 1}
        assert [m.message["To"] for m in smtp.accepted].count("4vsk@skolas.jelgava.example.lv") == 3
    finally:
        app.db.dispose()
