"""The worked migration example: absences v1 -> v2 with a state renamed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.cases import fire
from engine.errors import InvalidWorkflowDefinition
from engine.events import verify_chain
from engine.queries import actor_for, case_view
from engine.registry import load_registry
from engine.tables import Case, Task
from engine.versioning import load_plan, migrate_cases
from gaita.settings import ROOT
from tests.conftest import make_test_app
from tests.engine.test_fire import act, open_absence

PLAN = ROOT / "docs" / "examples" / "absences.v1-v2.yaml"


def publish_v2(tmp_path: Path) -> Path:
    """Step 1-2 of the example: keep v1 in history, write v2 with the rename."""
    wf = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", wf)
    (wf / "history").mkdir(exist_ok=True)
    v1 = (wf / "absences.yaml").read_text(encoding="utf-8")
    (wf / "history" / "absences.v1.yaml").write_text(v1, encoding="utf-8")
    v2 = re.sub(r"(?<!absences\.)board_assessment(?!_days)", "board_review",
                v1.replace("version: 1", "version: 2", 1))
    params = len(re.findall(r"absences\.board_assessment\w*", v1))
    assert v2.count("board_review") == v1.count("board_assessment") - params   # not the params
    (wf / "absences.yaml").write_text(v2, encoding="utf-8")
    return wf


def test_running_cases_move_to_v2_and_keep_their_history(tmp_path: Path, db_url: str) -> None:
    old = make_test_app(db_url)
    moved_ref = open_absence(old)
    act(old, moved_ref, "record_unjustified", "skola", parents_reached="true")
    act(old, moved_ref, "report_to_board", "skola", unjustified_lessons=30, school_actions="x")
    closed_ref = open_absence(old)
    act(old, closed_ref, "absence_justified", "skola", reason="ārsta zīme")

    new = make_test_app(db_url, workflows=publish_v2(tmp_path))
    admin = actor_for(new.db, "admin")
    plan = load_plan(PLAN, new.rt.registry)
    assert [m.reference for m in migrate_cases(new.db, new.rt, plan, admin, dry_run=True)] == [moved_ref]
    with new.db.connect() as conn:
        assert conn.execute(sa.select(Case.__table__.c.definition_version)).scalars().all() == [1, 1]

    moved = migrate_cases(new.db, new.rt, plan, admin)
    assert [(m.from_state, m.to_state) for m in moved] == [("board_assessment", "board_review")]
    view = case_view(new.db, new.rt, moved_ref, actor_for(new.db, "koordinatore"))
    assert (view["definition_version"], view["state"]) == (2, "board_review")
    assert "refer_to_social_service" in view["allowed_triggers"]
    assert view["chain_ok"] and view["timeline"][-1]["kind"] == "migrated"
    with new.db.connect() as conn:
        assert conn.execute(sa.select(Task.__table__.c.state).where(
            Task.__table__.c.closed_at.is_(None))).scalars().all() == ["board_review"]
        versions = dict(conn.execute(sa.select(Case.__table__.c.reference,
                                               Case.__table__.c.definition_version)).all())
        for case_id in (1, 2):
            assert verify_chain(conn, case_id) == []
    assert versions == {moved_ref: 2, closed_ref: 1}   # closed cases keep their version
    fire(new.db, new.rt, moved_ref, "refer_to_social_service", actor_for(new.db, "koordinatore"),
         {"social_problem": True, "problem_description": "x"})
    assert migrate_cases(new.db, new.rt, plan, admin) == []   # idempotent


def test_a_plan_that_loses_a_state_is_rejected(tmp_path: Path) -> None:
    wf = publish_v2(tmp_path)
    registry = load_registry(wf)
    bad = tmp_path / "plan.yaml"
    bad.write_text(PLAN.read_text(encoding="utf-8").replace("board_assessment: board_review",
                                                           "parent_contact: parents"), encoding="utf-8")
    with pytest.raises(InvalidWorkflowDefinition) as exc:
        load_plan(bad, registry)
    text = str(exc.value)
    assert "plan.yaml" in text and "no counterpart in v2" in text and "'board_assessment'" in text
