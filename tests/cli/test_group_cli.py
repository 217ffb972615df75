"""``gaita escalations`` and ``gaita meeting``, run as a real subprocess: output, JSON,
exit codes and the minutes file."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document

from tests.cli.test_cli import SCHOOL, Gaita

ACTION = "Sagatavot ģimenes atbalsta plānu"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Gaita:
    tmp = tmp_path_factory.mktemp("group-cli")
    g = Gaita(f"sqlite:///{tmp / 'gaita.db'}", tmp)
    g("init", "--demo")
    return g


@pytest.fixture(scope="module")
def reference(cli: Gaita) -> str:
    out = cli.json("case", "open", "absences", "--anyway", "--as", "skola", "--school", SCHOOL,
                   "--child-code", "120514-21234", "--child-name", "Jānis Bērziņš",
                   "--field", "age_group=basic")
    return str(out["reference"])


def test_a_reason_given_by_gaita_is_refused_with_exit_4_and_the_reasons_a_person_may_give(
        cli: Gaita, reference: str) -> None:
    proc = cli("escalations", "add", reference, "--reason", "stalled", "--as", "koordinatore",
               ok=False)
    assert proc.returncode == 4
    assert proc.stderr.strip() == ("error: the reason 'stalled' is given by Gaita itself; a case "
                                   "is referred by hand for: several_institutions, unsolvable")
    proc = cli("escalations", "add", reference, "--reason", "several_institutions", "--as", "skola",
               ok=False)
    assert proc.returncode == 4 and "role 'institution_staff' may not refer" in proc.stderr


def test_refer_plan_decide_show_and_export_the_minutes(cli: Gaita, reference: str,
                                                       tmp_path: Path) -> None:
    out = cli("escalations", "add", reference, "--reason", "several_institutions", "--urgent",
              "--as", "koordinatore").stdout
    assert f"{reference}: in the cooperation group's queue" in out
    queue = cli.json("escalations", "list")
    assert queue[0]["reference"] == reference and queue[0]["urgent"] is True
    assert queue[0]["reasons"] == ["several_institutions"] and queue[0]["status"] == "queued"
    assert reference in cli("escalations", "list").stdout

    weekend = cli("meeting", "plan", "--date", "2026-12-05", "--as", "vaditajs", ok=False)
    assert weekend.returncode == 4 and "05.12.2026 is not a working day" in weekend.stderr
    bad_day = cli("meeting", "plan", "--date", "31.11.2026", "--as", "vaditajs", ok=False)
    assert bad_day.returncode == 2 and "no such day as “31.11.2026”" in bad_day.stderr
    plan = cli.json("meeting", "plan", "--date", "30.11.2026", "--place", "Lielā iela 11",
                    "--as", "vaditajs")
    meeting = plan["meeting"]
    assert (plan["kind"], plan["place"]) == ("ordinary", "Lielā iela 11")
    assert reference in [i["reference"] for i in plan["items"]]

    bad = cli("meeting", "decide", str(meeting), reference, "--summary", "x", "--action",
              "jslp:desmit:Apsekot", "--as", "vaditajs", ok=False)
    assert bad.returncode == 4 and "working days must be a whole number" in bad.stderr
    decided = cli.json("meeting", "decide", str(meeting), reference, "--summary",
                       "Ģimenei nepieciešams atbalsts", "--action", f"jslp:10:{ACTION}",
                       "--action", "pp:3:Apsekot dzīvesvietu", "--as", "vaditajs")
    assert [(t["institution"], t["title"]) for t in decided["tasks"]] == [
        ("jslp", ACTION), ("pp", "Apsekot dzīvesvietu")]
    assert decided["tasks"][0]["due_at"].startswith("2026-12-14")   # 10 working days
    again = cli("meeting", "decide", str(meeting), reference, "--summary", "y", "--as", "vaditajs",
                ok=False)
    assert again.returncode == 4 and "already recorded" in again.stderr

    shown = cli("meeting", "show", str(meeting), "--as", "vaditajs").stdout
    assert reference in shown and "decision: Ģimenei nepieciešams atbalsts" in shown
    assert f"- jslp: {ACTION} (due 14.12.2026 23:59)" in shown
    view = cli.json("meeting", "show", str(meeting))
    assert view["day"] == "2026-11-30" and view["status"] == "held"
    assert [m["id"] for m in cli.json("meeting", "list")] == [meeting]

    path = tmp_path / "protokols.docx"
    out = cli("meeting", "minutes", str(meeting), "--out", str(path), "--as", "vaditajs").stdout
    assert f"written to {path}" in out
    doc = Document(str(path))
    text = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    assert reference in text and ACTION in text and "Bērnu tiesību aizsardzības" in text
    assert "Jānis Bērziņš" not in text and "120514" not in text
    wrong = cli("meeting", "minutes", str(meeting), "--out", str(tmp_path / "x.pdf"), ok=False)
    assert wrong.returncode == 2 and ".docx" in wrong.stderr
    missing = cli("meeting", "show", "999", ok=False)
    assert missing.returncode == 3 and "no meeting 999" in missing.stderr


def test_the_rhythm_proposes_ordinary_meetings_and_the_chair_accepts_one(tmp_path: Path) -> None:
    g = Gaita(f"sqlite:///{tmp_path / 'gaita.db'}", tmp_path)
    g("init", "--demo")
    proposed = g.json("meeting", "proposals", "--count", "3")
    # the second Thursday of January, April and July (cooperation_group.yaml rhythm)
    assert proposed == [{"day": "2027-01-14", "meeting": None}, {"day": "2027-04-08", "meeting": None},
                        {"day": "2027-07-08", "meeting": None}]
    assert "14.01.2027  Thursday  proposed" in g("meeting", "proposals").stdout
    plan = g.json("meeting", "plan", "--proposed", "--as", "vaditajs")
    assert (plan["day"], plan["kind"]) == ("2027-01-14", "ordinary")
    proposed = g.json("meeting", "proposals", "--count", "2")
    assert proposed == [{"day": "2027-01-14", "meeting": plan["meeting"]},
                        {"day": "2027-04-08", "meeting": None}]
    assert g.json("meeting", "plan", "--proposed", "--as", "vaditajs")["day"] == "2027-04-08"
    both = g("meeting", "plan", "--proposed", "--date", "2027-01-15", "--as", "vaditajs", ok=False)
    assert both.returncode == 2 and "give either --date or --proposed" in both.stderr
