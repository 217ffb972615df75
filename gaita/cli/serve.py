"""``gaita serve``, ``gaita sweep`` and ``gaita status``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
import typer

from engine.escalation import tick
from engine.store import OUTBOX, RUN, TASK
from engine.tables import OutboxStatus
from gaita.cli.common import JsonOpt, app, current_app, emit_json, handled, out


@app.command()
@handled
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Web processes (default GAITA_WEB_WORKERS, 1).")] = None,
    scheduler: Annotated[bool | None, typer.Option(
        "--scheduler/--no-scheduler",
        help="Also run the scheduler in this process (default GAITA_SERVE_SCHEDULER, on).")] = None,
) -> None:
    """Run the web app (pages, REST API, email action links) and, unless told not
    to, the scheduler: the tick every GAITA_TICK_SECONDS, email delivery every
    GAITA_MAIL_POLL_SECONDS, digests daily.  With --no-scheduler, run `gaita
    worker` beside it."""
    from gaita.serve import serve as run

    gaita = current_app()
    s = gaita.settings
    n = workers or s.web_workers
    with_jobs = s.serve_scheduler if scheduler is None else scheduler
    out.print(f"serving on http://{host}:{port} with {n} web process(es)"
              f"{' and the scheduler' if with_jobs else ''} "
              f"(links use GAITA_BASE_URL={s.base_url})", markup=False)
    run(gaita, host, port, workers=n, scheduler=with_jobs)


@app.command()
@handled
def worker() -> None:
    """Run the scheduler alone (tick, email delivery, digests), for installations
    whose web processes run with --no-scheduler.  Several workers may run at once."""
    from gaita.serve import work

    work(current_app())


@app.command()
@handled
def sweep(as_json: JsonOpt = False) -> None:
    """One scheduler tick (cron-friendly): reminders, breaches, escalation steps,
    unacknowledged tasks.  Safe to run at any time, from any number of processes."""
    gaita = current_app()
    report = tick(gaita.db, gaita.rt, runner="sweep")
    if as_json:
        emit_json(report.as_dict())
        return
    effects = ", ".join(f"{k} {v}" for k, v in sorted(report.effects.items())) or "nothing due"
    out.print(f"examined {report.examined} task(s): {effects} ({report.seconds * 1000:.0f} ms)",
              markup=False)


@app.command()
@handled
def status(as_json: JsonOpt = False) -> None:
    """Scheduler health: the last tick, when the next is due, and the backlog."""
    gaita = current_app()
    now = gaita.rt.clock.now()
    with gaita.db.connect() as conn:
        last = conn.execute(sa.select(RUN).order_by(RUN.c.id.desc()).limit(1)).mappings().first()
        due_now = conn.execute(sa.select(sa.func.count()).select_from(TASK).where(
            TASK.c.closed_at.is_(None), TASK.c.next_check_at <= now)).scalar_one()
        next_check = conn.execute(sa.select(sa.func.min(TASK.c.next_check_at)).where(
            TASK.c.closed_at.is_(None), TASK.c.next_check_at > now)).scalar()
        overdue = conn.execute(sa.select(sa.func.count()).select_from(TASK).where(
            TASK.c.closed_at.is_(None), TASK.c.due_at < now)).scalar_one()
        mail: dict[str, int] = dict(conn.execute(sa.select(OUTBOX.c.status, sa.func.count())
                                                 .group_by(OUTBOX.c.status)).all())
    tick_seconds = gaita.settings.tick_seconds
    stale = last is None or (now - last["started_at"]).total_seconds() > 3 * tick_seconds
    next_tick = None if last is None else last["started_at"] + timedelta(seconds=tick_seconds)
    outbox = {status.value: mail.get(status, 0) for status in OutboxStatus}
    data = {
        "last_tick": None if last is None else {
            "at": last["started_at"], "runner": last["runner"], "examined": last["examined"],
            "effects": last["effects"], "duration_ms": round(last["duration_ms"], 1)},
        "next_tick": next_tick,   # when `gaita serve` runs the next one
        "tick_seconds": tick_seconds, "healthy": not stale,
        "tasks_due_now": due_now, "next_task_check": next_check, "overdue_tasks": overdue,
        "outbox": outbox,
    }
    if as_json:
        emit_json(data)
        return
    tz = gaita.rt.calendar.timezone
    if last is None:
        out.print("last tick: never (run `gaita serve` or `gaita sweep`)")
    else:
        out.print(f"last tick: {last['started_at'].astimezone(tz):%d.%m.%Y %H:%M:%S} "
                  f"({last['runner']}, {last['examined']} examined, "
                  f"{last['duration_ms']:.0f} ms)" + ("" if not stale else "  [bold red]LATE[/]"))
        assert next_tick is not None
        out.print(f"next tick: {next_tick.astimezone(tz):%d.%m.%Y %H:%M:%S} "
                  f"(every {tick_seconds} s under `gaita serve`)")
    out.print(f"due now: {due_now} task(s); next check: "
              + (f"{next_check.astimezone(tz):%d.%m.%Y %H:%M}" if next_check else "none"))
    out.print(f"overdue tasks: {overdue}; outbox: {outbox[OutboxStatus.QUEUED]} queued, "
              f"{outbox[OutboxStatus.FAILED]} failed")
