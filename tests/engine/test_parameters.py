"""Issue 11 §9: values the law does not fix are parameters, and the engine honours them.

- every ``remind_before`` and every non-zero ladder ``after`` in ``workflows/*.yaml`` names
  a parameter (no literal numbers); the validator checks that it exists and is a number;
- changing a parameter's value changes what happens (a reminder, when an urgent case
  goes to the cooperation group);
- the most extra working days one request may ask for (``tasks.max_extension_days``)
  and the most working days an agreed action may be given
  (``cooperation_group.max_action_working_days``) are refused by the engine, precisely,
  with nothing written.

On a real SQLite file and a real PostgreSQL, the clock fixed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.answers import TaskAction, answer, max_extension_days
from engine.clock import FixedClock
from engine.definitions import KnownNames, load_workflow
from engine.errors import FieldError, InvalidWorkflowDefinition, NotPermitted
from engine.escalation import tick
from engine.group.decisions import MAX_ACTION_PARAM, AgreedAction, decide, max_action_days
from engine.tables import Escalation, Task
from engine.tasks import open_task_of
from engine.yamlio import load_yaml
from gaita.bootstrap import App, load_known_names
from gaita.settings import ROOT, load_settings
from tests.conftest import START, snapshot
from tests.engine.test_escalation import state_task
from tests.engine.test_fire import act, open_absence
from tests.engine.test_group import CHAIR, STAFF, plan, refer
from tests.engine.test_group import open_absence as group_absence

ESCALATION, TASK = Escalation.__table__, Task.__table__
WORKFLOWS = sorted(p for p in (ROOT / "workflows").glob("*.yaml") if p.name != "roles.yaml")
PARAMETERS = load_yaml(ROOT / "config" / "jelgava" / "parameters.yaml")


def set_param(app: App, name: str, value: Any) -> None:
    """The municipality's config with one parameter's value changed (as if its YAML said so)."""
    m = app.rt.municipality
    params = dict(m.parameters)
    params[name] = params[name].model_copy(update={"value": value})
    app.rt.municipality = m.model_copy(update={"parameters": params})


# -- the declarations name parameters -------------------------------------------------------

@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_reminder_and_ladder_delay_is_a_parameter_with_unit_tag_and_source(path: Path) -> None:
    raw = load_yaml(path)
    ladders = [s for ladder in (raw.get("common") or {}).values() if isinstance(ladder, list)
               for s in ladder if isinstance(s, dict) and "action" in s]
    for name, state in raw["states"].items():
        ladders += state.get("escalation") or []
        if "remind_before" in state:
            assert isinstance(state["remind_before"], str), (path.name, name)
    afters = [s["after"] for s in ladders]
    assert all(a == 0 or isinstance(a, str) for a in afters), (path.name, afters)
    named = {s["after"] for s in ladders if isinstance(s["after"], str)} | {
        st["remind_before"] for st in raw["states"].values() if "remind_before" in st}
    for p in named:
        spec = PARAMETERS[p]
        assert (spec["unit"], spec["tag"]) == ("working_days", "U") and spec["source"], p
        assert type(spec["value"]) is int and spec["value"] >= 1, p


def test_the_urgent_ladders_wait_one_working_day_by_default() -> None:
    for case_type in ("absences", "substances", "unregistered", "violence"):
        assert PARAMETERS[f"{case_type}.urgent_stall_days"]["value"] == 1
    assert PARAMETERS["violence.high_risk_escalate_coordinator_days"]["value"] == 1
    assert PARAMETERS["tasks.max_extension_days"]["value"] == 60
    group = load_yaml(ROOT / "config" / "jelgava" / "cooperation_group.yaml")
    assert group["meetings"]["max_action_working_days"]["value"] == 120


def _known() -> KnownNames:
    _, known = load_known_names(load_settings({}))
    return known


@pytest.mark.parametrize(("value", "reason"), [
    ("absences.no_such_remind_days",
     "unknown parameter 'absences.no_such_remind_days' (not in the municipality config)"),
    ("absences.repeat_window_months", None),   # a number: accepted
    ("jslp.absences_require_social_problem",
     "parameter 'jslp.absences_require_social_problem' is True; a number of working days"),
])
def test_a_reminder_must_name_a_known_number_parameter(tmp_path: Path, value: str,
                                                       reason: str | None) -> None:
    known = _known()
    text = (ROOT / "workflows" / "absences.yaml").read_text(encoding="utf-8")
    old = "    remind_before: absences.board_assessment_remind_before_days\n"
    assert text.count(old) == 1
    path = tmp_path / "absences.yaml"
    path.write_text(text.replace(old, f"    remind_before: {value}\n"), encoding="utf-8")
    line = text.splitlines().index(old.rstrip("\n")) + 1
    if reason is None:
        load_workflow(path, known)
        return
    with pytest.raises(InvalidWorkflowDefinition) as raised:
        load_workflow(path, known)
    assert f"{path}:{line}: " in str(raised.value) and reason in str(raised.value)


# -- changing a parameter changes what happens ------------------------------------------------

def test_the_reminder_follows_its_parameter(gaita: App) -> None:
    cal = gaita.rt.calendar
    days = gaita.rt.days("absences.in_school_review_days")
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached=True)
    assert state_task(gaita, ref)["remind_at"] == cal.due_at(START, days - 2)
    set_param(gaita, "absences.in_school_review_remind_before_days", 7)
    other = group_absence(gaita, 1)
    act(gaita, other, "record_unjustified", "skola", parents_reached=True)
    assert state_task(gaita, other)["remind_at"] == cal.due_at(START, days - 7)


@pytest.mark.parametrize("wait", [1, 3])
def test_an_urgent_case_goes_to_the_group_after_its_parameter(gaita: App, clock: FixedClock,
                                                              wait: int) -> None:
    set_param(gaita, "absences.urgent_stall_days", wait)
    ref = open_absence(gaita)   # parent_contact: same day, the urgent ladder
    due = state_task(gaita, ref)["due_at"]
    cal = gaita.rt.calendar

    def queued() -> bool:
        with gaita.db.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(ESCALATION)).scalar_one() > 0

    clock.set(cal.due_at(due, wait - 1) + timedelta(seconds=1))
    tick(gaita.db, gaita.rt)
    assert not queued()
    clock.set(cal.due_at(due, wait) + timedelta(seconds=1))
    tick(gaita.db, gaita.rt)
    assert queued()


# -- limits the engine enforces ----------------------------------------------------------------

def test_more_time_beyond_the_parameter_is_refused_by_the_engine(gaita: App) -> None:
    ref = open_absence(gaita)
    task_id = open_task_of(gaita.db, ref)
    assert max_extension_days(gaita.rt) == 60
    before = snapshot(gaita.db)
    with pytest.raises(NotPermitted) as raised:
        answer(gaita.db, gaita.rt, task_id, TaskAction.MORE_TIME, STAFF, reason="Ārsta izziņa",
               days=61)
    assert raised.value.code == "answer.days_too_many"
    assert str(raised.value) == ("more time is at most 60 working days at once "
                                 "(tasks.max_extension_days); asked for 61")
    assert snapshot(gaita.db) == before
    set_param(gaita, "tasks.max_extension_days", 90)
    answer(gaita.db, gaita.rt, task_id, TaskAction.MORE_TIME, STAFF, reason="Ārsta izziņa",
           days=61)
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(TASK.c.extension_days).where(
            TASK.c.id == task_id)).scalar_one() == 61


def test_an_agreed_action_beyond_the_parameter_is_refused_by_the_engine(gaita: App) -> None:
    ref = group_absence(gaita)
    refer(gaita, ref)
    meeting = plan(gaita).meeting_id
    assert max_action_days(gaita.rt) == 120
    before = snapshot(gaita.db)
    with pytest.raises(FieldError) as raised:
        decide(gaita.db, gaita.rt, meeting, ref, CHAIR, summary="Vienojās",
               actions=[AgreedAction("jslp", 121, "Ģimenes atbalsta plāns")])
    assert raised.value.field == "action"
    assert f"jslp: at most 120 working days ({MAX_ACTION_PARAM}), got 121" in str(raised.value)
    assert snapshot(gaita.db) == before
    set_param(gaita, MAX_ACTION_PARAM, 130)
    result = decide(gaita.db, gaita.rt, meeting, ref, CHAIR, summary="Vienojās",
                    actions=[AgreedAction("jslp", 121, "Ģimenes atbalsta plāns")])
    assert result.tasks[0].due_at == gaita.rt.calendar.due_at(gaita.rt.clock.now(), 121)
