"""Acceptance (issue #3): walking an absence case through the CLI, with `make run`'s
mail catcher (mail-devel) running, puts one Latvian email per declared
notification in the catcher's inbox, and none carries the child's identity."""

from __future__ import annotations

import email
import imaplib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from engine.definitions import Notification
from engine.registry import load_registry
from gaita.settings import ROOT
from tests.cli.test_cli import NOW, SCHOOL, Gaita
from tests.mailcatcher import PASSWORD, USER, mail_catcher

pytestmark = pytest.mark.slow

CHILD_NAME, CHILD_CODE = "Jānis Bērziņš", "120514-21234"
# The walk: (trigger, user, fields).  Opening notifies the school.
WALK = [
    ("record_unjustified", "skola", ["parents_reached=true"]),
    ("report_to_board", "skola", ["unjustified_lessons=24", "school_actions=Sarunas ar ģimeni"]),
    ("refer_to_social_service", "koordinatore", ["social_problem=true",
                                                 "problem_description=Ģimenes grūtības"]),
]


@pytest.fixture
def catcher() -> Iterator[tuple[int, int]]:
    with mail_catcher() as ports:
        yield ports


def inbox(imap_port: int) -> list[tuple[bytes, EmailMessage]]:
    with imaplib.IMAP4("127.0.0.1", imap_port) as box:
        box.login(USER, PASSWORD)
        box.select("INBOX")
        _, ids = box.search(None, "ALL")
        out = []
        for num in ids[0].split():
            _, data = box.fetch(num, "(RFC822)")
            raw = data[0][1]
            out.append((raw, email.message_from_bytes(raw, policy=policy.default)))
        return out


def test_an_absence_walk_puts_one_latvian_email_per_declared_notification_in_the_catcher(
        catcher: tuple[int, int], tmp_path: Path) -> None:
    smtp_port, imap_port = catcher
    cli = Gaita(f"sqlite:///{tmp_path / 'gaita.db'}", tmp_path)
    cli.env["GAITA_SMTP_PORT"] = str(smtp_port)
    cli("init", "--demo")
    start = datetime.fromisoformat(NOW)
    cli("outbox", "deliver")   # the demo cases' emails: at once, and after the coalescing window
    cli("outbox", "deliver", GAITA_NOW=(start + timedelta(minutes=5)).isoformat())
    before = {m["Message-ID"] for _, m in inbox(imap_port)}
    opened = start + timedelta(minutes=6)
    reference = json.loads(cli(
        "case", "open", "absences", "--anyway", "--as", "koordinatore", "--school", SCHOOL,
        "--child-code", CHILD_CODE, "--child-name", CHILD_NAME, "--field", "age_group=basic",
        "--json", GAITA_NOW=opened.isoformat()).stdout)["reference"]
    # as `gaita serve` does, every few seconds
    sent = json.loads(cli("outbox", "deliver", "--json", GAITA_NOW=opened.isoformat()).stdout)["sent"]
    for i, (trigger, user, fields) in enumerate(WALK, start=1):
        # a step every 10 minutes; its email goes after the coalescing window (5 minutes)
        at = opened + timedelta(minutes=10 * i)
        cli("case", "fire", reference, trigger, "--as", user,
            *[arg for f in fields for arg in ("--field", f)], GAITA_NOW=at.isoformat())
        later = (at + timedelta(minutes=5)).isoformat()
        sent += json.loads(cli("outbox", "deliver", "--json", GAITA_NOW=later).stdout)["sent"]
    assert sent == len(expected_notifications())

    received = [(raw, m) for raw, m in inbox(imap_port) if m["Message-ID"] not in before]
    wf = load_registry(ROOT / "workflows").latest("absences")
    expected = expected_notifications()
    assert len(received) == len(expected)
    for (raw, msg), note in zip(sorted(received, key=lambda m: int(m[1]["Message-ID"].split(".")[2])),
                                expected, strict=True):
        assert msg["Content-Language"] == "lv"
        assert reference in msg["Subject"]
        assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]      # encoded-word subject
        text = msg.get_body(("plain",)).get_content()
        assert "Nosūtīts automātiski no sistēmas Gaita" in text
        for secret in (CHILD_NAME, "Bērziņš", CHILD_CODE, CHILD_CODE.replace("-", "")):
            assert secret.encode() not in raw and secret not in text
        assert note.template in {"task_assigned", "case_update", "urgent_report"}
        if note.template == "task_assigned":
            assert "/link/acknowledge/" in text
    subjects = [m["Subject"] for _, m in received]
    assert any(wf.state("board_assessment").title.lv in s for s in subjects)
    assert any(wf.state("social_work").title.lv in s for s in subjects)


def expected_notifications() -> list[Notification]:
    wf = load_registry(ROOT / "workflows").latest("absences")
    notes = list(wf.open.notify)
    state = wf.initial
    for trigger, _, _ in WALK:
        t = wf.transition(state, trigger)
        assert t is not None
        notes += t.notify
        state = t.dest
    return notes
