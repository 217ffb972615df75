"""Email delivery: ``DeliveryWorker.deliver()`` against raw aiosmtplib sends.

One SQLite WAL file in a temp dir and one real SMTP server, aiosmtpd's
``Controller`` on a free localhost port in this process (its own thread and
event loop), answering 250 to every message and counting them.  N ``absences``
cases are opened with ``open_case``; each queues one ``task_assigned`` email to
the school (with the new task's action links).

* ``worker``: ``asyncio.run(worker.deliver(limit=k))`` with the worker that
  ``gaita.mail.delivery_worker`` builds from the settings, from the queued
  outbox: claim (one UPDATE ... RETURNING per batch of 100), then per row
  compose (case, event and task reads, Jinja2 text + HTML, signed action links,
  MIME), ``send_message`` and mark it sent (one UPDATE, one commit); one SMTP
  connection per batch.
* ``raw`` (the baseline): the SAME messages, composed beforehand (untimed),
  sent with plain ``aiosmtplib.SMTP.send_message`` in a loop over one
  connection per block: the cost of sending alone (aiosmtplib flattening each
  message with the ``email`` package, the SMTP dialogue, and the server, which
  shares this process's CPU and GIL on both sides).

The N emails run in interleaved blocks (raw, worker, raw, ...), each block
being the same rows for both sides; the server must have received exactly N
messages from each side, and every outbox row must end ``sent``.  The worker's
claim, connect, compose and mark-sent calls are timed as well (wrapped on the
instance); what is left of its time is sending, and the loop around it.

Per-message costs, on the same rows, interleaved the same way:

* ``render``: ``Renderer().render("task_assigned", locale, ctx)``, ctx from
  ``Composer.context`` (built beforehand);
* ``compose``: ``Composer.compose(conn, row)``: recipient, DB reads, render,
  link signing, MIME;
* ``mime`` (their baseline): building the ``EmailMessage`` alone, with the same
  headers and the same pre-rendered subject, text and HTML.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from importlib.metadata import version
from itertools import pairwise
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from engine.cases import open_case
from engine.queries import actor_for
from engine.store import OUTBOX
from gaita.bootstrap import App
from gaita.demo import demo_code
from gaita.mail import delivery_worker, mail_settings
from notifications.compose import Composer, Recipient, message_id
from notifications.delivery import DeliveryWorker, SmtpSettings
from notifications.render import Rendered
from tests.conftest import make_test_app

CASE_TYPE = "absences"
USER = "koordinatore"
TEMPLATE = "task_assigned"
Log = Callable[[str], None]


class CountingHandler:
    """aiosmtpd handler: 250 to every message, counted (only its loop thread writes)."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def raw_send(smtp: SmtpSettings, messages: Sequence[EmailMessage]) -> None:
    """The baseline: one connection, ``send_message`` in a loop (as the worker connects)."""
    client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, timeout=smtp.timeout,
                             use_tls=False, start_tls=False)
    await client.connect()
    for message in messages:
        await client.send_message(message)
    await client.quit()


def build_message(mail_from: str, to: str, locale: str, rendered: Rendered, msg_id: str,
                  date: str) -> EmailMessage:
    """Just the ``EmailMessage``, as ``Composer.compose`` builds it, from ready values."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Message-ID"] = msg_id
    msg["Date"] = date
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    msg["Content-Language"] = locale
    return msg


def _blocks(n: int, rounds: int) -> list[range]:
    edges = [n * r // rounds for r in range(rounds + 1)]
    return [range(a, b) for a, b in pairwise(edges) if b > a]


def _same(a: EmailMessage, b: EmailMessage) -> bool:
    """Same headers and the same text and HTML parts (the MIME boundary is random)."""
    def view(m: EmailMessage) -> tuple[Any, ...]:
        return ([h for h in m.items() if h[0] != "Content-Type"], m.get_content_type(),
                [(p.get_content_type(), p.get_content()) for p in m.iter_parts()])
    return view(a) == view(b)


def prepare(url: str, port: int, n: int) -> tuple[App, list[dict[str, Any]]]:
    app = make_test_app(url, smtp_port=port, smtp_host="127.0.0.1")
    actor = actor_for(app.db, USER)
    school = app.rt.municipality.institutions_with_role("school")[0].code
    for i in range(n):
        open_case(app.db, app.rt, CASE_TYPE, actor, child_name=f"Bench Child {i}",
                  child_code=demo_code(i), school=school, fields={"age_group": "basic"})
    with app.db.connect() as conn:
        rows = [dict(r) for r in conn.execute(
            sa.select(OUTBOX).where(OUTBOX.c.status == "queued").order_by(OUTBOX.c.id)).mappings()]
    if len(rows) != n or {r["template"] for r in rows} != {TEMPLATE} or \
            any(r["task_id"] is None for r in rows):
        raise RuntimeError(f"expected {n} queued {TEMPLATE} emails with a task, got {len(rows)}")
    return app, rows


@dataclass
class Material:
    """Everything computed beforehand, untimed, from the queued rows."""

    composer: Composer
    rows: list[dict[str, Any]]
    tos: list[Recipient]
    ctxs: list[dict[str, Any]]
    rendered: list[Rendered]
    ids: list[str]
    date: str
    messages: list[EmailMessage]   # the raw-send baseline's input

    def bare(self, i: int) -> EmailMessage:
        to = self.tos[i]
        return build_message(self.composer.settings.mail_from, to.address, to.locale,
                             self.rendered[i], self.ids[i], self.date)


def materials(app: App, rows: list[dict[str, Any]]) -> Material:
    composer = Composer(app.rt, mail_settings(app))
    with app.db.connect() as conn:
        tos = [composer.recipient(conn, r) for r in rows]
        ctxs = [composer.context(conn, r, to) for r, to in zip(rows, tos, strict=True)]
        m = Material(composer, rows, tos, ctxs,
                     [composer.renderer.render(TEMPLATE, to.locale, c)
                      for to, c in zip(tos, ctxs, strict=True)],
                     [message_id(r, composer.settings.mail_from) for r in rows],
                     format_datetime(app.rt.clock.now()),
                     [composer.compose(conn, r) for r in rows])
    if not all(_same(m.messages[i], m.bare(i)) for i in (0, len(rows) - 1)):
        raise RuntimeError("the bare EmailMessage differs from the composed one")
    return m


def per_message(app: App, m: Material, rounds: int, log: Log) -> dict[str, float]:
    """µs per message for render, compose and the bare EmailMessage (results dropped
    at once, as the worker drops each message after sending it)."""
    renderer, composer, tos, ctxs = m.composer.renderer, m.composer, m.tos, m.ctxs
    n = len(m.rows)
    log(f"  render, compose and bare EmailMessage: {n} each, in {rounds} blocks")
    with app.db.connect() as conn:
        def mime(block: range) -> None:
            for i in block:
                m.bare(i)

        def render(block: range) -> None:
            for i in block:
                renderer.render(TEMPLATE, tos[i].locale, ctxs[i])

        def compose(block: range) -> None:
            for i in block:
                composer.compose(conn, m.rows[i])

        sides = {"mime": mime, "render": render, "compose": compose}
        spent = dict.fromkeys(sides, 0.0)
        for block in _blocks(n, rounds):
            for name, run in sides.items():
                t0 = time.perf_counter()
                run(block)
                spent[name] += time.perf_counter() - t0
    return {f"{name}_us": v / n * 1e6 for name, v in spent.items()}


class Stopwatch:
    """Wall time spent in some of the worker's steps, wrapped on the instance only
    (``perf_counter`` twice per call, well under 1 µs against milliseconds)."""

    STEPS = ("claim", "connect", "compose", "mark_sent")

    def __init__(self, worker: DeliveryWorker) -> None:
        self.spent = dict.fromkeys(self.STEPS, 0.0)
        for step, owner, name in (("claim", worker, "claim"), ("connect", worker, "_connect"),
                                  ("compose", worker.composer, "compose"),
                                  ("mark_sent", worker, "_sent")):
            setattr(owner, name, self._wrap(step, getattr(owner, name)))

    def _wrap(self, step: str, f: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(f):
            async def timed_async(*a: Any, **kw: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await f(*a, **kw)
                finally:
                    self.spent[step] += time.perf_counter() - t0
            return timed_async

        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return f(*a, **kw)
            finally:
                self.spent[step] += time.perf_counter() - t0
        return timed


def delivery(worker: DeliveryWorker, handler: CountingHandler, messages: list[EmailMessage],
             rounds: int, log: Log) -> dict[str, Any]:
    n = len(messages)
    spent, received = {"raw": 0.0, "worker": 0.0}, {"raw": 0, "worker": 0}
    sent = 0
    watch = Stopwatch(worker)
    for r, block in enumerate(_blocks(n, rounds)):
        log(f"  round {r + 1}/{rounds}: {len(block)} emails each for raw, worker")
        before = handler.count
        t0 = time.perf_counter()
        asyncio.run(raw_send(worker.smtp, messages[block.start:block.stop]))
        spent["raw"] += time.perf_counter() - t0
        received["raw"] += handler.count - before
        before = handler.count
        t0 = time.perf_counter()
        report = asyncio.run(worker.deliver(limit=len(block)))
        spent["worker"] += time.perf_counter() - t0
        received["worker"] += handler.count - before
        if report.counts() != {"sent": len(block), "retrying": 0, "failed": 0}:
            raise RuntimeError(f"worker: {report.counts()} for {len(block)} emails")
        sent += len(report.sent)
    if received != {"raw": n, "worker": n} or sent != n:
        raise RuntimeError(f"the server received {received}, the worker sent {sent}, of {n} each")
    with worker.db.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
            OUTBOX.c.status != "sent")).scalar_one()
    if left:
        raise RuntimeError(f"{left} outbox rows not sent")
    us = {name: s / n * 1e6 for name, s in spent.items()}
    steps = {step: v / n * 1e6 for step, v in watch.spent.items()}
    steps["send_and_rest"] = us["worker"] - sum(steps.values())
    return {"received": received, **{f"{k}_us": v for k, v in us.items()},
            **{f"{k}_per_s": 1e6 / v for k, v in us.items()},
            "ratio": us["worker"] / us["raw"], "batch": worker.batch,
            "worker_steps_us": steps}


def run(log: Log, *, emails: int, rounds: int) -> dict[str, Any]:
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(),
                            server_hostname="bench.invalid")
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="gaita-bench-mail-") as d:
            log(f"  opening {emails} cases (one queued {TEMPLATE} email each)")
            app, rows = prepare(f"sqlite:///{d}/mail.db", controller.port, emails)
            try:
                # The bench's own objects (rows, contexts, 1,000 composed messages) would
                # make every full garbage collection in the timed code slower: freeze them
                # (moved where the collector never looks), before and after composing.
                gc.collect()
                gc.freeze()
                log("  composing them beforehand for the raw baseline")
                m = materials(app, rows)
                worker = delivery_worker(app)
                with app.db.connect() as conn:   # compile the worker's templates, untimed
                    worker.composer.compose(conn, rows[0])
                gc.collect()
                gc.freeze()
                costs = per_message(app, m, rounds, log)
                result = delivery(worker, handler, m.messages, rounds, log)
            finally:
                gc.unfreeze()
                app.db.dispose()
    finally:
        controller.stop()
    return {"backend": "sqlite", "emails": emails, "rounds": rounds, **result, **costs,
            "ratio_render": costs["render_us"] / costs["mime_us"],
            "ratio_compose": costs["compose_us"] / costs["mime_us"],
            "versions": {p: version(p) for p in ("aiosmtplib", "aiosmtpd", "jinja2")}}
