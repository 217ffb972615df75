"""The access policy on its own: the declared role attributes decide."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.policy import Action, CaseScope, Subject, decide, visible_groups
from engine.registry import WorkflowRegistry, load_registry
from engine.runtime import Actor
from gaita.settings import ROOT

SCHOOL, SOCIAL, POLICE, BOARD = ("jelgavas-4-vsk", {"school"}), ("jslp", {"social_service"}), \
    ("pp", {"municipal_police"}), ("jip", {"education_board"})


@pytest.fixture(scope="module")
def registry() -> WorkflowRegistry:
    return load_registry(ROOT / "workflows")


def who(role: str, institution: tuple[str, set[str]] | None = None) -> Subject:
    code, roles = institution or (None, set())
    return Subject(Actor("u", role, code), frozenset(roles))


CASE = CaseScope("absences", involved=frozenset({"jelgavas-4-vsk"}), holder="jelgavas-4-vsk")


def test_staff_reach_only_cases_their_institution_works_on(registry: WorkflowRegistry) -> None:
    school, social = who("institution_staff", SCHOOL), who("institution_staff", SOCIAL)
    assert decide(registry, school, Action.READ_CASES, CASE)
    assert decide(registry, school, Action.ANSWER_TASK, CASE)
    refused = decide(registry, social, Action.READ_CASES, CASE)
    assert not refused and str(refused.reason) == "the institution holds no task on this case"
    held_before = replace(CASE, involved=CASE.involved | {"jslp"})
    assert decide(registry, social, Action.READ_CASES, held_before)
    assert not decide(registry, social, Action.ANSWER_TASK, held_before)   # not the holder


def test_the_coordinator_reads_all_and_the_chair_decides(registry: WorkflowRegistry) -> None:
    coordinator = who("coordinator", BOARD)
    assert decide(registry, coordinator, Action.PAUSE, CASE)
    assert decide(registry, coordinator, Action.ESCALATE, CASE)
    assert not decide(registry, coordinator, Action.DECIDE)
    assert decide(registry, who("group_chair", SOCIAL), Action.DECIDE)
    member = who("group_member", SOCIAL)
    assert decide(registry, member, Action.READ_GROUP) and not decide(registry, member,
                                                                      Action.PLAN_MEETING)
    assert not decide(registry, member, Action.READ_CASES, CASE)   # never escalated
    assert decide(registry, member, Action.READ_CASES, replace(CASE, escalated=True))


def test_read_only_and_administrators(registry: WorkflowRegistry) -> None:
    auditor, admin = who("auditor"), who("admin")
    assert decide(registry, auditor, Action.READ_ACCESS_LOG, CASE)
    assert not decide(registry, auditor, Action.ADD_NOTE, CASE)
    assert decide(registry, admin, Action.ADMINISTER)
    assert not decide(registry, admin, Action.READ_CASES, CASE)
    assert not decide(registry, who("coordinator", BOARD), Action.ADMINISTER)


def test_only_staff_of_a_school_open_cases(registry: WorkflowRegistry) -> None:
    assert decide(registry, who("institution_staff", SCHOOL), Action.OPEN_CASE,
                  case_type="absences")
    assert not decide(registry, who("institution_staff", POLICE), Action.OPEN_CASE,
                      case_type="absences")
    assert not decide(registry, who("institution_staff", SCHOOL), Action.OPEN_CASE,
                      case_type="unregistered_child")   # its declaration: coordinators only


def test_field_groups_are_the_user_roles_and_the_institutions(registry: WorkflowRegistry) -> None:
    assert "support_plan" not in visible_groups(registry.roles,
                                                who("institution_staff", POLICE))
    assert "support_plan" in visible_groups(registry.roles, who("institution_staff", SOCIAL))
    assert "access_log" in visible_groups(registry.roles, who("auditor"))
    assert "access_log" not in visible_groups(registry.roles, who("coordinator", BOARD))
    assert visible_groups(registry.roles, who("admin")) == frozenset()


def test_an_institution_role_may_limit_case_types(registry: WorkflowRegistry) -> None:
    roles = registry.roles
    limited = roles.institution_roles["social_service"].model_copy(
        update={"case_types": ("substances",)})
    narrowed = WorkflowRegistry(replace(roles, institution_roles={
        **roles.institution_roles, "social_service": limited}), registry.current,
        registry.versions)
    social = who("institution_staff", SOCIAL)
    held = replace(CASE, involved=frozenset({"jslp"}), holder="jslp")
    assert decide(registry, social, Action.READ_CASES, held)
    refused = decide(narrowed, social, Action.READ_CASES, held)
    assert not refused and "does not work on absences cases" in str(refused.reason)
    assert decide(narrowed, social, Action.READ_CASES, replace(held, case_type="substances"))
