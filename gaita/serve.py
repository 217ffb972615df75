"""``gaita serve``: the web app and, in the same process, the scheduler
(``gaita.scheduler``: the tick, email delivery and the daily digests)."""

from __future__ import annotations

import logging

import uvicorn

from gaita.bootstrap import App
from gaita.scheduler import start_scheduler
from gaita.web.app import create_app


def serve(app: App, host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
    server = uvicorn.Server(uvicorn.Config(create_app(app), host=host, port=port,
                                           log_level="info", proxy_headers=True,
                                           access_log=False))   # links carry tokens
    scheduler = start_scheduler(app)
    try:
        server.run()
    finally:
        scheduler.shutdown(wait=True)
