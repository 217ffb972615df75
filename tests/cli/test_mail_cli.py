"""`gaita outbox`, `gaita digest send`, `gaita case answer|extension`, `gaita sweep`:
subprocesses against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.test_cli import NOW, Gaita, open_case
from tests.notifications.smtp import NO_MAILBOX, SmtpServer

#: After the coalescing window (municipality.yaml: mail.coalesce_minutes) of NOW.
LATER = (datetime.fromisoformat(NOW) + timedelta(minutes=5)).isoformat()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path, smtp: SmtpServer) -> Gaita:
    g = Gaita(f"sqlite:///{tmp_path / 'gaita.db'}", tmp_path)
    g.env["GAITA_SMTP_PORT"] = str(smtp.port)
    g("init", "--demo")
    return g


def test_deliver_sends_the_queue_and_list_shows_each_status(cli: Gaita, smtp: SmtpServer) -> None:
    queued = cli.json("outbox", "list", "--status", "queued")
    assert queued and {r["status"] for r in queued} == {"queued"}
    # same-day duties go at once; notices about one case wait a few minutes for each other
    now = cli.json("outbox", "deliver")
    later = json.loads(cli("outbox", "deliver", "--json", GAITA_NOW=LATER).stdout)
    assert now["sent"] + later["sent"] == len(queued) and not now["failed"] + later["failed"]
    assert now["sent"] and len(smtp.accepted) <= len(queued)
    sent = cli.json("outbox", "list", "--status", "sent")
    assert {r["id"] for r in sent} == {r["id"] for r in queued}
    assert all(r["sent_to"] and r["attempts"] == 1 and r["template_version"] for r in sent)
    carried = {r["merged_into"] or r["id"] for r in sent}   # one email per carrying row
    assert len(carried) == len(smtp.accepted)
    assert sent[0]["template_version"] in cli("outbox", "list", "--status", "sent").stdout
    assert json.loads(cli("outbox", "deliver", "--json", GAITA_NOW=LATER).stdout)["sent"] == 0


def test_a_rejected_email_is_failed_visible_on_the_case_and_can_be_retried(
        cli: Gaita, smtp: SmtpServer) -> None:
    cli("outbox", "deliver")
    ref = open_case(cli)
    smtp.script(NO_MAILBOX)
    # the failure notice to the coordinating institution goes out in the same run
    assert cli.json("outbox", "deliver") == {"sent": 1, "retrying": 0, "failed": 1}
    failed = cli.json("outbox", "list", "--status", "failed")
    assert len(failed) == 1 and "550 5.1.1" in failed[0]["last_error"]
    show = cli("case", "show", ref).stdout
    assert "task_assigned→jelgavas-4-vsk (failed: 550 5.1.1 mailbox unavailable)" in show
    assert "mail_failed" in show
    assert "550" in cli("outbox", "list", "--status", "failed").stdout
    notice = smtp.accepted[-1].message
    assert notice["To"] == "jip@jelgava.example.lv" and ref in notice["Subject"]
    assert "550 5.1.1" in notice.get_body(("plain",)).get_content()

    row = failed[0]["id"]
    assert "queued again" in cli("outbox", "retry", str(row)).stdout
    assert cli.json("outbox", "deliver")["sent"] == 1
    again = cli("outbox", "retry", str(row), ok=False)
    assert again.returncode == 4 and "is sent; only failed emails are retried" in again.stderr
    missing = cli("outbox", "retry", "999999", ok=False)
    assert missing.returncode == 3 and "no outbox row 999999" in missing.stderr


def test_answers_from_the_cli_show_as_delivery_and_task_status(cli: Gaita) -> None:
    ref = open_case(cli)
    cli("outbox", "deliver")
    out = cli("case", "show", ref).stdout
    assert "task_assigned→jelgavas-4-vsk (sent)" in out and "task: receipt to be acknowledged by" in out
    cli("case", "answer", ref, "acknowledge", "--as", "skola")
    out = cli("case", "show", ref).stdout
    assert "task_assigned→jelgavas-4-vsk (acknowledged)" in out and "task: acknowledged" in out
    refused = cli("case", "answer", ref, "decline", "--as", "skola", ok=False)
    assert refused.returncode == 4 and "'decline' needs a reason" in refused.stderr
    cli("case", "answer", ref, "more_time", "--as", "skola", "--reason", "Gaidām ģimeni",
        "--days", "2")
    assert "asks 2 more working days" in cli("case", "show", ref).stdout
    forbidden = cli("case", "extension", ref, "--approve", "--as", "skola", ok=False)
    assert forbidden.returncode == 4
    out = cli("case", "extension", ref, "--approve", "--as", "koordinatore").stdout
    assert "approved; now due 02.12.2026 23:59" in out
    assert cli.json("case", "show", ref)["task"]["extension_days"] is None
    wrong = cli("case", "answer", ref, "accept", "--as", "skola", "--trigger", "x", ok=False)
    assert wrong.returncode == 2 and "go with 'done' only" in wrong.stderr
    done = cli("case", "answer", ref, "done", "--as", "skola", "--reason", "Sazvanīti",
               "--trigger", "record_unjustified", "--field", "parents_reached=jā").stdout
    assert "parent_contact -> in_school_support" in done


def test_sweep_records_tasks_not_acknowledged_in_time_once(cli: Gaita) -> None:
    ref = open_case(cli)
    later = "2026-12-10T09:00:00+02:00"
    first = cli.json("--now", later, "sweep")
    assert first["effects"]["unacknowledged"] >= 1
    assert "unacknowledged" not in cli.json("--now", later, "sweep")["effects"]
    assert "NOT ACKNOWLEDGED in time" in cli("--now", later, "case", "show", ref).stdout


def test_digest_goes_to_each_institution_and_opted_in_staff_in_their_language(
        cli: Gaita, smtp: SmtpServer) -> None:
    cli("outbox", "deliver")
    first = len(smtp.accepted)
    result = cli.json("digest", "send")
    school = next(d for d in result["digests"] if d["institution"] == "jelgavas-4-vsk")
    assert school["recipients"] == 2 and school["tasks"] >= 1     # the mailbox + user `skola`
    digests = smtp.accepted[first:]
    assert result["sent"] == len(digests) == sum(d["recipients"] for d in result["digests"])
    by_to = {m.message["To"]: m.message for m in digests}
    assert by_to["soc.pedagoge@skolas.jelgava.example.lv"]["Content-Language"] == "lv"
    assert by_to["soc.darbiniece@jelgava.example.lv"]["Content-Language"] == "en"
    text = by_to["4vsk@skolas.jelgava.example.lv"].get_body(("plain",)).get_content()
    assert "KAV-2026-" in text


def test_a_bad_smtp_setting_fails_with_one_clear_message(cli: Gaita) -> None:
    bad = cli("outbox", "deliver", ok=False, GAITA_SMTP_TLS="sometimes")
    assert bad.returncode == 1 and "invalid setting GAITA_SMTP_TLS" in bad.stderr
