"""``gaita serve`` and ``gaita sweep``."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.tasks import record_unacknowledged
from gaita.cli import JsonOpt, app, current_app, emit_json, handled, out


@app.command()
@handled
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the web app (email action links); in the background, deliver the outbox every
    GAITA_MAIL_POLL_SECONDS and record unacknowledged tasks every GAITA_TICK_SECONDS."""
    from gaita.serve import serve as run

    gaita = current_app()
    out.print(f"serving on http://{host}:{port} (links use GAITA_BASE_URL={gaita.settings.base_url})",
              markup=False)
    run(gaita, host, port)


@app.command()
@handled
def sweep(as_json: JsonOpt = False) -> None:
    """One scheduler tick, for cron: records tasks whose receipt was not acknowledged in time."""
    gaita = current_app()
    marked = record_unacknowledged(gaita.db, gaita.rt)
    if as_json:
        emit_json({"unacknowledged": [{"reference": r, "task": t} for r, t in marked]})
        return
    for reference, task_id in marked:
        out.print(f"{reference}: task {task_id} not acknowledged in time", markup=False)
    out.print(f"{len(marked)} unacknowledged task(s) recorded")
