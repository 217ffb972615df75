"""``gaita case pause | resume`` and the pause in ``case show``, as a real subprocess."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.test_cli import Gaita, open_case


def as_json(cli: Gaita, *args: str, now: str) -> Any:
    return json.loads(cli(*args, "--json", GAITA_NOW=now).stdout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Gaita:
    tmp = tmp_path_factory.mktemp("pause-cli")
    g = Gaita(f"sqlite:///{tmp / 'gaita.db'}", tmp)
    g("init", "--demo")
    return g


def supported_case(cli: Gaita) -> str:
    ref = open_case(cli)
    cli("case", "fire", ref, "record_unjustified", "--as", "skola", "--field", "parents_reached=false")
    return ref


def test_pause_show_resume_moves_the_due_date(cli: Gaita) -> None:
    ref = supported_case(cli)   # Monday 30 Nov 2026 09:00; due 30 Dec
    out = cli("case", "pause", ref, "--reason", "child_abroad", "--as", "koordinatore",
              GAITA_NOW="2026-12-03T10:00:00+02:00").stdout
    assert f"{ref}: PAUSED since 03.12.2026 10:00 (child_abroad: Bērns ārzemēs, gaida apstiprinājumu)" in out
    shown = cli("case", "show", ref, "--as", "koordinatore", GAITA_NOW="2026-12-07T10:00:00+02:00").stdout
    assert ("PAUSED since 03.12.2026 10:00 (child_abroad: Bērns ārzemēs, gaida apstiprinājumu; "
            "2 working days so far)") in shown
    assert "paused (child_abroad)" in shown   # the timeline
    view = cli.json("case", "show", ref)
    assert view["paused"]["reason"] == "child_abroad"

    done = as_json(cli, "case", "resume", ref, "--as", "koordinatore",
                   now="2026-12-08T10:00:00+02:00")
    assert (done["working_days"], done["total_working_days"]) == (3, 3)
    assert done["due_at"].startswith("2027-01-06T21:59:59")   # 30 Dec + Fri, Mon, Tue
    shown = cli("case", "show", ref, GAITA_NOW="2026-12-08T10:00:00+02:00").stdout
    assert "PAUSED" not in shown and "due: 06.01.2027 23:59" in shown
    assert cli("case", "verify", ref).returncode == 0


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--reason", "abroad", "--as", "koordinatore"], 4,
     "unknown pause reason 'abroad'; valid reasons: child_abroad, awaiting_police"),
    (["--reason", "child_abroad", "--as", "auditors"], 4, "role 'auditor' is read-only"),
    (["--reason", "child_abroad", "--as", "skola"], 4,
     "only the coordinating institution's users"),
    (["--reason", "child_abroad", "--as", "nobody"], 3, "no user 'nobody'"),
    (["--as", "koordinatore"], 2, "--reason"),
])
def test_pause_errors_have_the_contracts_exit_codes(
        cli: Gaita, args: list[str], code: int, message: str) -> None:
    ref = supported_case(cli)
    proc = cli("case", "pause", ref, *args, ok=False)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_pause_twice_resume_unpaused_and_wrong_state(cli: Gaita) -> None:
    ref = supported_case(cli)
    proc = cli("case", "resume", ref, "--as", "koordinatore", ok=False)
    assert (proc.returncode, f"{ref} is not paused" in proc.stderr) == (4, True)
    cli("case", "pause", ref, "--reason", "court_proceedings", "--as", "koordinatore")
    proc = cli("case", "pause", ref, "--reason", "child_abroad", "--as", "koordinatore", ok=False)
    assert proc.returncode == 4 and "already paused since 30.11.2026 09:00 (court_proceedings)" in proc.stderr
    fresh = open_case(cli)   # parent_contact: not pausable
    proc = cli("case", "pause", fresh, "--reason", "child_abroad", "--as", "koordinatore", ok=False)
    assert proc.returncode == 4 and "cannot be paused in state 'parent_contact'" in proc.stderr
    proc = cli("case", "pause", "KAV-2026-99999", "--reason", "child_abroad", "--as", "koordinatore",
               ok=False)
    assert proc.returncode == 3


def test_a_long_pause_is_flagged_once_by_sweep(cli: Gaita) -> None:
    ref = supported_case(cli)
    cli("case", "pause", ref, "--reason", "awaiting_police", "--as", "koordinatore")
    later = "2027-03-01T10:00:00+02:00"
    first = as_json(cli, "sweep", now=later)
    assert first["effects"].get("pause_too_long", 0) >= 1
    again = as_json(cli, "sweep", now=later)
    assert "pause_too_long" not in again["effects"]
    shown = cli("case", "show", ref, GAITA_NOW=later).stdout
    assert "OVER THE LIMIT" in shown and "pause_too_long (awaiting_police)" in shown
    assert "case_update→jip" in shown
