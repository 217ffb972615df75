"""``gaita demo generate`` (gaita/generate.py): open, valid cases of every type, as a real subprocess."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from engine.events import verify_chain
from engine.personal_code import parse_personal_code
from engine.reports import dashboard
from engine.tables import Case, Child
from gaita.bootstrap import build_app
from gaita.generate import generate
from gaita.settings import load_settings
from tests.cli.test_cli import NOW, Gaita
from tests.conftest import make_test_app

CASE, CHILD = Case.__table__, Child.__table__


def test_generate_opens_valid_cases_of_every_type(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gaita.db'}"
    cli = Gaita(url, tmp_path)
    cli("init")
    proc = cli("demo", "generate", "--cases", "40", "--seed", "3", "--json")
    assert "40/40 cases" in proc.stderr
    out = json.loads(proc.stdout)
    assert out["cases"] == 40 and out["by_type"] == {
        "absences": 10, "substances": 10, "unregistered_child": 10, "violence": 10}
    assert len(cli.json("case", "list")) == 40

    gaita = build_app(load_settings({"GAITA_DATABASE_URL": url, "GAITA_NOW": NOW}))
    rt, now = gaita.rt, gaita.rt.clock.now()
    schools = {i.code for i in rt.municipality.institutions_with_role("school")}
    with gaita.db.connect() as conn:
        cases = conn.execute(sa.select(CASE).order_by(CASE.c.id)).mappings().all()
        children = conn.execute(sa.select(CHILD.c.name, CHILD.c.personal_code)).all()
        chains = [verify_chain(conn, c["id"]) for c in cases]
    assert len(cases) == 40 and chains == [[]] * 40
    for c in cases:
        wf = rt.registry.get(c["case_type"], c["definition_version"])
        assert c["status"] == "open" and not wf.state(c["state"]).terminal
        assert c["school_institution"] in schools and c["opened_at"] <= now
    assert sum(c["state"] != rt.registry.latest(c["case_type"]).initial for c in cases) >= 10
    opened = sorted(c["opened_at"] for c in cases)
    assert opened[-1] - opened[0] > timedelta(days=30)
    assert len({code for _, code in children}) == 40
    assert all(parse_personal_code(code).format == "legacy" for _, code in children)
    assert any(not name.isascii() for name, _ in children)
    assert dashboard(gaita.db, rt)["open"] == 40

    # The same seed on an empty database gives the same cases.
    again = make_test_app(f"sqlite:///{tmp_path / 'again.db'}")
    generate(again.db, again.rt, 40, seed=3)
    with again.db.connect() as conn:
        same = conn.execute(sa.select(CASE.c.reference, CASE.c.state, CASE.c.opened_at)
                            .order_by(CASE.c.id)).all()
    assert same == [(c["reference"], c["state"], c["opened_at"]) for c in cases]

    proc = cli("demo", "generate", "--cases", "0", ok=False)
    assert proc.returncode == 2
