"""A state's and a transition's ``note`` (what the law asks) is a text in both languages,
Latvian first: an English-only string, or a note missing a language, is refused at load
with its file and line; every real declaration's notes have both."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import KnownNames
from engine.guards import GUARDS
from engine.registry import load_roles
from tests.engine.test_definitions import (
    REAL_DECLARATIONS,
    TEMPLATES,
    WORKFLOWS,
    absences_parameters,
    absences_text,
    assert_only_problem,
    line_containing,
    rejection,
    write_corrupted,
)


@pytest.fixture(scope="module")
def known() -> KnownNames:
    """What absences.yaml may name (as in tests/engine/test_definitions.py)."""
    roles = load_roles(WORKFLOWS)
    return KnownNames(roles.institution_roles, roles.user_roles, GUARDS, TEMPLATES,
                      absences_parameters())


def parent_contact_note() -> tuple[str, str, str]:
    """absences.yaml's parent_contact note: the whole block, its lv line, its en line."""
    text = absences_text()
    start = text.index("    note:\n      lv: ")
    lv_end = text.index("\n", start + len("    note:\n")) + 1
    en_end = text.index("\n", lv_end) + 1
    return text[start:en_end], text[start + len("    note:\n"):lv_end], text[lv_end:en_end]


def test_an_english_only_state_note_is_refused_at_the_note(tmp_path: Path,
                                                           known: KnownNames) -> None:
    block, _, _ = parent_contact_note()
    path, text = write_corrupted(tmp_path, (block, "    note: Contact the parents.\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "note: Contact the parents."),
                        "states.parent_contact.note")


def test_a_state_note_without_its_english_is_refused(tmp_path: Path,
                                                      known: KnownNames) -> None:
    block, lv, _ = parent_contact_note()
    path, text = write_corrupted(tmp_path, (block, "    note:\n" + lv))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, lv.strip()) - 1,   # at `note:`
                        "states.parent_contact.note.en")


def test_a_transition_note_is_a_text_in_both_languages(tmp_path: Path,
                                                       known: KnownNames) -> None:
    path, text = write_corrupted(tmp_path, (
        "  - trigger: record_unjustified\n",
        "  - trigger: record_unjustified\n    note: Record it.\n"))
    exc = rejection(path, known)
    assert_only_problem(exc, path, line_containing(text, "note: Record it."),
                        "transitions.1.note")


@pytest.mark.parametrize("path", REAL_DECLARATIONS, ids=lambda p: p.stem)
def test_every_real_note_is_latvian_first_with_its_english(path: Path) -> None:
    import yaml
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    notes = [s["note"] for s in data["states"].values() if "note" in s]
    notes += [t["note"] for t in data["transitions"] if "note" in t]
    for note in notes:
        assert list(note) == ["lv", "en"], note
        assert any(ch in note["lv"] for ch in "āčēģīķļņšūž"), note["lv"]
