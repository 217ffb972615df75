"""Named guards: thresholds and rules come from the municipality's parameters."""

from __future__ import annotations

from typing import Any

import pytest

from engine.guards import GUARDS, GuardContext

JELGAVA = {
    "absences.unjustified_lessons_per_semester": 20,
    "absences.preschool_unjustified_days": 3,
    "jslp.absences_require_social_problem": True,
    "jslp.unregistered_requires_abroad_ruled_out": True,
    "jslp.substances_min_incidents": 2,
}


def check(name: str, data: dict[str, Any], fields: dict[str, Any] | None = None,
          **params: Any) -> str | None:
    """The guard's refusal in English (its message's text), or None."""
    values = {**JELGAVA, **params}
    refusal = GUARDS[name](GuardContext(data=data, fields=data if fields is None else fields,
                                        param=values.__getitem__))
    return None if refusal is None else str(refusal)


@pytest.mark.parametrize(("data", "passes"), [
    ({"age_group": "basic", "unjustified_lessons": 20}, False),   # "more than 20"
    ({"age_group": "basic", "unjustified_lessons": 21}, True),
    ({"age_group": "preschool", "unjustified_days": 3}, False),
    ({"age_group": "preschool", "unjustified_days": 4}, True),
    ({"age_group": "preschool", "unjustified_lessons": 40}, False),  # ages 5-6 count days
])
def test_absence_threshold_follows_mk_89(data: dict[str, Any], passes: bool) -> None:
    assert (check("absence_threshold_reached", data) is None) is passes


def test_absence_threshold_uses_this_reports_count_not_an_earlier_one() -> None:
    earlier = {"age_group": "preschool", "unjustified_days": 9}
    assert check("absence_threshold_reached", earlier, fields={"unjustified_lessons": 0}) is not None
    earlier = {"age_group": "basic", "unjustified_lessons": 30}
    assert check("absence_threshold_reached", earlier, fields={"unjustified_lessons": 4}) is not None


def test_absence_threshold_is_configurable() -> None:
    data = {"age_group": "basic", "unjustified_lessons": 12}
    assert check("absence_threshold_reached", data) is not None
    assert check("absence_threshold_reached", data,
                 **{"absences.unjustified_lessons_per_semester": 10}) is None


@pytest.mark.parametrize(("guard", "rule", "field"), [
    ("social_problem_present", "jslp.absences_require_social_problem", "social_problem"),
    ("other_reasons_ruled_out", "jslp.unregistered_requires_abroad_ruled_out", "abroad_ruled_out"),
])
def test_jslp_involvement_rules_can_be_switched_off(guard: str, rule: str, field: str) -> None:
    assert check(guard, {field: False}) is not None
    assert check(guard, {field: True}) is None
    assert check(guard, {field: False}, **{rule: False}) is None


def test_substance_cases_reach_jslp_from_the_configured_frequency() -> None:
    assert check("substance_use_meets_jslp_threshold", {"incident_count": 1}) is not None
    assert check("substance_use_meets_jslp_threshold", {"incident_count": 2}) is None
    assert check("substance_use_meets_jslp_threshold", {"incident_count": 1},
                 **{"jslp.substances_min_incidents": 1}) is None


def test_narcologist_only_for_repeated_use() -> None:
    assert "repeated use only" in (check("repeated_substance_use", {"incident_count": 1}) or "")
    assert check("repeated_substance_use", {"incident_count": 2}) is None


def test_mk_474_p12_needs_no_improvement_and_uncooperative_parents() -> None:
    assert check("parents_not_cooperating", {"no_improvement": True}) is not None
    assert check("parents_not_cooperating",
                 {"no_improvement": True, "parents_not_cooperating": True}) is None
