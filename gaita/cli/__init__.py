"""The ``gaita`` command line (Typer + Rich).  The contract is DESIGN.md §7.

One module per command group; ``common`` holds what they share (the ``app``, the
global options, the exit codes).  Importing a module registers its commands; the
groups are added here, in the order ``gaita --help`` lists them.
"""

from __future__ import annotations

from gaita.cli import calendar, cases, demo, group, init, mail, pause, serve, users, workflows  # noqa: F401 - their commands register on import
from gaita.cli.common import app, case_app

__all__ = ["app", "main"]

app.add_typer(workflows.workflows_app, name="workflows")
app.add_typer(case_app, name="case")            # cases, pause
app.add_typer(calendar.calendar_app, name="calendar")
app.add_typer(group.escalations_app, name="escalations")
app.add_typer(group.meeting_app, name="meeting")
app.add_typer(mail.outbox_app, name="outbox")
app.add_typer(mail.digest_app, name="digest")
app.add_typer(users.user_app, name="user")
app.add_typer(users.token_app, name="token")
app.add_typer(demo.demo_app, name="demo")


def main() -> None:
    app(prog_name="gaita")
