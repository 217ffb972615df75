"""The delivery worker against a real SMTP server (aiosmtpd on localhost), no mocks.

The server answers each message as a test scripts it (250, 421, 550, a dropped
connection, no answer at all) and records everything that arrives.  Time passes
on the app's ``FixedClock``: backoff delays and leases are skipped, never slept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from engine.cases import open_case
from engine.clock import FixedClock
from engine.events import verify_chain
from engine.runtime import SYSTEM, Actor
from engine.tables import Case, CaseEvent, Outbox
from engine.yamlio import load_yaml
from gaita.bootstrap import App, build_app
from gaita.demo import demo_code
from gaita.mail import delivery_worker, mail_settings
from gaita.settings import ROOT
from notifications.compose import message_id
from notifications.delivery import DeliveryReport, DeliveryWorker, SmtpSettings
from tests.conftest import make_test_app
from tests.notifications.smtp import (
    BLOCK,
    DROP,
    NO_MAILBOX,
    OK,
    TRY_LATER,
    Received,
    SmtpServer,
)

OUTBOX, EVENT = Outbox.__table__, CaseEvent.__table__
JELGAVA = ROOT / "config" / "jelgava"
SCHOOL = "jelgavas-4-vsk"
SCHOOL_NAME = "Jelgavas 4. vidusskola"
COORDINATING = "jip"
CHILD_NAME = "Jānis Bērziņš"
CODE = "120514-21234"
COORDINATOR = Actor("koordinatore", "coordinator", "jip")


def configured_email(code: str, config: Path = JELGAVA) -> str:
    """An institution's address, read from the config file itself."""
    entry = next(i for i in load_yaml(config / "institutions.yaml") if i["code"] == code)
    return str(entry["email"])


SCHOOL_EMAIL = configured_email(SCHOOL)
COORDINATING_EMAIL = configured_email(COORDINATING)


# -- fixtures and helpers ------------------------------------------------------------

def open_absence(app: App, school: str = SCHOOL) -> str:
    """The first case is CODE's; each further one is another child's (a second absence
    case for the same child would also go to the cooperation group: engine.group)."""
    with app.db.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(Case.__table__)).scalar_one()
    return open_case(app.db, app.rt, "absences", COORDINATOR, child_name=CHILD_NAME,
                     child_code=CODE if n == 0 else demo_code(n), school=school,
                     fields={"age_group": "basic"}).reference


def worker(app: App, **kw: Any) -> DeliveryWorker:
    return delivery_worker(app, rng=random.Random(0), **kw)


def deliver(app: App, **kw: Any) -> DeliveryReport:
    return asyncio.run(worker(app).deliver(**kw))


def outbox(app: App) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)).mappings()]


def row(app: App, outbox_id: int) -> dict[str, Any]:
    return next(r for r in outbox(app) if r["id"] == outbox_id)


def events(app: App, kind: str) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(EVENT).where(EVENT.c.kind == kind).order_by(EVENT.c.id)).mappings()]


def texts(received: Received) -> tuple[str, str]:
    """The decoded plain-text and HTML bodies."""
    msg = received.message
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def one_sent(app: App) -> dict[str, Any]:
    rows = outbox(app)
    assert len(rows) == 1, rows
    return rows[0]


# -- 1. the happy path ---------------------------------------------------------------

def test_a_queued_email_is_delivered_once_with_latvian_text_and_no_child_data(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    reference = open_absence(app)
    queued = one_sent(app)
    assert (queued["template"], queued["status"], queued["task_id"] is not None) == (
        "task_assigned", "queued", True)

    report = deliver(app)

    assert report.counts() == {"sent": 1, "retrying": 0, "failed": 0}
    sent = row(app, queued["id"])
    assert (sent["status"], sent["sent_to"], sent["sent_at"], sent["attempts"]) == (
        "sent", SCHOOL_EMAIL, clock.now(), 1)
    assert (sent["last_error"], sent["claim_token"]) == (None, None)

    [got] = smtp.received
    assert got.accepted
    assert got.rcpt_tos == (SCHOOL_EMAIL,)
    assert got.mail_from == app.settings.mail_from
    msg = got.message
    assert msg["To"] == SCHOOL_EMAIL
    assert msg["From"] == app.settings.mail_from
    assert msg["Message-ID"] == message_id(sent, app.settings.mail_from)
    # The subject travels as RFC 2047 encoded-words and decodes to Latvian.
    assert b"=?utf-8?" in got.raw.lower()
    subject = str(msg["Subject"])
    assert "lietā" in subject and reference in subject and "Sazināties ar vecākiem" in subject
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert {p.get_content_charset() for p in parts.values()} == {"utf-8"}
    plain, html = texts(got)
    for body in (plain, html):
        assert "Sazināties ar vecākiem" in body
        assert reference in body
        assert f"{app.settings.base_url}/link/acknowledge/" in body
        assert SCHOOL_NAME in body
    # Nothing about the child, in any encoding.
    decoded = "\n".join([*(f"{k}: {v}" for k, v in msg.items()), plain, html])
    for secret in (CHILD_NAME, "Jānis", "Bērziņš", CODE, CODE.replace("-", "")):
        assert secret not in decoded
        assert secret.encode() not in got.raw
    assert b"J=C4=81nis" not in got.raw and b"B=C4=93rzi" not in got.raw

    assert deliver(app).total == 0          # nothing is sent twice
    assert len(smtp.received) == 1


# -- 2. 421, then success --------------------------------------------------------------

def test_a_4xx_answer_is_retried_after_the_backoff_and_then_delivered(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    open_absence(app)
    oid = one_sent(app)["id"]
    smtp.script(TRY_LATER)
    start = clock.now()

    report = deliver(app)

    assert report.counts() == {"sent": 0, "retrying": 1, "failed": 0}
    waiting = row(app, oid)
    assert (waiting["status"], waiting["attempts"], waiting["claim_token"]) == ("queued", 1, None)
    assert "421" in waiting["last_error"] and "try later" in waiting["last_error"]
    first = timedelta(seconds=app.settings.mail_retry_first_seconds)
    assert start + first * 0.8 <= waiting["next_attempt_at"] <= start + first * 1.2

    clock.set(waiting["next_attempt_at"] - timedelta(seconds=1))
    assert deliver(app).total == 0          # not before the delay
    assert len(smtp.received) == 1

    clock.set(waiting["next_attempt_at"])
    assert deliver(app).sent == [oid]
    sent = row(app, oid)
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 2, None)
    assert [r.answer for r in smtp.received] == [TRY_LATER, OK]
    assert len(smtp.accepted) == 1
    assert {r.message_id for r in smtp.received} == {message_id(sent, app.settings.mail_from)}


# -- 3. 550: a dead letter, an event, the coordinator told -----------------------------

def test_a_5xx_answer_fails_the_email_records_it_on_the_case_and_tells_the_coordinator(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    reference = open_absence(app)
    oid = one_sent(app)["id"]
    smtp.answer = lambda env: NO_MAILBOX if SCHOOL_EMAIL in env.rcpt_tos else OK

    report = deliver(app, limit=1)

    assert report.failed == [oid]
    failed = row(app, oid)
    assert failed["status"] == "failed" and "550" in failed["last_error"]
    [event] = events(app, "mail_failed")
    assert event["actor"] == SYSTEM.username
    assert event["payload"]["outbox"] == oid
    assert event["payload"]["recipient"] == SCHOOL
    assert "550 5.1.1 mailbox unavailable" in event["payload"]["error"]
    notices = [r for r in outbox(app) if r["id"] != oid]
    assert [(n["template"], n["recipient_institution"], n["status"], n["case_id"])
            for n in notices] == [("delivery_failed", COORDINATING, "queued", failed["case_id"])]
    with app.db.connect() as conn:
        assert verify_chain(conn, failed["case_id"]) == []

    assert deliver(app).sent == [notices[0]["id"]]

    notice = [r for r in smtp.accepted if r.rcpt_tos == (COORDINATING_EMAIL,)]
    assert len(notice) == 1
    plain, html = texts(notice[0])
    subject = str(notice[0].message["Subject"])
    assert SCHOOL_NAME in subject and reference in subject
    for body in (plain, html):
        assert SCHOOL_NAME in body
        assert "550 5.1.1 mailbox unavailable" in body
        assert reference in body
        assert CHILD_NAME not in body
    assert row(app, notices[0]["id"])["status"] == "sent"
    clock.advance(days=5)                    # the dead letter is never tried again
    assert deliver(app).total == 0
    assert row(app, oid)["status"] == "failed"
    assert len(smtp.received) == 2


def test_a_failed_failure_notice_creates_no_further_notice(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    open_absence(app)
    smtp.answer = NO_MAILBOX

    report = deliver(app, limit=10)          # bounded: a notice loop would show, not hang

    rows = outbox(app)
    assert [(r["template"], r["status"]) for r in rows] == [
        ("task_assigned", "failed"), ("delivery_failed", "failed")]
    assert report.failed == [r["id"] for r in rows]
    assert [e["payload"]["template"] for e in events(app, "mail_failed")] == [
        "task_assigned", "delivery_failed"]
    clock.advance(days=5)                    # a dead letter stays dead
    assert deliver(app).total == 0
    assert len(outbox(app)) == 2
    assert len(smtp.received) == 2


def test_a_5xx_for_one_email_does_not_stop_the_next_on_the_same_connection(
        app: App, smtp: SmtpServer) -> None:
    open_absence(app)
    open_absence(app, "jelgavas-spidolas-gimnazija")
    other = configured_email("jelgavas-spidolas-gimnazija")
    smtp.answer = lambda env: NO_MAILBOX if SCHOOL_EMAIL in env.rcpt_tos else OK

    report = deliver(app)

    first, second, notice = outbox(app)
    assert (first["status"], second["status"], notice["status"]) == ("failed", "sent", "sent")
    assert (report.failed, sorted(report.sent)) == ([first["id"]], [second["id"], notice["id"]])
    assert [r.rcpt_tos for r in smtp.accepted] == [(other,), (COORDINATING_EMAIL,)]


# -- 4. a connection dropped after the data, before the answer -------------------------

def test_a_connection_dropped_mid_data_is_retried_and_the_next_email_still_goes(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    open_absence(app)
    open_absence(app)
    first, second = (r["id"] for r in outbox(app))
    smtp.script(DROP)

    report = deliver(app)

    assert (report.retrying, report.sent) == ([first], [second])
    waiting = row(app, first)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 1)
    assert "Disconnected" in waiting["last_error"]
    clock.set(waiting["next_attempt_at"])
    assert deliver(app).sent == [first]

    assert row(app, first)["status"] == "sent"
    ids = Counter(r.message_id for r in smtp.accepted)
    assert ids == Counter({message_id(r, app.settings.mail_from): 1 for r in outbox(app)})
    # The dropped copy and the delivered one are the same email.
    assert smtp.received[0].answer == DROP
    assert smtp.received[0].message_id == message_id(row(app, first), app.settings.mail_from)


# -- 5. no server, then a server -------------------------------------------------------

def test_an_unreachable_server_is_retried_until_it_is_up(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    smtp.stop()                              # nothing listens on the port now
    open_absence(app)
    oid = one_sent(app)["id"]

    assert deliver(app).retrying == [oid]
    waiting = row(app, oid)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 1)
    assert "SMTPConnect" in waiting["last_error"]

    smtp.start()
    clock.set(waiting["next_attempt_at"])
    assert deliver(app).sent == [oid]
    assert [r.rcpt_tos for r in smtp.accepted] == [(SCHOOL_EMAIL,)]


def test_a_server_that_never_greets_costs_one_timeout_per_batch_not_one_per_email(
        db_url: str, smtp: SmtpServer) -> None:
    """A host that accepts TCP but never answers: the batch waits one timeout and
    reschedules every row, so it cannot outlive its lease and be sent twice."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)                    # the kernel accepts; nobody ever greets
        port = silent.getsockname()[1]
        app = make_test_app(db_url, smtp_port=port, smtp_timeout=0.3)
        try:
            for _ in range(3):
                open_absence(app)
            report = deliver(app)
            assert (report.sent, report.failed, len(report.retrying)) == ([], [], 3)
            connections = 0
            silent.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while True:
                    silent.accept()[0].close()
                    connections += 1
            assert connections == 1
            assert all("Timeout" in r["last_error"] for r in outbox(app))
        finally:
            app.db.dispose()


# -- 6. giving up --------------------------------------------------------------------

def test_an_email_still_refused_after_the_give_up_window_fails(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    open_absence(app)
    queued = one_sent(app)
    window = timedelta(hours=app.settings.mail_give_up_hours)
    smtp.answer = TRY_LATER

    for _ in range(100):
        deliver(app)
        current = row(app, queued["id"])
        if current["status"] != "queued":
            break
        assert clock.now() - queued["created_at"] < window   # not given up early
        clock.set(current["next_attempt_at"])

    assert current["status"] == "failed"
    assert clock.now() - queued["created_at"] >= window
    n = current["attempts"]
    assert 15 < n < 40
    assert current["last_error"].startswith(f"gave up after {n} attempts: ")
    assert "421" in current["last_error"]
    assert sum(1 for r in smtp.received if r.rcpt_tos == (SCHOOL_EMAIL,)) == n
    assert not smtp.accepted
    [event] = events(app, "mail_failed")
    assert event["payload"]["outbox"] == queued["id"]
    assert [(r["template"], r["recipient_institution"]) for r in outbox(app)][1:] == [
        ("delivery_failed", COORDINATING)]


# -- 7. no address ---------------------------------------------------------------------

def test_an_institution_without_an_address_fails_the_email_visibly(
        db_url: str, smtp: SmtpServer, tmp_path: Path) -> None:
    config = tmp_path / "jelgava"
    shutil.copytree(JELGAVA, config)
    institutions = config / "institutions.yaml"
    text = institutions.read_text(encoding="utf-8")
    line = f"  email: {SCHOOL_EMAIL}\n"
    assert text.count(line) == 1
    institutions.write_text(text.replace(line, ""), encoding="utf-8")
    app = make_test_app(db_url, smtp_port=smtp.port, config=config)
    try:
        reference = open_absence(app)
        oid = one_sent(app)["id"]

        assert deliver(app, limit=1).failed == [oid]

        failed = row(app, oid)
        assert failed["status"] == "failed"
        assert SCHOOL in failed["last_error"] and str(institutions) in failed["last_error"]
        assert failed["last_error"] == events(app, "mail_failed")[0]["payload"]["error"]
        [notice] = [r for r in outbox(app) if r["id"] != oid]
        assert (notice["template"], notice["recipient_institution"], notice["status"]) == (
            "delivery_failed", COORDINATING, "queued")

        assert deliver(app).sent == [notice["id"]]
        [got] = smtp.received                 # nothing went to the school
        assert got.rcpt_tos == (COORDINATING_EMAIL,)
        plain, _ = texts(got)
        assert SCHOOL_NAME in plain and "has no email" in plain and reference in plain
    finally:
        app.db.dispose()


# -- 8. a worker killed mid-send -------------------------------------------------------

WORKER_SCRIPT = """
import asyncio, os
from gaita.bootstrap import build_app
from gaita.mail import delivery_worker
from gaita.settings import load_settings
app = build_app(load_settings(dict(os.environ)), create=True)
print(asyncio.run(delivery_worker(app).deliver()).counts(), flush=True)
"""


def worker_process(app: App, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAITA_")}
    env.update(GAITA_DATABASE_URL=app.settings.database_url,
               GAITA_NOW=app.rt.clock.now().isoformat(), GAITA_SMTP_PORT=str(smtp_port),
               GAITA_CONFIG=str(app.settings.config), GAITA_SECRET_KEY=app.settings.secret_key)
    return subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_a_worker_killed_mid_send_is_resent_after_the_lease_under_the_same_message_id(
        app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    references = [open_absence(app) for _ in range(3)]
    smtp.script(BLOCK)                       # the first message is taken, never answered
    proc = worker_process(app, smtp.port)
    try:
        if not smtp.handler.blocked.wait(timeout=60):
            proc.kill()
            raise AssertionError(f"the worker never sent: {proc.communicate()}")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    smtp.handler.release()
    held = outbox(app)
    assert all(r["status"] == "queued" and r["claim_token"] for r in held)   # claimed, leased

    assert deliver(app).total == 0           # the lease still holds them
    clock.advance(seconds=app.settings.mail_lease_seconds + 1)
    report = deliver(app)

    assert sorted(report.sent) == [r["id"] for r in held]
    rows = outbox(app)
    assert all(r["status"] == "sent" for r in rows)
    expected = {message_id(r, app.settings.mail_from) for r in rows}
    assert Counter(r.message_id for r in smtp.accepted) == Counter(dict.fromkeys(expected, 1))
    assert len(smtp.received) == 4          # the first one twice
    ids_by_case: dict[str, set[str]] = defaultdict(set)
    for got in smtp.received:
        ids_by_case[next(ref for ref in references if ref in str(got.message["Subject"]))].add(
            got.message_id)
    assert sorted(ids_by_case) == sorted(references)
    assert all(len(ids) == 1 for ids in ids_by_case.values())


# -- 9. two workers at once ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.pg
def test_two_workers_at_once_on_postgresql_send_every_email_exactly_once(
        pg_server: Any, smtp: SmtpServer) -> None:
    first = make_test_app(pg_server.new_database(), smtp_port=smtp.port)
    second = build_app(first.settings, create=True)   # its own engine, as another process
    try:
        for _ in range(200):
            open_absence(first)
        expected = {message_id(r, first.settings.mail_from) for r in outbox(first)}
        assert len(expected) == 200
        barrier = threading.Barrier(2)
        reports: dict[str, DeliveryReport] = {}
        errors: list[BaseException] = []

        def run(name: str, gaita: App) -> None:
            try:
                barrier.wait(timeout=30)
                # One row per claim: many claims, so the two workers' claims overlap.
                reports[name] = asyncio.run(worker(gaita, batch=1).deliver())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n, a))
                   for n, a in (("first", first), ("second", second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        received = Counter(r.message_id for r in smtp.received)
        assert [m for m, n in received.items() if n > 1] == []
        assert received == Counter(dict.fromkeys(expected, 1))
        a, b = reports["first"], reports["second"]
        assert not set(a.sent) & set(b.sent)
        assert len(a.sent) + len(b.sent) == 200
        assert a.sent and b.sent, "one worker did all the work: no concurrency was tested"
        assert not (a.retrying or a.failed or b.retrying or b.failed)
        assert {(r["status"], r["attempts"]) for r in outbox(first)} == {("sent", 1)}
    finally:
        first.db.dispose()
        second.db.dispose()


# -- 10. STARTTLS and authentication ---------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


USER, PASSWORD = "gaita", "pareiza-parole"


def authenticator(server: Any, session: Any, envelope: Envelope, mechanism: str,
                  auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=USER if ok else None)


@pytest.fixture
def tls_smtp(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with SmtpServer(tls_context=context, require_starttls=True, auth_required=True,
                    authenticator=authenticator) as server:
        yield server


def tls_worker(app: App, port: int, cert: Path, password: str) -> DeliveryWorker:
    trust = ssl.create_default_context(cafile=str(cert))
    return DeliveryWorker(
        app.db, app.rt, SmtpSettings("127.0.0.1", port, "starttls", USER, password, 10.0, trust),
        mail_settings(app), rng=random.Random(0))


def test_starttls_with_authentication_delivers(
        db_url: str, tls_smtp: SmtpServer, certificate: tuple[Path, Path]) -> None:
    app = make_test_app(db_url)
    try:
        open_absence(app)
        report = asyncio.run(tls_worker(app, tls_smtp.port, certificate[0], PASSWORD).deliver())
        assert report.counts() == {"sent": 1, "retrying": 0, "failed": 0}
        [got] = tls_smtp.received
        assert (got.accepted, got.tls, got.authenticated, got.auth_data) == (True, True, True, USER)
        assert got.rcpt_tos == (SCHOOL_EMAIL,)
        assert one_sent(app)["status"] == "sent"
    finally:
        app.db.dispose()


def test_a_refused_login_is_retried_not_a_dead_letter(
        db_url: str, tls_smtp: SmtpServer, certificate: tuple[Path, Path]) -> None:
    """A 535 at login is about this server's settings, not about the email or the
    institution: no email fails, no case records a failure, no coordinator is told."""
    app = make_test_app(db_url)
    clock = app.rt.clock
    assert isinstance(clock, FixedClock)
    try:
        open_absence(app)
        open_absence(app)
        report = asyncio.run(tls_worker(app, tls_smtp.port, certificate[0], "nepareiza").deliver())
        assert report.counts() == {"sent": 0, "retrying": 2, "failed": 0}
        rows = outbox(app)
        assert [(r["status"], r["attempts"]) for r in rows] == [("queued", 1)] * 2
        assert all("535" in r["last_error"] for r in rows)
        assert events(app, "mail_failed") == []
        assert tls_smtp.received == []

        clock.set(max(r["next_attempt_at"] for r in rows))   # the password is corrected
        report = asyncio.run(tls_worker(app, tls_smtp.port, certificate[0], PASSWORD).deliver())
        assert report.counts() == {"sent": 2, "retrying": 0, "failed": 0}
        assert len(tls_smtp.accepted) == 2
    finally:
        app.db.dispose()


def test_implicit_tls_delivers(db_url: str, certificate: tuple[Path, Path]) -> None:
    """GAITA_SMTP_TLS=tls: TLS from the first byte (SMTPS, usually port 465)."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with SmtpServer(ssl_context=context) as smtps:
        app = make_test_app(db_url)
        try:
            open_absence(app)
            trust = ssl.create_default_context(cafile=str(cert))
            worker = DeliveryWorker(
                app.db, app.rt, SmtpSettings("127.0.0.1", smtps.port, "tls", None, None, 10.0, trust),
                mail_settings(app), rng=random.Random(0))
            assert asyncio.run(worker.deliver()).counts() == {"sent": 1, "retrying": 0, "failed": 0}
            [got] = smtps.received
            assert got.accepted and got.tls
        finally:
            app.db.dispose()
