"""``gaita serve``: the web app and, in the same process, the background work.

The background loop delivers the outbox every ``GAITA_MAIL_POLL_SECONDS`` and
records unacknowledged tasks every ``GAITA_TICK_SECONDS``.  It keeps nothing
in memory that matters: every deadline and email is a row, so a restart
loses nothing.  (The scheduler issue replaces the loop with APScheduler's
``tick``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from engine.tasks import record_unacknowledged
from gaita.bootstrap import App
from gaita.mail import delivery_worker
from gaita.web.app import create_app

log = logging.getLogger("gaita.serve")


async def background(app: App, stop: asyncio.Event) -> None:
    """Runs beside the web server; the work itself runs in a thread, so that database
    waits (SQLite's busy timeout) never hold up the pages."""
    worker = delivery_worker(app)
    poll, tick = app.settings.mail_poll_seconds, app.settings.tick_seconds
    since_tick = tick   # record at start-up
    while not stop.is_set():
        try:
            report = await asyncio.to_thread(asyncio.run, worker.deliver())
            if report.total:
                log.info("outbox: %s", report.counts())
            if since_tick >= tick:
                since_tick = 0
                marked = await asyncio.to_thread(record_unacknowledged, app.db, app.rt)
                if marked:
                    log.info("unacknowledged tasks recorded: %s", [r for r, _ in marked])
        except Exception:   # keep serving; the rows stay queued and are retried
            log.exception("background work failed; retrying in %s s", poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)
        since_tick += poll


def serve(app: App, host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
    server = uvicorn.Server(uvicorn.Config(create_app(app), host=host, port=port,
                                           log_level="info", proxy_headers=True,
                                           access_log=False))   # links carry tokens

    async def main() -> None:
        stop = asyncio.Event()
        work = asyncio.create_task(background(app, stop))
        try:
            await server.serve()
        finally:
            stop.set()
            await work

    asyncio.run(main())
