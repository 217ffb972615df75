"""The delivery worker: claims outbox rows with a lease and sends them over SMTP.

At-least-once, with no duplicates under different identities:

* **Claim.** One ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` moves
  the claimed rows' ``next_attempt_at`` forward by the lease and stamps them
  with this run's ``claim_token``.  On PostgreSQL the subquery takes
  ``FOR UPDATE SKIP LOCKED``, so concurrent workers claim disjoint rows; on
  SQLite the single statement holds the database's one write lock.  A worker
  that dies mid-send leaves its rows queued; they are claimed again when the
  lease runs out and resent with the same ``Message-ID``.
* **Outcome.** Only the holder of the claim may record the outcome.  2xx:
  ``sent``.  4xx, a dropped connection, a timeout or a refusal while
  connecting (such as a wrong login): retried with exponential backoff and
  jitter until ``give_up_after`` (default 4 days).
  5xx, or no usable recipient address: ``failed`` (a dead letter), with an
  event on the case and a ``delivery_failed`` email to the coordinating
  institution.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import aiosmtplib
import sqlalchemy as sa

from engine.errors import ConfigError, NotFound, NotPermitted, StaleCase
from engine.events import EventKind, append_event
from engine.outbox import tell_coordinating
from engine.runtime import SYSTEM, Runtime
from engine.store import OUTBOX, load_case_row, reference_of
from engine.tables import OutboxStatus
from notifications.compose import Composer, MailSettings, RecipientError
from notifications.render import TemplateError, TemplateMissing

log = logging.getLogger(__name__)

FAILURE_TEMPLATE = "delivery_failed"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: Literal["none", "starttls", "tls"] = "none"
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = None   # default: the system's trust store


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff ``first * factor**(attempt-1)``, capped, ±``jitter``; give up after
    ``give_up_after`` from the row's ``queued_at``.  The defaults retry for 4 days."""

    first: timedelta = timedelta(minutes=1)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=6)
    jitter: float = 0.2
    give_up_after: timedelta = timedelta(days=4)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        base = min(self.first * self.factor ** max(attempt - 1, 0), self.cap)
        return base * (1 + rng.uniform(-self.jitter, self.jitter))


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"sent": len(self.sent), "retrying": len(self.retrying), "failed": len(self.failed)}

    @property
    def total(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed


class Permanent(Exception):
    """The row cannot be delivered (5xx, no address): fail it."""


class Transient(Exception):
    """Try again later (4xx, connection trouble)."""


class DeliveryWorker:
    def __init__(self, db: sa.Engine, rt: Runtime, smtp: SmtpSettings, mail: MailSettings, *,
                 retry: RetryPolicy | None = None, lease: timedelta = timedelta(minutes=5),
                 batch: int = 100, composer: Composer | None = None,
                 rng: random.Random | None = None) -> None:
        self.db, self.rt, self.smtp = db, rt, smtp
        self.retry = retry or RetryPolicy()
        self.lease, self.batch = lease, batch
        self.composer = composer or Composer(rt, mail)
        self.rng = rng or random.Random()   # noqa: S311 - retry jitter, not a secret
        self._claim = _claim_statement(db.dialect.name)

    async def deliver(self, *, limit: int | None = None) -> DeliveryReport:
        """Send everything due now (at most ``limit`` rows), batch by batch."""
        report = DeliveryReport()
        while limit is None or report.total < limit:
            size = self.batch if limit is None else min(self.batch, limit - report.total)
            token, rows = self.claim(size)
            if not rows:
                break
            report.add(await self._send_batch(token, rows))
        return report

    def claim(self, limit: int) -> tuple[str, list[dict[str, Any]]]:
        token = secrets.token_hex(8)
        now = self.rt.clock.now()
        with self.db.begin() as conn:
            rows = conn.execute(self._claim, {
                "b_now": now, "b_limit": limit, "claim_token": token,
                "next_attempt_at": now + self.lease}).mappings().all()
        return token, sorted((dict(r) for r in rows), key=lambda r: r["id"])

    async def _send_batch(self, token: str, rows: Sequence[dict[str, Any]]) -> DeliveryReport:
        report = DeliveryReport()
        client: aiosmtplib.SMTP | None = None
        down: str | None = None   # the server could not be reached: the batch waits
        held = {r["id"] for r in rows}
        renewed = self.rt.clock.now()
        try:
            for row in rows:
                if self.rt.clock.now() - renewed >= self.lease / 3:
                    held, renewed = self._renew(token, held), self.rt.clock.now()
                if row["id"] not in held:
                    continue   # the lease ran out and another worker has the row
                held.discard(row["id"])
                try:
                    with self.db.connect() as conn:
                        message = self.composer.compose(conn, row)
                except (RecipientError, ConfigError, TemplateMissing, TemplateError) as exc:
                    self._fail(token, row, str(exc))
                    report.failed.append(row["id"])
                    continue
                except Exception as exc:
                    log.exception("outbox %s: the email could not be built", row["id"])
                    self._fail(token, row, f"the email could not be built: "
                                           f"{type(exc).__name__}: {exc}")
                    report.failed.append(row["id"])
                    continue
                if down is None and (client is None or not client.is_connected):
                    try:
                        client = await self._connect()
                    except Exception as exc:
                        # One timeout per batch, not one per row: an unreachable server
                        # must not hold the batch past its lease.
                        down = str(_classify(exc))
                if down is not None:
                    self._later(token, row, down, report)
                    continue
                assert client is not None
                try:
                    await client.send_message(message)
                except Exception as exc:
                    outcome = _classify(exc)
                    if isinstance(outcome, Permanent):
                        self._fail(token, row, str(outcome))
                        report.failed.append(row["id"])
                    else:
                        await _drop(client)   # a fresh connection for the next email
                        client = None
                        self._later(token, row, str(outcome), report)
                    continue
                if self._sent(token, row, message["To"]):
                    report.sent.append(row["id"])
        finally:
            await _drop(client)
        return report

    def _renew(self, token: str, ids: set[int]) -> set[int]:
        """Extend the lease on the batch's unsent rows; the ids still held."""
        if not ids:
            return ids
        with self.db.begin() as conn:
            return set(conn.execute(
                sa.update(OUTBOX).where(OUTBOX.c.id.in_(ids), OUTBOX.c.claim_token == token)
                .values(next_attempt_at=self.rt.clock.now() + self.lease)
                .returning(OUTBOX.c.id)).scalars())

    def _later(self, token: str, row: Mapping[str, Any], error: str,
               report: DeliveryReport) -> None:
        if self._retry(token, row, error):
            report.retrying.append(row["id"])
        else:
            report.failed.append(row["id"])

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.smtp
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout, use_tls=s.tls == "tls",
            start_tls=s.tls == "starttls", username=s.user, password=s.password,
            tls_context=s.tls_context)
        try:
            await client.connect()
        except aiosmtplib.SMTPResponseException as exc:
            # A refusal while opening the session (greeting, STARTTLS, login) is about
            # this server's settings, not about the email: retry it, never dead-letter.
            raise Transient(f"{exc.code} {exc.message} (while connecting to "
                            f"{s.host}:{s.port})") from exc
        return client

    # -- outcomes: each only by the holder of the claim -------------------------------

    def _sent(self, token: str, row: Mapping[str, Any], address: str) -> bool:
        """Record the delivery; False if the claim was lost (the lease ran out and another
        worker took the row: it will resend under the same Message-ID)."""
        with self.db.begin() as conn:
            held = conn.execute(_owned(row, token).values(
                status=OutboxStatus.SENT, sent_at=self.rt.clock.now(), sent_to=address,
                claim_token=None,
                last_error=None)).rowcount
        if not held:
            log.warning("outbox %s: sent, but the claim had expired", row["id"])
        return bool(held)

    def _retry(self, token: str, row: Mapping[str, Any], error: str) -> bool:
        """Schedule the next attempt; False (and failed) once the retry window is over."""
        now = self.rt.clock.now()
        if now - row["queued_at"] >= self.retry.give_up_after:
            self._fail(token, row, f"gave up after {row['attempts']} attempts: {error}")
            return False
        with self.db.begin() as conn:
            held = conn.execute(_owned(row, token).values(
                next_attempt_at=now + self.retry.delay(row["attempts"], self.rng),
                claim_token=None, last_error=error)).rowcount
        if held:
            log.info("outbox %s: will retry (%s)", row["id"], error)
        return True

    def _fail(self, token: str, row: Mapping[str, Any], error: str) -> None:
        """Dead letter: failed row, an event on the case, and the coordinator told.
        The failed row and the notice are recorded even when the event cannot be."""
        log.warning("outbox %s failed: %s", row["id"], error)
        failed = _owned(row, token).values(status=OutboxStatus.FAILED, claim_token=None,
                                           last_error=error)
        for _ in range(3):   # a user's change to the case may race the event; retry
            try:
                with self.db.begin() as conn:
                    if conn.execute(failed).rowcount:   # else: the claim was lost
                        self._record_failure(conn, row, error, on_case=True)
                return
            except StaleCase:
                continue
            except Exception:
                log.exception("outbox %s: the failure could not be recorded on the case",
                              row["id"])
                break
        with self.db.begin() as conn:
            if conn.execute(failed).rowcount:
                self._record_failure(conn, row, error, on_case=False)

    def _record_failure(self, conn: sa.Connection, row: Mapping[str, Any], error: str, *,
                        on_case: bool) -> None:
        now = self.rt.clock.now()
        case, event_id = None, None
        recipient = row["recipient_institution"] or row["recipient_user"] or ""
        if not on_case and "reference" in row["payload"]:
            error = f"{error} (case {row['payload']['reference']})"
        if on_case and row["case_id"] is not None:
            case = load_case_row(conn, reference_of(conn, row["case_id"]))
            # a case whose declaration is gone (NotFound) takes no event: the notice then
            # names it in its text instead of being about it (and failing in turn)
            self.rt.registry.get(case["case_type"], case["definition_version"])
            event_id = append_event(conn, case, SYSTEM, now, kind=EventKind.MAIL_FAILED, payload={
                "outbox": row["id"], "template": row["template"], "recipient": recipient,
                "error": error})
        if row["template"] == FAILURE_TEMPLATE:
            return   # never a failure notice about a failure notice
        name = recipient
        if row["recipient_institution"]:
            with contextlib.suppress(ConfigError):
                name = self.rt.municipality.institution(recipient).name.lv
        tell_coordinating(conn, self.rt, now, FAILURE_TEMPLATE, case=case, event_id=event_id,
                          extra={"failed_template": row["template"], "failed_recipient": name,
                                 "error": error})


def requeue(db: sa.Engine, rt: Runtime, outbox_id: int) -> None:
    """Queue a failed email again, to be sent now with a fresh retry window."""
    now = rt.clock.now()
    with db.begin() as conn:
        status = conn.execute(sa.select(OUTBOX.c.status).where(OUTBOX.c.id == outbox_id)).scalar()
        if status is None:
            raise NotFound("outbox.not_found", outbox=outbox_id)
        if status != OutboxStatus.FAILED:
            raise NotPermitted("outbox.not_failed", outbox=outbox_id, status=status)
        conn.execute(sa.update(OUTBOX).where(OUTBOX.c.id == outbox_id).values(
            status=OutboxStatus.QUEUED, queued_at=now, next_attempt_at=now, attempts=0,
            claim_token=None))


def _claim_statement(dialect: str) -> sa.Update:
    due = (sa.select(OUTBOX.c.id)
           .where(OUTBOX.c.status == OutboxStatus.QUEUED,
                  OUTBOX.c.next_attempt_at <= sa.bindparam("b_now"))
           .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
           .limit(sa.bindparam("b_limit")))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return (sa.update(OUTBOX).where(OUTBOX.c.id.in_(due.scalar_subquery()))
            .values(attempts=OUTBOX.c.attempts + 1).returning(*OUTBOX.c))


def _owned(row: Mapping[str, Any], token: str) -> sa.Update:
    return sa.update(OUTBOX).where(OUTBOX.c.id == row["id"], OUTBOX.c.claim_token == token)


def _classify(exc: BaseException) -> Permanent | Transient:
    """5xx is permanent; 4xx, disconnects, timeouts and refused connections are not."""
    if isinstance(exc, Transient):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return Permanent(text) if all(c >= 500 for c in codes) else Transient(text)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
        return Permanent(text) if exc.code >= 500 else Transient(text)
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return Transient(f"{type(exc).__name__}: {exc}")
    raise exc


async def _drop(client: aiosmtplib.SMTP | None) -> None:
    if client is not None and client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
