"""The scheduler in ``gaita serve`` (APScheduler 3): the tick, delivery and digests.

Jobs (each runs at start-up, then on its interval; ``coalesce=True`` so a late
run happens once, and a misfire grace as long as a day, so nothing is skipped):

* ``tick`` every ``GAITA_TICK_SECONDS``: ``engine.escalation.tick``;
* ``deliver`` every ``GAITA_MAIL_POLL_SECONDS``: the outbox;
* ``digest`` once a day at ``GAITA_DIGEST_HOUR`` (local time): each
  institution's digest, at most once per day across processes.

Every job's state is in the database, so a restart or a second process loses
and doubles nothing.  The jobs run in APScheduler's thread pool, never on the
web server's event loop.
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.background import BackgroundScheduler

from engine.escalation import tick
from gaita.bootstrap import App
from gaita.mail import delivery_worker, mail_settings
from notifications.digest import queue_digests_once

log = logging.getLogger("gaita.scheduler")
MISFIRE_GRACE = 24 * 3600


def run_tick(app: App, runner: str = "serve") -> None:
    report = tick(app.db, app.rt, runner=runner)
    log.info("tick: examined %d task(s), effects %s, %.1f ms", report.examined,
             dict(report.effects), report.seconds * 1000)


def run_delivery(app: App) -> None:
    report = asyncio.run(delivery_worker(app).deliver())
    if report.total:
        log.info("outbox: %s", report.counts())


def run_digest(app: App) -> None:
    queued = queue_digests_once(app.db, app.rt, mail_settings(app).base_url)
    if queued is not None:
        log.info("digest: %d institution(s)", len(queued))


def start_scheduler(app: App) -> BackgroundScheduler:
    s = app.settings
    tz = app.rt.calendar.timezone
    scheduler = BackgroundScheduler(timezone=tz, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE})
    # The intervals and the digest hour are wall-clock scheduling; what each job
    # does is decided by the injectable clock (``app.rt.clock``).
    scheduler.add_job(run_tick, "interval", seconds=s.tick_seconds, args=[app], id="tick")
    scheduler.add_job(run_delivery, "interval", seconds=s.mail_poll_seconds, args=[app],
                      id="deliver")
    scheduler.add_job(run_digest, "cron", hour=s.digest_hour, args=[app], id="digest")
    for job in (run_tick, run_delivery):   # and once at start-up (catch-up after downtime)
        scheduler.add_job(job, args=[app], id=f"{job.__name__}-at-start")
    scheduler.start()
    return scheduler
