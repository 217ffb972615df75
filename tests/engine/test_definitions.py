"""Workflow declarations: every rejection names the file, the line and the problem.

Each test copies ``workflows/absences.yaml`` into ``tmp_path`` and corrupts it
with one exact text substitution, so the expected line number is computed
from the corrupted text itself rather than hard-coded.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.definitions import KnownNames, Workflow, load_workflow, parse_workflow
from engine.errors import InvalidWorkflowDefinition, Problem
from engine.guards import GUARDS
from engine.registry import load_registry, load_roles
from gaita.bootstrap import load_known_names
from gaita.settings import ROOT, load_settings
from notifications.catalogue import template_names

WORKFLOWS = ROOT / "workflows"
ABSENCES = WORKFLOWS / "absences.yaml"
TEMPLATES = frozenset({"task_assigned", "case_update", "urgent_report"})
GAITA = ROOT / ".venv" / "bin" / "gaita"

REAL_DECLARATIONS = sorted(p for p in WORKFLOWS.glob("*.yaml") if p.name != "roles.yaml")


# -- helpers -----------------------------------------------------------------------------


def absences_text() -> str:
    return ABSENCES.read_text(encoding="utf-8")


def absences_parameters() -> frozenset[str]:
    """The parameters absences.yaml itself uses: a declaration-independent 'known' set."""
    return frozenset(re.findall(r"\b(?:absences|reports)\.[a-z_]+", absences_text()))


@pytest.fixture(scope="module")
def known() -> KnownNames:
    roles = load_roles(WORKFLOWS)
    return KnownNames(roles.institution_roles, roles.user_roles, GUARDS, TEMPLATES,
                      absences_parameters())


def write_corrupted(tmp_path: Path, *edits: tuple[str, str], name: str = "absences.yaml") -> tuple[Path, str]:
    """A copy of absences.yaml with each ``old`` (which must occur exactly once) replaced."""
    text = absences_text()
    for old, new in edits:
        assert text.count(old) == 1, f"substitution target must be unique: {old!r}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, text


def line_containing(text: str, needle: str) -> int:
    """1-based number of the only line of ``text`` that contains ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}, expected exactly one"
    return hits[0]


def rejection(path: Path, known: KnownNames) -> InvalidWorkflowDefinition:
    with pytest.raises(InvalidWorkflowDefinition) as info:
        load_workflow(path, known)
    return info.value


def assert_reported(exc: InvalidWorkflowDefinition, path: Path, line: int | None, *reason: str) -> None:
    """Some line of the message reads ``<path>:<line>: ...`` and names every part of ``reason``."""
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    message = str(exc)
    matching = [m for m in message.splitlines() if m.startswith(where)]
    assert matching, f"no problem reported at {where!r} in:\n{message}"
    assert any(all(r in m for r in reason) for m in matching), (
        f"no problem at {where!r} mentions {reason!r} in:\n{message}")
    assert path.name in message


def assert_only_problem(exc: InvalidWorkflowDefinition, path: Path, line: int | None, *reason: str) -> None:
    assert len(exc.problems) == 1, str(exc)
    assert exc.problems[0].file == str(path)
    assert exc.problems[0].line == line
    assert_reported(exc, path, line, *reason)


# -- the baseline ------------------------------------------------------------------------


def test_an_unmodified_copy_of_absences_loads_with_the_test_known_names(
        tmp_path: Path, known: KnownNames) -> None:
    path, _ = write_corrupted(tmp_path)
    wf = load_workflow(path, known)
    assert isinstance(wf, Workflow)
    assert wf.case_type == "absences"
    assert wf.initial in wf.states


# -- file-level rejections ---------------------------------------------------------------


def test_a_missing_file_is_reported_by_name_as_not_found(tmp_path: Path, known: KnownNames) -> None:
    path = tmp_path / "nowhere.yaml"
    exc = rejection(path, known)
    assert_only_problem(exc, path, None, "file not found")


@pytest.mark.parametrize("content", ["- just\n- a list\n", "plain scalar\n", "", "# only a comment\n"],
                         ids=["list", "scalar", "empty", "comment-only"])
def test_a_file_that_is_not_a_mapping_is_rejected_at_line_one(
        tmp_path: Path, known: KnownNames, content: str) -> None:
    path = tmp_path / "absences.yaml"
    path.write_text(content, encoding="utf-8")
    exc = rejection(path, known)
    assert_only_problem(exc, path, 1, "must be a YAML mapping")


def test_a_non_utf8_file_is_rejected_naming_the_encoding(tmp_path: Path, known: KnownNames) -> None:
    path = tmp_path / "absences.yaml"
    latin1 = absences_text().replace("Sazināties", "Sazin\xe2ties").encode("utf-8").replace(b"\xc3\xa2", b"\xe2")
    path.write_bytes(latin1)
    exc = rejection(path, known)
    assert_only_problem(exc, path, None, "not valid UTF-8")


def test_a_yaml_syntax_error_names_the_file_and_the_line(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("reference_prefix: KAV\n", "reference_prefix: KAV: X\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "reference_prefix: KAV: X"),
                        "YAML syntax error", "mapping values are not allowed")


def test_an_unclosed_flow_sequence_is_a_yaml_syntax_error_where_the_parser_gives_up(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("initial: parent_contact\n", "initial: [parent_contact\n"))
    exc = rejection(path, known)
    # The parser only notices at the next ':' — the `states:` line after the blank one.
    assert_only_problem(exc, path, line_containing(text, "initial: [parent_contact") + 2,
                        "YAML syntax error", "flow sequence")


def test_a_duplicate_top_level_key_is_rejected_at_its_second_occurrence(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("version: 1\n", "version: 1\nversion: 2\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "version: 2"), "duplicate key 'version'")


def test_a_duplicate_state_key_is_rejected_at_its_second_occurrence(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "    owner: municipal_police\n",
        "    owner: municipal_police\n    owner: school\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "owner: municipal_police") + 1,
                        "duplicate key 'owner'")


# -- schema rejections -------------------------------------------------------------------


def test_an_unknown_key_is_rejected_at_its_own_line(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    owner: education_board\n    deadline: {param: absences.board",
                                            "    ownr: education_board\n    deadline: {param: absences.board"))
    exc = rejection(path, known)
    assert_reported(exc, path, line_containing(text, "ownr:"), "states.board_assessment.ownr",
                    "Extra inputs are not permitted")


def test_a_misspelt_top_level_key_is_rejected_at_its_own_line(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("reference_prefix: KAV\n", "reference_prefix: KAV\ncase_owner: school\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "case_owner: school"), "case_owner", "Extra inputs")


def test_a_deadline_with_two_kinds_is_rejected_at_the_deadline(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "    deadline: {same_day: school_day}",
        "    deadline: {same_day: school_day, working_days: 2}"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "working_days: 2"),
                        "states.parent_contact.deadline",
                        "exactly one of working_days, same_day, param")


def test_a_same_day_deadline_must_say_which_days_it_counts(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    deadline: {same_day: school_day}",
                                            "    deadline: {same_day: true}"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "same_day: true"),
                        "states.parent_contact.deadline.same_day",
                        "'calendar', 'school_day' or 'working_day'")


def test_a_deadline_parameter_must_count_time(tmp_path: Path, known: KnownNames) -> None:
    """A parameter counted in lessons cannot be a deadline: the unit is used, not ignored."""
    counted = dict.fromkeys(absences_parameters(), 5)
    units = {"absences.board_assessment_days": "lessons"}
    path, text = write_corrupted(tmp_path)
    exc = rejection(path, dataclasses.replace(known, parameters=counted, parameter_units=units))
    assert_only_problem(exc, path, line_containing(text, "param: absences.board_assessment_days"),
                        "absences.board_assessment_days", "lessons", "working_days, days or months")


def test_a_deadline_with_no_kind_is_rejected_at_the_deadline(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "    deadline: {same_day: school_day}",
        "    deadline: {}"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "deadline: {}"),
                        "exactly one of working_days, same_day, param")


def test_a_state_name_that_is_not_an_identifier_is_rejected_at_its_key(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("  attendance_monitoring:\n", "  Attendance-Monitoring:\n"))
    exc = rejection(path, known)
    assert_reported(exc, path, line_containing(text, "Attendance-Monitoring:"),
                    "states.Attendance-Monitoring", "should match pattern")


# -- name checks -------------------------------------------------------------------------


def test_an_unknown_destination_state_is_rejected_at_dest(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    dest: closed_justified\n", "    dest: closed_justifed\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "dest: closed_justifed"),
                        "transition 'absence_justified'", "unknown destination state 'closed_justifed'")


def test_an_unknown_source_state_given_as_a_scalar_is_rejected_at_source(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    source: orphans_court_notice\n",
                                            "    source: orphans_court_notise\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "orphans_court_notise"),
                        "transition 'orphans_court_informed'", "unknown source state 'orphans_court_notise'")


def test_an_unknown_source_state_in_a_block_list_is_rejected_at_its_item(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "    source: [in_school_support, board_assessment, social_work]\n",
        "    source:\n      - in_school_support\n      - board_asessment\n      - social_work\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "- board_asessment"),
                        "transition 'attendance_restored'", "unknown source state 'board_asessment'")


def test_an_unknown_initial_state_is_rejected_at_initial(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("initial: parent_contact\n", "initial: parents_contact\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "initial: parents_contact"),
                        "initial state 'parents_contact' is not declared")


def test_an_unknown_owner_role_is_rejected_at_owner(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    owner: municipal_police\n", "    owner: police\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "owner: police"),
                        "unknown role 'police' as owner of state 'police_involvement'")


def test_a_non_terminal_state_without_an_owner_is_rejected_at_the_state(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    owner: municipal_police\n", ""))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "  police_involvement:"),
                        "state 'police_involvement' needs an owner role")


def test_an_unknown_notification_recipient_is_rejected_at_the_notification(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("      - {to: municipal_police, template: task_assigned}\n",
                                            "      - {to: police, template: task_assigned}\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "{to: police,"),
                        "unknown role 'police' as notification recipient")


def test_an_unknown_recipient_when_a_case_is_opened_is_rejected_at_the_notification(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("  notify:\n    - {to: school, template: task_assigned}\n",
                                            "  notify:\n    - {to: schools, template: task_assigned}\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "{to: schools,"),
                        "unknown role 'schools' as notification recipient")


def test_a_user_role_used_as_notification_recipient_is_rejected(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("      - {to: municipal_police, template: task_assigned}\n",
                                            "      - {to: coordinator, template: task_assigned}\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "{to: coordinator,"),
                        "unknown role 'coordinator' as notification recipient")


def test_an_unknown_user_role_in_a_transition_is_rejected_at_its_list_item(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "    dest: closed_left_municipality\n    title: {lv: Izbrauca no pašvaldības, en: Left the municipality}\n"
        "    roles: [coordinator]\n",
        "    dest: closed_left_municipality\n    title: {lv: Izbrauca no pašvaldības, en: Left the municipality}\n"
        "    roles:\n      - coordinator\n      - headmaster\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "- headmaster"), "unknown user role 'headmaster'")


def test_an_unknown_user_role_allowed_to_open_is_rejected_at_open_roles(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("open:\n  roles: [coordinator, institution_staff]\n",
                                            "open:\n  roles: [coordinator, teacher]\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "roles: [coordinator, teacher]"),
                        "unknown user role 'teacher'")


def test_an_institution_role_used_as_user_role_is_rejected(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("open:\n  roles: [coordinator, institution_staff]\n",
                                            "open:\n  roles: [coordinator, school]\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "roles: [coordinator, school]"),
                        "unknown user role 'school'")


def test_an_unknown_guard_is_rejected_at_the_guard(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    guards: [social_problem_present]\n",
                                            "    guards: [social_problem_exists]\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "social_problem_exists"),
                        "transition 'refer_to_social_service'", "unknown guard 'social_problem_exists'")


def test_an_unknown_template_is_rejected_at_the_template(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("      - {to: orphans_court, template: task_assigned}\n",
                                            "      - {to: orphans_court, template: court_letter}\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "court_letter"), "unknown template 'court_letter'")


def test_a_transition_that_does_not_tell_the_new_owner_is_rejected_at_its_notify(
        tmp_path: Path, known: KnownNames) -> None:
    # The email to the new owner carries the task's action links.
    path, text = write_corrupted(tmp_path, ("    notify:\n      - {to: municipal_police, template: task_assigned}\n",
                                            "    notify:\n      - {to: school, template: case_update}\n"))
    exc = rejection(path, known)
    lines = text.splitlines()
    start = lines.index("  - trigger: involve_police")
    notify = next(n for n in range(start, len(lines)) if lines[n] == "    notify:") + 1
    assert_only_problem(exc, path, notify, "transition 'involve_police' opens a task for "
                        "'municipal_police', which must be among its notified roles")


def test_templates_are_not_checked_when_none_are_known(tmp_path: Path, known: KnownNames) -> None:
    path, _ = write_corrupted(tmp_path, ("      - {to: orphans_court, template: task_assigned}\n",
                                         "      - {to: orphans_court, template: court_letter}\n"))
    unchecked = KnownNames(known.institution_roles, known.user_roles, known.guards, None, known.parameters)
    assert load_workflow(path, unchecked).transition("orphans_court_notice", "orphans_court_informed")


def test_an_unknown_deadline_parameter_is_rejected_at_the_param(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("absences.board_assessment_days}", "absences.board_review_days}"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "absences.board_review_days"),
                        "unknown parameter 'absences.board_review_days'")


def test_an_unknown_escalation_parameter_is_rejected_at_the_step(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "      - {after: absences.escalate_coordinator_days, action: notify_coordinator}\n",
        "      - {after: absences.escalate_later_days, action: notify_coordinator}\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "absences.escalate_later_days"),
                        "unknown parameter 'absences.escalate_later_days'")


def test_parameters_are_not_checked_when_none_are_known(tmp_path: Path, known: KnownNames) -> None:
    path, _ = write_corrupted(tmp_path, ("absences.board_assessment_days}", "absences.board_review_days}"))
    unchecked = KnownNames(known.institution_roles, known.user_roles, known.guards, known.templates, None)
    assert load_workflow(path, unchecked).state("board_assessment").deadline.param == "absences.board_review_days"


# -- choice fields -----------------------------------------------------------------------


def test_a_choice_without_a_title_is_rejected_at_the_choice_titles(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "        secondary: {lv: Vidējā izglītība, en: Secondary education}\n", ""))
    exc = rejection(path, known)
    lines = text.splitlines()
    titles = lines.index("      choices: [preschool, basic, secondary]") + 2
    assert lines[titles - 1] == "      choice_titles:"
    assert_only_problem(exc, path, titles, "field 'age_group'",
                        "no title in 'choice_titles' for the choice(s) secondary")


def test_a_choice_field_without_choice_titles_is_rejected_at_the_field(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "        choice_titles:\n"
        "          family_not_cooperating: {lv: Ģimene nesadarbojas, en: The family does not cooperate}\n"
        "          whereabouts_unclear: {lv: \"Nav zināms, kur bērns atrodas\", en: The child's whereabouts are unknown}\n"
        "          other: {lv: Cits iemesls, en: Other reason}\n", ""))
    exc = rejection(path, known)
    lines = text.splitlines()
    field = lines.index("        choices: [family_not_cooperating, whereabouts_unclear, other]") - 1
    assert lines[field - 1] == "      reason:"
    assert_only_problem(exc, path, field, "field 'reason'",
                        "family_not_cooperating, whereabouts_unclear, other")


def test_a_title_for_an_unknown_choice_is_rejected_at_that_title(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "        basic: {lv: Pamatizglītība, en: Basic education}\n",
        "        basic: {lv: Pamatizglītība, en: Basic education}\n"
        "        higher: {lv: Augstākā izglītība, en: Higher education}\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "higher: {lv:"), "field 'age_group'",
                        "'choice_titles' names 'higher', which is not among its choices "
                        "(preschool, basic, secondary)")


def test_choice_titles_on_a_field_that_is_not_a_choice_are_rejected(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "      type: int\n      optional: true\n",
        "      type: int\n      choice_titles: {one: {lv: Viens, en: One}}\n      optional: true\n"))
    exc = rejection(path, known)
    assert_reported(exc, path, line_containing(text, "    grade:"), "open.fields.grade",
                    "'choice_titles' go only with type choice")


def test_a_choice_is_shown_by_its_title_and_an_unknown_code_as_it_is(
        tmp_path: Path, known: KnownNames) -> None:
    path, _ = write_corrupted(tmp_path)
    spec = load_workflow(path, known).open.fields["age_group"]
    assert [spec.choice_title(c, "lv") for c in spec.choices or []] == [
        "Pirmsskolas izglītība", "Pamatizglītība", "Vidējā izglītība"]
    assert spec.choice_title("basic", "en") == "Basic education"
    assert spec.choice_title("gone", "lv") == "gone"


# -- terminal states and triggers --------------------------------------------------------


def test_a_deadline_on_a_terminal_state_is_rejected_at_the_deadline(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    outcome: absence_justified\n",
                                            "    outcome: absence_justified\n    deadline: {working_days: 3}\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "deadline: {working_days: 3}"),
                        "terminal state 'closed_justified' cannot have a deadline")


def test_an_escalation_on_a_terminal_state_is_rejected_at_the_escalation(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    outcome: absence_justified\n",
                                            "    outcome: absence_justified\n    escalation: *ladder\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "outcome: absence_justified") + 1,
                        "terminal state 'closed_justified' cannot escalate")


def test_a_terminal_state_without_an_outcome_is_rejected_at_the_state(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    outcome: attendance_restored\n", ""))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "  closed_restored:"),
                        "terminal state 'closed_restored' needs an outcome code")


def test_an_outcome_on_a_non_terminal_state_is_rejected_at_the_outcome(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    owner: municipal_police\n",
                                            "    owner: municipal_police\n    outcome: police_done\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "outcome: police_done"),
                        "only terminal states have an outcome ('police_involvement')")


def test_a_transition_leaving_a_terminal_state_is_rejected_at_its_source(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("    source: attendance_monitoring\n    dest: closed_restored\n",
                                            "    source: closed_justified\n    dest: closed_restored\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "source: closed_justified"),
                        "transition 'monitoring_complete' leaves terminal state 'closed_justified'")


def test_a_duplicate_trigger_from_the_same_source_is_rejected_at_the_second_trigger(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("  - trigger: absences_resumed\n", "  - trigger: monitoring_complete\n"))
    exc = rejection(path, known)
    second = [n for n, line in enumerate(text.splitlines(), 1) if line == "  - trigger: monitoring_complete"]
    assert len(second) == 2
    triggers = [line for line in text.splitlines() if line.startswith("  - trigger:")]
    first = triggers.index("  - trigger: monitoring_complete") + 1
    assert_only_problem(exc, path, second[1],
                        "duplicate trigger 'monitoring_complete' from state 'attendance_monitoring'",
                        f"(also transition #{first})")


def test_the_same_trigger_from_different_sources_is_allowed(tmp_path: Path, known: KnownNames) -> None:
    path, _ = write_corrupted(tmp_path, ("  - trigger: police_done\n", "  - trigger: attendance_restored\n"))
    wf = load_workflow(path, known)
    assert wf.transition("police_involvement", "attendance_restored").dest == "social_work"
    assert wf.transition("social_work", "attendance_restored").dest == "attendance_monitoring"


# -- graph checks ------------------------------------------------------------------------

EXTRA_TERMINAL = """\
  closed_never:
    title: {lv: Nekad, en: Never}
    terminal: true
    outcome: never

transitions:
"""

TRAP_STATE = """\
  waiting_forever:
    title: {lv: Gaida, en: Waiting}
    owner: school

transitions:
"""

TRAP_ENTRY = """\
  - trigger: wait
    source: in_school_support
    dest: waiting_forever
    title: {lv: Gaidīt, en: Wait}
    roles: [coordinator]
    notify:
      - {to: school, template: task_assigned}
"""

TRAP_LOOP = """\
  - trigger: keep_waiting
    source: waiting_forever
    dest: waiting_forever
    title: {lv: Gaidīt vēl, en: Keep waiting}
    roles: [coordinator]
    notify:
      - {to: school, template: task_assigned}
"""


def test_a_state_no_transition_leads_to_is_rejected_as_unreachable(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("\ntransitions:\n", "\n" + EXTRA_TERMINAL))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "  closed_never:"),
                        "state 'closed_never' is unreachable from 'parent_contact'")


@pytest.mark.parametrize("exits", ["", TRAP_LOOP], ids=["dead-end", "self-loop"])
def test_a_reachable_state_with_no_way_to_a_terminal_state_is_rejected_as_a_trap(
        tmp_path: Path, known: KnownNames, exits: str) -> None:
    path, text = write_corrupted(tmp_path, ("\ntransitions:\n", "\n" + TRAP_STATE),
                                 ("  - trigger: absence_justified\n",
                                  TRAP_ENTRY + exits + "\n  - trigger: absence_justified\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "  waiting_forever:"),
                        "state 'waiting_forever' has no path to a terminal state")


def test_two_states_that_only_lead_to_each_other_are_both_reported_as_traps(
        tmp_path: Path, known: KnownNames) -> None:
    """Cutting every way out of monitoring leaves it and in_school_support circling each other."""
    path, text = write_corrupted(
        tmp_path,
        ("    source: attendance_monitoring\n    dest: closed_restored\n",
         "    source: police_involvement\n    dest: closed_restored\n"),
        ("    source: [in_school_support, board_assessment, social_work, police_involvement, "
         "attendance_monitoring]\n    dest: closed_left_municipality\n",
         "    source: [board_assessment, social_work, police_involvement]\n"
         "    dest: closed_left_municipality\n"),
        ("    source: [in_school_support, board_assessment, social_work, attendance_monitoring]\n"
         "    dest: closed_education_completed\n",
         "    source: [board_assessment, social_work]\n    dest: closed_education_completed\n"),
        ("    source: [in_school_support, board_assessment, social_work]\n    dest: attendance_monitoring\n",
         "    source: [in_school_support]\n    dest: attendance_monitoring\n"),
        ("    source: in_school_support\n    dest: board_assessment\n",
         "    source: parent_contact\n    dest: board_assessment\n"),
        ("    source: [in_school_support, board_assessment, social_work, police_involvement]\n"
         "    dest: orphans_court_notice\n",
         "    source: [board_assessment, social_work, police_involvement]\n    dest: orphans_court_notice\n"),
    )
    exc = rejection(path, known)
    assert len(exc.problems) == 2, str(exc)
    assert_reported(exc, path, line_containing(text, "  in_school_support:"),
                    "state 'in_school_support' has no path to a terminal state")
    assert_reported(exc, path, line_containing(text, "  attendance_monitoring:"),
                    "state 'attendance_monitoring' has no path to a terminal state")


# -- YAML 1.1 booleans -------------------------------------------------------------------


NO_STATE = """\
  'no':
    title: {lv: Atteikts, en: Declined}
    terminal: true
    outcome: declined

transitions:
  - trigger: decline
    source: parent_contact
    dest: no
    title: {lv: Atteikt, en: Decline}
    roles: [coordinator]
"""


@pytest.mark.parametrize("key", ["'no'", "no"], ids=["quoted-key", "bare-key"])
def test_a_state_called_no_loads_as_the_string_no_not_false(
        tmp_path: Path, known: KnownNames, key: str) -> None:
    path, _ = write_corrupted(tmp_path, ("\ntransitions:\n", "\n" + NO_STATE.replace("'no':", f"{key}:")))
    wf = load_workflow(path, known)
    assert "no" in wf.states
    assert False not in wf.states
    assert wf.transition("parent_contact", "decline").dest == "no"
    assert wf.outcomes["no"] == "declined"


def test_an_initial_state_called_no_is_reported_as_the_string_no(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, ("initial: parent_contact\n", "initial: no\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "initial: no"), "initial state 'no' is not declared")


# -- several problems --------------------------------------------------------------------


def test_several_problems_in_one_file_are_all_reported_in_one_error(tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(
        tmp_path,
        ("initial: parent_contact\n", "initial: parents_contact\n"),
        ("    owner: municipal_police\n", "    owner: police\n"),
        ("    guards: [social_problem_present]\n", "    guards: [social_problem_exists]\n"),
        ("      - {to: orphans_court, template: task_assigned}\n",
         "      - {to: orphans_court, template: court_letter}\n"),
        ("    dest: closed_justified\n", "    dest: closed_justifed\n"),
        ("  - trigger: absences_resumed\n", "  - trigger: monitoring_complete\n"),
    )
    exc = rejection(path, known)
    assert len(exc.problems) == 6, str(exc)
    assert_reported(exc, path, line_containing(text, "initial: parents_contact"), "initial state")
    assert_reported(exc, path, line_containing(text, "owner: police"), "unknown role 'police' as owner")
    assert_reported(exc, path, line_containing(text, "social_problem_exists"), "unknown guard")
    assert_reported(exc, path, line_containing(text, "court_letter"), "unknown template")
    assert_reported(exc, path, line_containing(text, "closed_justifed"), "unknown destination state")
    assert_reported(exc, path, [n for n, line in enumerate(text.splitlines(), 1)
                                if line == "  - trigger: monitoring_complete"][1], "duplicate trigger")
    assert len(str(exc).splitlines()) == 6


def test_several_schema_problems_in_one_file_are_all_reported_in_one_error(
        tmp_path: Path, known: KnownNames) -> None:
    path, text = write_corrupted(
        tmp_path,
        ("reference_prefix: KAV\n", "reference_prefix: kav\n"),
        ("    owner: education_board\n    deadline: {param: absences.board",
         "    ownr: education_board\n    deadline: {param: absences.board"),
        ("    remind_before: absences.police_response_remind_before_days\n",
         "    remind_before: 0\n"),
        ("    deadline: {same_day: school_day}",
         "    deadline: {same_day: school_day, param: absences.monitoring_days}"),
    )
    exc = rejection(path, known)
    assert len(exc.problems) == 4, str(exc)
    assert_reported(exc, path, line_containing(text, "reference_prefix: kav"), "reference_prefix")
    assert_reported(exc, path, line_containing(text, "ownr:"), "ownr", "Extra inputs")
    assert_reported(exc, path, line_containing(text, "remind_before: 0"), "remind_before")
    assert_reported(exc, path, line_containing(text, "same_day: school_day, param"), "exactly one of")


def test_name_and_graph_problems_are_not_mixed_graph_checks_wait_for_valid_names(
        tmp_path: Path, known: KnownNames) -> None:
    """An unreachable state is not reported while a name is wrong: the graph would be guesswork."""
    path, text = write_corrupted(tmp_path, ("\ntransitions:\n", "\n" + EXTRA_TERMINAL),
                                 ("    owner: municipal_police\n", "    owner: police\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "owner: police"), "unknown role 'police'")


def test_parse_workflow_reports_the_file_name_it_is_given(known: KnownNames) -> None:
    with pytest.raises(InvalidWorkflowDefinition) as info:
        parse_workflow(["not", "a", "mapping"], "somewhere/x.yaml", known)
    assert info.value.problems == (Problem("somewhere/x.yaml", 1, "a workflow must be a YAML mapping"),)


# -- the registry --------------------------------------------------------------------------


@pytest.fixture
def workflows_copy(tmp_path: Path) -> Path:
    target = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, target)
    return target


def substitute(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"substitution target must be unique in {path.name}: {old!r}"
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return text


def test_a_copy_of_the_workflows_folder_loads_as_a_registry(workflows_copy: Path) -> None:
    registry = load_registry(workflows_copy, templates=template_names())
    assert {p.stem for p in REAL_DECLARATIONS} == set(registry.case_types)


def test_the_registry_reports_problems_of_several_files_in_one_error(workflows_copy: Path) -> None:
    absences = workflows_copy / "absences.yaml"
    a_text = substitute(absences, "    owner: municipal_police\n", "    owner: police\n")
    other = workflows_copy / "unregistered_child.yaml"
    o_text = substitute(other, "\ninitial: ", "\ninitial: nowhere_state\nx_initial: ")
    with pytest.raises(InvalidWorkflowDefinition) as info:
        load_registry(workflows_copy, templates=template_names())
    exc = info.value
    assert_reported(exc, absences, line_containing(a_text, "owner: police"), "unknown role 'police' as owner")
    assert_reported(exc, other, line_containing(o_text, "x_initial:"), "x_initial", "Extra inputs")
    assert {p.file for p in exc.problems} == {str(absences), str(other)}


def test_the_registry_reports_a_yaml_error_and_a_validation_error_together(workflows_copy: Path) -> None:
    absences = workflows_copy / "absences.yaml"
    a_text = substitute(absences, "version: 1\n", "version: 1\nversion: 1\n")
    other = workflows_copy / "unregistered_child.yaml"
    o_text = substitute(other, "\ninitial: ", "\ninitial: nowhere_state\nx_initial: ")
    with pytest.raises(InvalidWorkflowDefinition) as info:
        load_registry(workflows_copy)
    lines = [n for n, line in enumerate(a_text.splitlines(), 1) if line == "version: 1"]
    assert_reported(info.value, absences, lines[1], "duplicate key 'version'")
    assert_reported(info.value, other, line_containing(o_text, "x_initial:"), "x_initial")


def test_a_file_name_that_does_not_match_its_case_type_is_rejected(workflows_copy: Path) -> None:
    wrong = workflows_copy / "truancy.yaml"
    (workflows_copy / "absences.yaml").rename(wrong)
    with pytest.raises(InvalidWorkflowDefinition) as info:
        load_registry(workflows_copy)
    assert info.value.problems == (Problem(str(wrong), 1, "file name must match case_type 'absences'"),)


def test_the_same_case_type_and_version_in_two_files_is_rejected(workflows_copy: Path) -> None:
    twin = workflows_copy / "absences_copy.yaml"
    shutil.copy(workflows_copy / "absences.yaml", twin)
    with pytest.raises(InvalidWorkflowDefinition) as info:
        load_registry(workflows_copy)
    assert_reported(info.value, twin, 1, "absences v1 is declared twice")


def test_a_broken_roles_file_is_reported_by_name(workflows_copy: Path) -> None:
    roles = workflows_copy / "roles.yaml"
    text = substitute(roles, "user_roles:\n", "user_roles:\nuser_roles:\n")
    with pytest.raises(InvalidWorkflowDefinition) as info:
        load_registry(workflows_copy)
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line == "user_roles:"]
    assert_reported(info.value, roles, lines[1], "duplicate key 'user_roles'")


# -- every real declaration --------------------------------------------------------------


@pytest.fixture(scope="module")
def real_known() -> KnownNames:
    _, known = load_known_names(load_settings({}))   # the Jelgava config, as the CLI loads it
    return known


def test_there_are_real_declarations_to_check() -> None:
    assert ABSENCES in REAL_DECLARATIONS


@pytest.mark.parametrize("path", REAL_DECLARATIONS, ids=lambda p: p.stem)
def test_every_real_declaration_loads_with_the_real_known_names(path: Path, real_known: KnownNames) -> None:
    wf = load_workflow(path, real_known)
    assert wf.case_type == path.stem
    assert wf.initial in wf.states
    assert wf.outcomes, "a workflow needs at least one terminal state with an outcome"


# -- the CLI -------------------------------------------------------------------------------


def run_gaita(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAITA_")}
    env["COLUMNS"] = "300"
    return subprocess.run([str(GAITA), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def test_cli_validate_of_a_bad_file_exits_1_and_prints_file_line_and_reason(tmp_path: Path) -> None:
    path, text = write_corrupted(tmp_path, ("    owner: municipal_police\n", "    owner: police\n"))
    proc = run_gaita("workflows", "validate", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = line_containing(text, "owner: police")
    assert f"{path}:{line}: unknown role 'police' as owner of state 'police_involvement'" in proc.stderr


def test_cli_validate_lists_every_problem_of_every_bad_file_given(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, a_text = write_corrupted(tmp_path / "a", ("    owner: municipal_police\n", "    owner: police\n"))
    b, b_text = write_corrupted(tmp_path / "b", ("version: 1\n", "version: 1\nversion: 2\n"))
    proc = run_gaita("workflows", "validate", str(a), str(b), str(ABSENCES))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{a}:{line_containing(a_text, 'owner: police')}: unknown role 'police'" in proc.stderr
    assert f"{b}:{line_containing(b_text, 'version: 2')}: YAML syntax error: duplicate key 'version'" in proc.stderr
    assert f"ok  {ABSENCES} (absences v1)" in proc.stdout


def test_cli_validate_of_a_good_file_exits_0(tmp_path: Path) -> None:
    path, _ = write_corrupted(tmp_path)
    proc = run_gaita("workflows", "validate", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ok  {path} (absences v1)" in proc.stdout


def test_cli_validate_of_every_declaration_exits_0_and_lists_each(tmp_path: Path) -> None:
    proc = run_gaita("workflows", "validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in REAL_DECLARATIONS:
        assert re.search(rf"^ok  {re.escape(path.stem)} v\d+$", proc.stdout, re.MULTILINE), proc.stdout


def test_cli_validate_prints_a_bad_state_name_problem_verbatim(tmp_path: Path, known: KnownNames) -> None:
    path, _ = write_corrupted(tmp_path, ("  attendance_monitoring:\n", "  Attendance-Monitoring:\n"))
    expected = str(rejection(path, known).problems[0])
    assert "[key]" in expected
    proc = run_gaita("workflows", "validate", str(path))
    assert proc.returncode == 1
    assert expected in proc.stderr



def test_a_deadline_parameter_that_is_not_a_number_of_days_is_rejected(real_known: KnownNames) -> None:
    params = {**dict(real_known.parameters or {}), "absences.board_assessment_days": "twenty"}
    known = KnownNames(real_known.institution_roles, real_known.user_roles, real_known.guards,
                       real_known.templates, params, real_known.read_only_roles)
    with pytest.raises(InvalidWorkflowDefinition,
                       match=r"absences.yaml:\d+: parameter 'absences.board_assessment_days' is 'twenty'"):
        load_workflow(ABSENCES, known)


def test_a_read_only_role_may_not_be_permitted_to_change_a_case(tmp_path: Path,
                                                                 real_known: KnownNames) -> None:
    text = ABSENCES.read_text(encoding="utf-8").replace(
        "    roles: [coordinator]\n    guards: [social_problem_present]",
        "    roles: [coordinator, auditor]\n    guards: [social_problem_present]")
    path = tmp_path / "absences.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidWorkflowDefinition, match="'auditor' is read-only"):
        load_workflow(path, real_known)


def test_a_guard_whose_fields_the_workflow_does_not_declare_is_rejected(
        tmp_path: Path, real_known: KnownNames) -> None:
    text = ABSENCES.read_text(encoding="utf-8")
    cut = ("      social_problem:\n        type: bool\n"
           "        title: {lv: Kavējumi saistīti ar sociālu problēmu, en: Absences come with a social problem}\n")
    assert cut in text
    path = tmp_path / "absences.yaml"
    path.write_text(text.replace(cut, ""), encoding="utf-8")
    with pytest.raises(InvalidWorkflowDefinition,
                       match="guard 'social_problem_present' reads the field 'social_problem'"):
        load_workflow(path, real_known)
