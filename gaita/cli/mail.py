"""``gaita outbox list | deliver | retry`` and ``gaita digest send``: outgoing email."""

from __future__ import annotations

import asyncio
from typing import Annotated

import sqlalchemy as sa
import typer

from engine.store import CASE, OUTBOX
from engine.tables import OutboxStatus
from gaita.cli.common import JsonOpt, current_app, emit_json, handled, out
from gaita.mail import delivery_worker, mail_settings
from notifications.delivery import requeue
from notifications.digest import queue_digests

outbox_app = typer.Typer(help="Outgoing email: list, deliver now, retry a failed one.",
                         no_args_is_help=True)
digest_app = typer.Typer(help="Institutions' digests of their open tasks.", no_args_is_help=True)

@outbox_app.command("list")
@handled
def list_cmd(
    status: Annotated[OutboxStatus | None, typer.Option(help="Only rows with this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List outgoing emails, newest first: status, template, recipient, attempts, last error;
    a sent one also the address it went to (marked when it was the fallback address), the
    template version it was made with, and the email that carried it if sent together."""
    gaita = current_app()
    query = (sa.select(OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.template, CASE.c.reference,
                       OUTBOX.c.recipient_institution, OUTBOX.c.recipient_user,
                       OUTBOX.c.attempts, OUTBOX.c.created_at, OUTBOX.c.next_attempt_at,
                       OUTBOX.c.sent_at, OUTBOX.c.sent_to, OUTBOX.c.last_error,
                       OUTBOX.c.template_version, OUTBOX.c.fallback, OUTBOX.c.merged_into)
             .select_from(OUTBOX.outerjoin(CASE, CASE.c.id == OUTBOX.c.case_id))
             .order_by(OUTBOX.c.id.desc()).limit(limit))
    if status:
        query = query.where(OUTBOX.c.status == status)
    with gaita.db.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        to = r["recipient_institution"] or f"user:{r['recipient_user']}"
        sent = r["status"] == OutboxStatus.SENT
        when = r["sent_at"] if sent else r["next_attempt_at"]
        line = (f"{r['id']:>6}  {r['status']:<7} {r['template']:<16} {r['reference'] or '-':<16} "
                f"{to:<28} tries {r['attempts']}  {when:%Y-%m-%d %H:%M}Z")
        if sent:
            line += f"  to {r['sent_to']}{' (fallback)' if r['fallback'] else ''}"
            line += f"  {r['template_version'] or '-'}"
            if r["merged_into"]:
                line += f"  with #{r['merged_into']}"
        if r["last_error"] and not sent:
            line += f"  {r['last_error']}"
        out.print(line, markup=False)
    if not rows:
        out.print("no emails")


@outbox_app.command("deliver")
@handled
def deliver_cmd(
    limit: Annotated[int | None, typer.Option(help="Send at most this many.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send the queued emails that are due now (GAITA_SMTP_*), then exit."""
    gaita = current_app()
    report = asyncio.run(delivery_worker(gaita).deliver(limit=limit))
    counts = report.counts()
    if as_json:
        emit_json(counts)
        return
    out.print(f"sent {counts['sent']}, to retry {counts['retrying']}, failed {counts['failed']}")


@outbox_app.command("retry")
@handled
def retry_cmd(row_id: Annotated[int, typer.Argument(metavar="ID", help="The outbox row.")]) -> None:
    """Queue a failed email again, to be sent now with a fresh retry window (e.g. after
    fixing an address in the config; restart `gaita serve` to make it read the change)."""
    gaita = current_app()
    requeue(gaita.db, gaita.rt, row_id)
    out.print(f"outbox {row_id}: queued again; `gaita outbox deliver` sends it")


@digest_app.command("send")
@handled
def digest_send(as_json: JsonOpt = False) -> None:
    """Queue each institution's digest (open, due-soon, overdue tasks) and send the queue."""
    gaita = current_app()
    queued = queue_digests(gaita.db, gaita.rt, mail_settings(gaita).base_url)
    report = asyncio.run(delivery_worker(gaita).deliver())
    if as_json:
        emit_json({"digests": [q.__dict__ for q in queued], **report.counts()})
        return
    for q in queued:
        out.print(f"{q.institution}: {q.tasks} tasks, {q.recipients} recipient(s)", markup=False)
    counts = report.counts()
    out.print(f"sent {counts['sent']}, to retry {counts['retrying']}, failed {counts['failed']}")
