"""``gaita init``: create or upgrade the database and load the municipality config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gaita.cli.common import app, handled, out, settings


@app.command()
@handled
def init(
    config: Annotated[Path | None, typer.Option(
        help="Municipality config folder (default GAITA_CONFIG). Other commands read "
             "GAITA_CONFIG, so set it to the same folder.")] = None,
    demo: Annotated[bool, typer.Option(
        help="Add demo users for every role and demo cases.")] = False,
) -> None:
    """Create or upgrade the database and load the municipality config (idempotent)."""
    from gaita.bootstrap import build_app
    from gaita.dbsetup import load_institutions, migrate
    from gaita.demo import load_demo

    s = settings(**({"config": config} if config else {}))
    gaita = build_app(s, create=True)
    migrate(gaita.db)
    n = load_institutions(gaita.db, gaita.rt.municipality)
    out.print(f"database ready: {gaita.db.url.render_as_string(hide_password=True)}")
    out.print(f"config loaded: {s.config} ({n} institutions, "
              f"{len(gaita.rt.registry.case_types)} case types)")
    if demo:
        users, cases = load_demo(gaita.db, gaita.rt)
        out.print(f"demo: {users} users added, {cases} cases added")
