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
  institution.  A 5xx from an institution's address is first tried on the
  institution's ``fallback_email``, if it has one (the row records ``fallback``
  and the primary's refusal; ``sent_to`` says where it went).
* **Timing.** ``notifications.timing`` decides per claimed row whether it goes
  now (same-day legal duties always do) or waits (for working hours, or for the
  other notices to the same recipient it is sent with); a row that waits goes
  back to the queue with its ``next_attempt_at`` at its time.  Rows sent
  together are one email with the first row's Message-ID; each row is recorded
  ``sent`` (the others with ``merged_into`` that row) with the template version.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

import aiosmtplib
import sqlalchemy as sa

from engine.errors import ConfigError, NotFound, NotPermitted, StaleCase
from engine.events import EventKind, append_event
from engine.outbox import tell_coordinating
from engine.runtime import SYSTEM, Runtime
from engine.store import OUTBOX, load_case_row, reference_of
from engine.tables import OutboxStatus
from notifications.catalogue import REMINDER_TEMPLATES
from notifications.compose import TEMPLATE_HEADER, Composer, MailSettings, RecipientError
from notifications.render import TemplateError, TemplateMissing
from notifications.timing import GroupKey, timing

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
            report.add(await self._send_batch(token, self._plan(token, rows)))
        return report

    def claim(self, limit: int) -> tuple[str, list[dict[str, Any]]]:
        token = secrets.token_hex(8)
        now = self.rt.clock.now()
        with self.db.begin() as conn:
            rows = conn.execute(self._claim, {
                "b_now": now, "b_limit": limit, "claim_token": token,
                "next_attempt_at": now + self.lease}).mappings().all()
        return token, sorted((dict(r) for r in rows), key=lambda r: r["id"])

    # -- what goes now, and with what (notifications.timing) --------------------------

    def _plan(self, token: str, rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """The claimed rows as emails to send now (each a list of rows, first the one whose
        Message-ID it carries); rows not yet due go back to the queue until their time,
        and the waiting rows of a group sent now join it."""
        now = self.rt.clock.now()
        with self.db.connect() as conn:
            timings = {r["id"]: timing(conn, self.rt, r, now) for r in rows}
        ready = {t.key for t in timings.values() if t.release_at <= now}
        groups: dict[GroupKey, list[dict[str, Any]]] = {}
        held = []
        for row in rows:
            t = timings[row["id"]]
            if t.key in ready:
                groups.setdefault(t.key, []).append(row)
            else:
                held.append((row, t.release_at))
        if held:
            self._hold(token, held)
        emails = []
        for key, members in groups.items():
            if key[0] != "row":
                members += self._siblings(token, key, {m["id"] for m in members}, now)
            emails.append(sorted(members, key=lambda r: r["id"]))
        return emails

    def _hold(self, token: str, held: Sequence[tuple[Mapping[str, Any], datetime]]) -> None:
        """Back to the queue until ``release_at``; the claim did not count as an attempt."""
        with self.db.begin() as conn:
            for row, release_at in held:
                conn.execute(_owned(row, token).values(
                    next_attempt_at=release_at, claim_token=None, attempts=row["attempts"] - 1))

    def _siblings(self, token: str, key: GroupKey, have: set[int],
                  now: datetime) -> list[dict[str, Any]]:
        """Claim the other queued rows of ``key``'s group that no worker holds now: the
        notices held back to wait for each other (``timing``)."""
        institution, user, _to_head = key[-3:]
        free = sa.or_(OUTBOX.c.claim_token.is_(None), OUTBOX.c.next_attempt_at <= now)
        query = sa.select(OUTBOX).where(
            OUTBOX.c.status == OutboxStatus.QUEUED, OUTBOX.c.id.not_in(have), free,
            OUTBOX.c.recipient_institution.is_(None) if institution is None
            else OUTBOX.c.recipient_institution == institution,
            OUTBOX.c.recipient_user.is_(None) if user is None
            else OUTBOX.c.recipient_user == user)
        query = (query.where(OUTBOX.c.case_id == key[1]) if key[0] == "case"
                 else query.where(OUTBOX.c.template.in_(REMINDER_TEMPLATES)))
        with self.db.begin() as conn:
            wanted = [r["id"] for r in conn.execute(query).mappings()
                      if timing(conn, self.rt, dict(r), now).key == key]
            if not wanted:
                return []
            claimed = conn.execute(
                sa.update(OUTBOX).where(OUTBOX.c.id.in_(wanted),
                                        OUTBOX.c.status == OutboxStatus.QUEUED, free)
                .values(claim_token=token, next_attempt_at=now + self.lease,
                        attempts=OUTBOX.c.attempts + 1)
                .returning(*OUTBOX.c)).mappings().all()
        return [dict(r) for r in claimed]

    # -- sending -----------------------------------------------------------------------

    async def _send_batch(self, token: str,
                          emails: Sequence[list[dict[str, Any]]]) -> DeliveryReport:
        report = DeliveryReport()
        client: aiosmtplib.SMTP | None = None
        down: str | None = None   # the server could not be reached: the batch waits
        held = {r["id"] for rows in emails for r in rows}
        renewed = self.rt.clock.now()
        try:
            for rows in emails:
                if self.rt.clock.now() - renewed >= self.lease / 3:
                    held, renewed = self._renew(token, held), self.rt.clock.now()
                rows = [r for r in rows if r["id"] in held]
                if not rows:
                    continue   # the lease ran out and another worker has the rows
                held.difference_update(r["id"] for r in rows)
                try:
                    with self.db.connect() as conn:
                        message = self.composer.compose_many(conn, rows)
                except (RecipientError, ConfigError, TemplateMissing, TemplateError) as exc:
                    self._fail_all(token, rows, str(exc), report)
                    continue
                except Exception as exc:
                    log.exception("outbox %s: the email could not be built", rows[0]["id"])
                    self._fail_all(token, rows, f"the email could not be built: "
                                                f"{type(exc).__name__}: {exc}", report)
                    continue
                if down is None and (client is None or not client.is_connected):
                    try:
                        client = await self._connect()
                    except Exception as exc:
                        # One timeout per batch, not one per row: an unreachable server
                        # must not hold the batch past its lease.
                        down = str(_classify(exc))
                if down is not None:
                    for row in rows:
                        self._later(token, row, down, report)
                    continue
                assert client is not None
                outcome = await _attempt(client, message)
                fallback = self._fallback(rows) if isinstance(outcome, Permanent) else None
                if fallback is not None:
                    # the primary address refused it for good: the institution's fallback
                    self._use_fallback(token, rows, message["To"], str(outcome))
                    del message["To"]
                    message["To"] = fallback
                    if not client.is_connected:
                        await _drop(client)
                        client = await self._connect()
                    outcome = await _attempt(client, message)
                if isinstance(outcome, Permanent):
                    self._fail_all(token, rows, str(outcome), report)
                elif outcome is not None:
                    await _drop(client)   # a fresh connection for the next email
                    client = None
                    for row in rows:
                        self._later(token, row, str(outcome), report)
                else:
                    report.sent += self._sent(token, rows, message)
        finally:
            await _drop(client)
        return report

    def _fail_all(self, token: str, rows: Sequence[Mapping[str, Any]], error: str,
                  report: DeliveryReport) -> None:
        """Fail the rows of one email: each gets its event, the coordinator one notice."""
        for i, row in enumerate(rows):
            self._fail(token, row, error, notify=i == 0)
            report.failed.append(row["id"])

    def _fallback(self, rows: Sequence[Mapping[str, Any]]) -> str | None:
        """The institution's fallback address, if it has one and it was not tried yet."""
        lead = rows[0]
        code = lead["recipient_institution"]
        if code is None or lead["fallback"] or lead["payload"].get("external") is not None:
            return None
        try:
            inst = self.rt.municipality.institution(code)
        except ConfigError:
            return None
        return inst.fallback_email or None

    def _use_fallback(self, token: str, rows: list[dict[str, Any]], primary: str,
                      error: str) -> None:
        """Record, before trying it, that these rows go to the fallback address (a retry
        after a crash or a 4xx goes there too) and why."""
        note = f"{primary}: {error}"
        with self.db.begin() as conn:
            for row in rows:
                conn.execute(_owned(row, token).values(fallback=True, last_error=note))
                row["fallback"] = True
                row["last_error"] = note

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

    def _sent(self, token: str, rows: Sequence[Mapping[str, Any]],
              message: EmailMessage) -> list[int]:
        """Record the delivery of every row the email carried: the address it went to,
        the template version, and (for all but the first) the row whose Message-ID it
        carries.  The rows whose claim was lost (the lease ran out and another worker
        took them: it will resend under the same Message-ID) are left out."""
        lead, recorded = rows[0], []
        with self.db.begin() as conn:
            for row in rows:
                values: dict[str, Any] = {
                    "status": OutboxStatus.SENT, "sent_at": self.rt.clock.now(),
                    "sent_to": message["To"], "claim_token": None,
                    "template_version": message[TEMPLATE_HEADER],
                    "merged_into": None if row is lead else lead["id"]}
                if not row["fallback"]:
                    values["last_error"] = None   # a fallback's row keeps why it was used
                if conn.execute(_owned(row, token).values(**values)).rowcount:
                    recorded.append(row["id"])
                else:
                    log.warning("outbox %s: sent, but the claim had expired", row["id"])
        return recorded

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

    def _fail(self, token: str, row: Mapping[str, Any], error: str, *,
              notify: bool = True) -> None:
        """Dead letter: failed row, an event on the case, and the coordinator told.
        The failed row and the notice are recorded even when the event cannot be."""
        log.warning("outbox %s failed: %s", row["id"], error)
        failed = _owned(row, token).values(status=OutboxStatus.FAILED, claim_token=None,
                                           last_error=error)
        for _ in range(3):   # a user's change to the case may race the event; retry
            try:
                with self.db.begin() as conn:
                    if conn.execute(failed).rowcount:   # else: the claim was lost
                        self._record_failure(conn, row, error, on_case=True, notify=notify)
                return
            except StaleCase:
                continue
            except Exception:
                log.exception("outbox %s: the failure could not be recorded on the case",
                              row["id"])
                break
        with self.db.begin() as conn:
            if conn.execute(failed).rowcount:
                self._record_failure(conn, row, error, on_case=False, notify=notify)

    def _record_failure(self, conn: sa.Connection, row: Mapping[str, Any], error: str, *,
                        on_case: bool, notify: bool = True) -> None:
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
        if row["template"] == FAILURE_TEMPLATE or not notify:
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
            claim_token=None, fallback=False))


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


async def _attempt(client: aiosmtplib.SMTP, message: EmailMessage) -> Permanent | Transient | None:
    """Send; None when the server took it, else how it refused."""
    try:
        await client.send_message(message)
    except Exception as exc:
        return _classify(exc)
    return None


async def _drop(client: aiosmtplib.SMTP | None) -> None:
    if client is not None and client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
