"""``gaita serve`` and ``gaita worker``: the processes of an installation.

One process by default (``make run``): the web app and, beside it, the
scheduler (``gaita.scheduler``: the tick, email delivery, the daily digests).
Larger installations split them, all against one PostgreSQL database:

* ``GAITA_SERVE_SCHEDULER=false gaita serve --workers 4``: web processes only
  (uvicorn starts the workers; each builds its app from the environment through
  ``gaita.web.asgi``);
* ``gaita worker`` (one or more): the scheduler alone.  Every job claims its work
  in the database, so several workers never do anything twice.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import uvicorn

from gaita.bootstrap import App
from gaita.scheduler import start_scheduler
from gaita.web.app import create_app

log = logging.getLogger("gaita.serve")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")


def serve(app: App, host: str, port: int, *, workers: int = 1, scheduler: bool = True) -> None:
    _logging()
    # access_log off: action links carry tokens in their paths
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info",
                               "proxy_headers": True, "access_log": False}
    jobs = start_scheduler(app) if scheduler else None
    try:
        if workers > 1:   # separate processes: each builds its app from the environment
            uvicorn.run("gaita.web.asgi:create", factory=True, workers=workers, **options)
        else:
            uvicorn.Server(uvicorn.Config(create_app(app), **options)).run()
    finally:
        if jobs is not None:
            jobs.shutdown(wait=True)


def work(app: App) -> None:
    """Run the scheduler alone until SIGINT or SIGTERM."""
    _logging()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    jobs = start_scheduler(app)
    log.info("worker running: tick, delivery and digests (stop with Ctrl-C)")
    try:
        stop.wait()
    finally:
        jobs.shutdown(wait=True)
