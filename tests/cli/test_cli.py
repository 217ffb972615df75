"""The CLI contract (DESIGN.md §7), run as a real subprocess: output, JSON and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gaita.settings import ROOT

NOW = "2026-11-30T09:00:00+02:00"
SCHOOL = "jelgavas-4-vsk"


class Gaita:
    def __init__(self, db_url: str, tmp_path: Path):
        self.env = {**os.environ, "GAITA_DATABASE_URL": db_url, "GAITA_NOW": NOW,
                    "COLUMNS": "200"}
        self.env.pop("GAITA_CONFIG", None)
        self.cwd = tmp_path

    def __call__(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "gaita", *args], capture_output=True,
                              text=True, encoding="utf-8", env={**self.env, **env}, cwd=self.cwd)
        if ok:
            assert proc.returncode == 0, proc.stderr + proc.stdout
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Gaita:
    tmp = tmp_path_factory.mktemp("cli")
    g = Gaita(f"sqlite:///{tmp / 'gaita.db'}", tmp)
    g("init", "--demo")
    return g


def open_case(cli: Gaita) -> str:
    out = cli.json("case", "open", "absences", "--anyway", "--as", "skola", "--school", SCHOOL,
                   "--child-code", "120514-21234", "--child-name", "Jānis Bērziņš",
                   "--field", "age_group=basic")
    return str(out["reference"])


def test_init_is_idempotent(cli: Gaita) -> None:
    out = cli("init", "--demo").stdout
    assert "0 users added, 0 cases added" in out


def test_absence_case_walks_to_closure_with_owner_and_due_date_at_each_step(cli: Gaita) -> None:
    ref = open_case(cli)
    steps = [
        (["record_unjustified", "--as", "skola", "--field", "parents_reached=false"], SCHOOL, 20),
        (["report_to_board", "--as", "skola", "--field", "unjustified_lessons=24",
          "--field", "school_actions=Sarunas ar vecākiem"], "jip", 5),
        (["refer_to_social_service", "--as", "koordinatore", "--field", "social_problem=jā",
          "--field", "problem_description=Ģimenes situācija"], "jslp", 10),
        (["attendance_restored", "--as", "socdienests"], SCHOOL, 40),
    ]
    for args, owner, days in steps:
        out = cli.json("case", "fire", ref, *args)
        assert (out["owner"], out["working_days_left"]) == (owner, days)
    out = cli.json("case", "fire", ref, "monitoring_complete", "--as", "koordinatore")
    assert (out["state"], out["outcome"], out["owner"]) == ("closed_restored", "attendance_restored", None)
    text = cli("case", "show", ref, "--as", "koordinatore").stdout
    assert "closed_restored" in text and "task_assigned→jslp" in text
    assert cli("case", "verify", ref).returncode == 0


def test_case_show_lists_owner_due_date_and_the_users_triggers(cli: Gaita) -> None:
    ref = open_case(cli)
    text = cli("case", "show", ref, "--as", "skola").stdout
    assert f"owner: {SCHOOL}" in text and "30.11.2026 23:59 (0 working days left)" in text
    assert "next: absence_justified, record_unjustified" in text
    assert "next: (nothing for this user)" in cli("case", "show", ref, "--as", "auditors").stdout
    refused = cli("case", "show", ref, "--as", "socdienests", ok=False)   # the policy, as the web
    assert refused.returncode == 4 and "the institution holds no task on this case" in refused.stderr
    view = cli.json("case", "show", ref)
    assert view["state"] == "parent_contact" and "Jānis" not in json.dumps(view, ensure_ascii=False)


def test_case_list_filters(cli: Gaita) -> None:
    ref = open_case(cli)
    rows = cli.json("case", "list", "--type", "absences", "--state", "parent_contact")
    assert ref in [r["reference"] for r in rows]
    assert all(r["state"] == "parent_contact" for r in rows)
    later = cli("case", "list", "--overdue", "--json", GAITA_NOW="2026-12-01T09:00:00+02:00")
    assert ref in later.stdout


@pytest.mark.parametrize(("args", "code", "message"), [
    (["case", "open", "nope", "--anyway", "--as", "koordinatore", "--child-code", "120514-21234",
      "--child-name", "A"], 3, "unknown case type 'nope'"),
    (["case", "fire", "KAV-1999-00001", "x", "--as", "koordinatore"], 3, "no case with reference"),
    (["case", "show", "KAV-1999-00001"], 3, "no case with reference"),
    (["case", "fire", "{ref}", "monitoring_complete", "--as", "koordinatore"], 4,
     "valid triggers: absence_justified, record_unjustified"),
    (["case", "fire", "{ref}", "bogus", "--as", "koordinatore"], 4, "has no trigger 'bogus'"),
    (["case", "fire", "{ref}", "record_unjustified", "--as", "auditors",
      "--field", "parents_reached=true"], 4, "role 'auditor' may not advance cases"),
    (["case", "fire", "{ref}", "record_unjustified", "--as", "skola"], 4,
     "field 'parents_reached': required"),
    (["case", "fire", "{ref}", "record_unjustified", "--as", "skola",
      "--field", "parents_reached=perhaps"], 4, "expected true or false"),
    (["case", "fire", "{ref}", "record_unjustified", "--as", "nobody"], 3, "no user 'nobody'"),
    (["case", "open", "absences", "--anyway", "--as", "skola", "--school", SCHOOL, "--child-code",
      "120514-21230", "--child-name", "A", "--field", "age_group=basic"], 4, "check digit"),
    (["case", "fire", "{ref}", "record_unjustified", "--as", "skola", "--field",
      "parents_reached=true", "--expect-version", "9"], 5, "changed by someone else"),
    (["case", "fire", "{ref}", "record_unjustified", "--as", "skola", "--field", "oops"], 2,
     "expected key=value"),
    (["workflows", "diagram", "absences", "--format", "dot"], 2, "unknown format"),
    (["case", "fire", "{ref}", "record_unjustified", "--as", "skola", "--field",
      "parents_reached=true", "--field", "parents_reached=false"], 2, "given twice"),
    (["case", "list", "--state", "nosuch"], 3, "no state 'nosuch'"),
    (["case", "list", "--type", "absences", "--state", "nosuch"], 3, "no state 'nosuch'"),
    (["case", "open", "absences", "--anyway", "--as", "skola", "--school", SCHOOL, "--child-code",
      "120514-21234", "--child-name", "A", "--field", "age_group=basic", "--incident-at",
      "31.02.2026"], 4, "cannot read the incident time '31.02.2026'"),
    (["case", "open", "absences", "--anyway", "--as", "skola", "--school", SCHOOL, "--child-code",
      "120514-21234", "--child-name", "A", "--field", "age_group=basic", "--incident-at",
      "30.11.2026 09:30"], 4, "the incident time 30.11.2026 09:30 is in the future"),
])
def test_bad_input_gets_a_precise_error_and_exit_code(cli: Gaita, args: list[str], code: int,
                                                      message: str) -> None:
    ref = open_case(cli)
    before = cli.json("case", "show", ref)
    proc = cli(*[a.replace("{ref}", ref) for a in args], ok=False)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    after = cli.json("case", "show", ref)
    assert after["version"] == before["version"] and after["state"] == before["state"]


def test_a_date_field_is_typed_dd_mm_yyyy_or_iso(cli: Gaita) -> None:
    opening = ["case", "open", "unregistered_child", "--anyway", "--as", "koordinatore",
               "--child-code", "120514-21234", "--child-name", "Jānis Bērziņš",
               "--field", "ikvd_cycle=jan_30", "--field", "age_group=basic"]
    before = cli.json("case", "list")
    for typed, said in (("31.11.2026", "no such day as “31.11.2026”"),
                        ("30.11.26", "a date is written DD.MM.YYYY")):
        proc = cli(*opening, "--field", f"ikvd_list_date={typed}", ok=False)
        assert proc.returncode == 4 and said in proc.stderr, proc.stderr
        assert "field 'ikvd_list_date'" in proc.stderr
    assert cli.json("case", "list") == before
    opened = cli.json(*opening, "--field", "ikvd_list_date=30.11.2026")
    assert opened["reference"].startswith("NEREG-2026-")


def test_guard_failure_names_the_guard(cli: Gaita) -> None:
    ref = open_case(cli)
    cli("case", "fire", ref, "record_unjustified", "--as", "skola", "--field", "parents_reached=1")
    proc = cli("case", "fire", ref, "report_to_board", "--as", "skola", "--field",
               "unjustified_lessons=3", "--field", "school_actions=x", ok=False)
    assert proc.returncode == 4 and "guard 'absence_threshold_reached' failed" in proc.stderr


def test_corrupt_config_is_reported_with_file_and_line(cli: Gaita, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config" / "jelgava", config)
    (config / "thresholds.yaml").write_text("absences.x: [unclosed\n", encoding="utf-8")
    proc = cli("case", "list", ok=False, GAITA_CONFIG=str(config))
    assert proc.returncode == 1 and "thresholds.yaml:" in proc.stderr and "YAML" in proc.stderr
    proc = cli("case", "list", ok=False, GAITA_CONFIG=str(tmp_path / "missing"))
    assert proc.returncode == 1 and "missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_database_that_cannot_be_opened(cli: Gaita, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir.db"
    proc = cli("case", "list", ok=False, GAITA_DATABASE_URL=f"sqlite:///{missing}")
    assert proc.returncode == 1 and "cannot open database" in proc.stderr
    assert "run `gaita init`" in proc.stderr and not missing.parent.exists()   # nothing created
    (tmp_path / "empty.db").write_bytes(b"")
    proc = cli("case", "list", ok=False, GAITA_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    assert proc.returncode == 1 and "no Gaita schema" in proc.stderr
    proc = cli("--db", "mysql://a@127.0.0.1/c", "case", "list", ok=False)
    assert proc.returncode == 1 and "cannot open database" in proc.stderr
    proc = cli("--db", "postgresql://nobody@127.0.0.1:1/x", "case", "list", ok=False)
    assert proc.returncode == 1 and "cannot open database" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_invalid_setting_is_one_clear_message(cli: Gaita) -> None:
    proc = cli("case", "list", ok=False, GAITA_NOW="yesterday")
    assert proc.returncode == 1 and "GAITA_NOW" in proc.stderr and "Traceback" not in proc.stderr


def test_workflows_commands(cli: Gaita) -> None:
    assert "absences" in cli("workflows", "list").stdout
    assert "ok  absences v1" in cli("workflows", "validate").stdout
    assert "parent_contact" in cli("workflows", "show", "absences").stdout
    diagram = cli("workflows", "diagram", "absences", "--format", "mermaid").stdout
    assert diagram.startswith("stateDiagram-v2") and "parent_contact --> in_school_support" in diagram


def test_docs_workflows_md_is_generated_from_the_declarations(cli: Gaita) -> None:
    generated = cli("workflows", "docs").stdout
    committed = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
    assert generated == committed, "regenerate: gaita workflows docs > docs/workflows.md"


def test_calendar_overrides_from_the_command_line(cli: Gaita) -> None:
    assert cli("calendar", "set", "01.03.2027", "--kind", "holiday", "--note", "Rīkojums",
               "--as", "admin").returncode == 0
    assert cli.json("calendar", "list") == [{
        "day": "2027-03-01", "kind": "holiday", "note": "Rīkojums", "created_by": "admin",
        "created_at": "2026-11-30T07:00:00+00:00"}]
    proc = cli("calendar", "set", "2027-03-02", "--kind", "holiday", "--as", "skola", ok=False)
    assert proc.returncode == 4 and "only administrators" in proc.stderr
    proc = cli("calendar", "set", "2027-02-30", "--kind", "holiday", "--as", "admin", ok=False)
    assert proc.returncode == 2 and "no such day as “2027-02-30”" in proc.stderr
    proc = cli("calendar", "set", "30.02.2027", "--kind", "holiday", "--as", "admin", ok=False)
    assert proc.returncode == 2 and "no such day as “30.02.2027”" in proc.stderr
    proc = cli("calendar", "set", "1/3/2027", "--kind", "holiday", "--as", "admin", ok=False)
    assert proc.returncode == 2 and "DD.MM.YYYY" in proc.stderr
    cli("calendar", "remove", "2027-03-01", "--as", "admin")
    assert cli.json("calendar", "list") == []
    db = sa.create_engine(cli.env["GAITA_DATABASE_URL"])
    with db.connect() as conn:   # only the changes made, each by `cli`
        logged = conn.execute(sa.text("SELECT actor, action, target, detail FROM admin_log "
                                      "WHERE action LIKE 'calendar.%' ORDER BY id")).all()
    db.dispose()
    assert [tuple(r[:3]) for r in logged] == [("cli", "calendar.set", "2027-03-01"),
                                              ("cli", "calendar.remove", "2027-03-01")]
    assert json.loads(logged[0].detail) == {"kind": "holiday", "note": "Rīkojums"}


def test_a_case_entered_after_its_same_day_deadline_opens_overdue(cli: Gaita) -> None:
    """Violence on Saturday 28 Nov, entered on Monday 30 Nov: due that Saturday."""
    args = ["case", "open", "violence", "--anyway", "--as", "skola", "--school", SCHOOL, "--child-code",
            "120514-21234", "--child-name", "Jānis Bērziņš", "--field",
            "violence_kind=pupil_to_pupil", "--field", "violence_form=physical", "--field",
            "finding=found", "--incident-at", "28.11.2026 11:20"]
    proc = cli(*args)
    assert "warning: the case was entered late" in proc.stderr and "(2 d. late)" in proc.stderr
    assert "due: 28.11.2026 23:59" in proc.stdout
    ref = proc.stdout.split(":")[0]
    shown = cli("case", "show", ref).stdout
    assert "incident: 28.11.2026 11:20" in shown and "REPORTED LATE (2 d." in shown
    assert "OVERDUE" in shown
    assert cli.json("case", "show", ref)["late_days"] == 2


def test_violence_at_home_is_reported_to_the_police_and_the_orphans_court(cli: Gaita) -> None:
    """D2 from the command line: two reports beside the school's task, the police answer
    theirs, and only then the case moves on."""
    ref = cli.json("case", "open", "violence", "--anyway", "--as", "skola", "--school", SCHOOL,
                   "--child-code", "120514-21234", "--child-name", "Jānis Bērziņš",
                   "--field", "violence_kind=at_home", "--field", "violence_form=physical",
                   "--field", "finding=found")["reference"]
    report = ["--field", "description=Zilumi uz rokām; bērns stāsta par tēvu",
              "--field", "contact=Sociālā pedagoģe, 63000000"]
    police = cli.json("case", "report", ref, "state_police", "--as", "skola", *report)
    assert police["to"] == "vp-jelgava"
    move = ["case", "fire", ref, "protected_and_reported", "--as", "skola",
            "--field", "victim_protected=true", "--field", "first_aid_given=false"]
    refused = cli(*move, ok=False)
    assert refused.returncode == 4 and "orphans_court" in refused.stderr
    waived = cli("case", "waive", ref, "orphans_court", "--as", "skola", "--reason", " ",
                 ok=False)
    assert waived.returncode == 4 and "give the reason" in waived.stderr
    assert "report orphans_court made" in cli("case", "report", ref, "orphans_court",
                                               "--as", "skola", *report).stdout
    cli("case", "answer", ref, "done", "--as", "vpolicija", "--task", str(police["task"]),
        "--field", "taken_up=proceedings_started", "--field", "file_number=VP-118")
    shown = cli("case", "show", ref).stdout
    assert "report state_police → state_police: made" in shown and "VP-118" in shown
    assert "report orphans_court → orphans_court (required): made" in shown
    assert "-> inform_parents_and_founder" in cli(*move).stdout


def test_json_output_carries_warnings_as_codes(cli: Gaita) -> None:
    """A warning (here: reported late) is part of --json output, not a crash."""
    out = cli.json("case", "open", "violence", "--anyway", "--as", "skola", "--school", SCHOOL,
                   "--child-code", "120514-21234", "--child-name", "Jānis Bērziņš",
                   "--field", "violence_kind=pupil_to_pupil", "--field", "violence_form=online",
                   "--field", "finding=suspected", "--incident-at", "27.11.2026 16:00")
    assert out["late_days"] == 3
    assert [w["code"] for w in out["warnings"]] == ["case.reported_late"]
