"""Issue 11 points 5 and 6 through the command line (a real subprocess, a fixed clock):
closing an unregistered-child case with an IKVD status, and an absence case opened at
B4 and transferred between schools."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.store import USER
from gaita.bootstrap import build_app
from gaita.settings import load_settings
from tests.cli.test_cli import NOW, SCHOOL, Gaita
from tests.engine.test_information_requests import make_requests

NEW_SCHOOL = "jelgavas-spidolas-gimnazija"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Gaita:
    tmp = tmp_path_factory.mktemp("intake")
    g = Gaita(f"sqlite:///{tmp / 'gaita.db'}", tmp)
    g("init", "--demo")
    engine = sa.create_engine(f"sqlite:///{tmp / 'gaita.db'}")
    with engine.begin() as conn:   # a user of the school the pupil moves to
        conn.execute(sa.insert(USER).values(
            username="spidola", display_name="Spīdolas sociālā pedagoģe",
            role="institution_staff", institution_code=NEW_SCHOOL, locale="lv", digest=False,
            active=True))
    engine.dispose()
    return g


def test_an_unregistered_child_case_closes_only_with_an_ikvd_status(cli: Gaita) -> None:
    ref = cli.json("case", "open", "unregistered_child", "--anyway", "--as", "koordinatore",
                   "--child-code", "120514-21234", "--child-name", "Jānis Bērziņš",
                   "--field", "ikvd_list_date=2026-11-30", "--field", "ikvd_cycle=oct_30",
                   "--field", "age_group=basic")["reference"]
    closing = ["case", "fire", ref, "status_abroad", "--as", "koordinatore",
               "--field", "status_source=pmlp", "--field", "viis_status_recorded=true",
               "--field", "country=Īrija"]
    refused = cli(*closing, "--field", "ikvd_status=abroad", ok=False)
    assert refused.returncode == 4   # the MK 871 p. 6 requests come first
    assert "vsaa, civil_registry, police" in refused.stderr
    app = build_app(load_settings({"GAITA_DATABASE_URL": cli.env["GAITA_DATABASE_URL"],
                                   "GAITA_NOW": NOW}))
    make_requests(app, ref)
    app.db.dispose()
    refused = cli(*closing, ok=False)
    assert refused.returncode == 4
    assert "abroad" in refused.stderr + refused.stdout
    refused = cli(*closing, "--field", "ikvd_status=deceased", ok=False)
    assert refused.returncode == 4
    cli(*closing, "--field", "ikvd_status=abroad")
    shown = cli("case", "show", ref).stdout
    assert "IKVD status: abroad — Izbraucis no valsts / dzīvo un mācās ārvalstīs" in shown
    assert "Dzīvo un mācās ārvalstīs" in shown


def test_an_absence_case_opened_at_b4_moves_to_another_school(cli: Gaita) -> None:
    opening = ["case", "open", "absences", "--anyway", "--as", "skola", "--school", SCHOOL,
               "--child-code", "120514-21234", "--child-name", "Jānis Bērziņš",
               "--field", "age_group=basic", "--start-state", "board_assessment",
               "--field", "school_actions=Sarunas ar vecākiem"]
    refused = cli(*opening, "--field", "unjustified_lessons=20", ok=False)
    assert refused.returncode == 4 and "20" in refused.stderr + refused.stdout
    opened = cli.json(*opening, "--field", "unjustified_lessons=21")
    ref = opened["reference"]
    assert (opened["state"], opened["owner"]) == ("board_assessment", "jip")
    cli("case", "fire", ref, "attendance_restored", "--as", "koordinatore")
    asked = cli.json("case", "transfer", ref, "--as", "skola", "--to", NEW_SCHOOL,
                     "--reason", "Ģimene pārcēlās")
    assert (asked["from"], asked["to"]) == (SCHOOL, NEW_SCHOOL)
    assert asked["due_at"].startswith("2026-12-03")   # 3 working days from Mon 30 Nov
    assert f"transfer pending: to {NEW_SCHOOL}" in cli("case", "show", ref).stdout
    again = cli("case", "transfer", ref, "--as", "koordinatore", "--to", "jelgavas-centra-psk",
                ok=False)
    assert again.returncode == 4
    wrong = cli("case", "transfer-accept", ref, "--as", "skola", ok=False)
    assert wrong.returncode == 4   # only the new school takes it over
    done = cli("case", "transfer-accept", ref, "--as", "spidola").stdout
    assert f"transfer accepted; school: {NEW_SCHOOL}" in done
    view = cli.json("case", "show", ref)
    assert (view["status"], view["school"], view["owner"]) == ("open", NEW_SCHOOL, NEW_SCHOOL)
    assert [e["kind"] for e in view["timeline"]].count("queued") == 0
    cli("case", "fire", ref, "monitoring_complete", "--as", "spidola")
    assert NOW.startswith("2026-11-30")
