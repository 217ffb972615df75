"""Deliver everything queued, each email at the time it goes out (``notifications.timing``:
notices wait the coalescing window, reminders the working hours): the tests' fixed clock
moves to each waiting row's time, and back afterwards."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from engine.clock import FixedClock
from engine.store import OUTBOX
from engine.tables import OutboxStatus
from gaita.bootstrap import App
from notifications.delivery import DeliveryReport, DeliveryWorker


def deliver_in_time(app: App, worker: DeliveryWorker, *, rounds: int = 5) -> DeliveryReport:
    clock = app.rt.clock
    assert isinstance(clock, FixedClock)
    start, report = clock.now(), DeliveryReport()
    try:
        for _ in range(rounds):
            report.add(asyncio.run(worker.deliver()))
            with app.db.connect() as conn:
                due = conn.execute(sa.select(sa.func.min(OUTBOX.c.next_attempt_at)).where(
                    OUTBOX.c.status == OutboxStatus.QUEUED, OUTBOX.c.attempts == 0)).scalar()
            if due is None:
                break
            clock.set(max(due, clock.now()))
    finally:
        clock.set(start)
    return report
