"""Search (engine.search), the duplicate warning of open_case and a child's other
cases in the case view, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.cases import fire, open_case
from engine.children import fold, name_words
from engine.errors import AccessDenied, DuplicateCase, InvalidSearch
from engine.queries import actor_for, case_view
from engine.search import MAX_QUERY, personal_code_digits, search_cases
from engine.store import ACCESS, CHILD, ESCALATION, NAME_WORD
from engine.tables import AccessAction, Channel
from gaita.bootstrap import App
from gaita.demo import demo_code, sample_fields
from tests.conftest import snapshot

SCHOOL, OTHER_SCHOOL = "jelgavas-4-vsk", "jelgavas-spidolas-gimnazija"
CODE = demo_code(3)


def _open(gaita: App, name: str, code: str, *, school: str = SCHOOL,
          case_type: str = "absences", warn_duplicate: bool = False) -> str:
    fields = sample_fields(gaita.rt.registry.latest(case_type).open.fields)
    return open_case(gaita.db, gaita.rt, case_type, actor_for(gaita.db, "koordinatore"),
                     child_name=name, child_code=code, school=school, fields=fields,
                     warn_duplicate=warn_duplicate).reference


def _refs(gaita: App, user: str, text: str) -> list[str]:
    return [r["reference"] for r in
            search_cases(gaita.db, gaita.rt, actor_for(gaita.db, user), text).rows]


def test_fold_drops_diacritics_case_and_punctuation() -> None:
    assert fold("Bērziņš") == "berzins"
    assert fold("  ĢIRTS   Čakste-Ķēniņa ") == "girts cakste kenina"
    assert fold("Žanete Ļaudāma Ūna Ņ") == "zanete laudama una n"
    assert name_words("Anna Anna Bērziņa") == ["anna", "berzina"]
    assert name_words("—") == []


def test_personal_code_digits() -> None:
    assert personal_code_digits("030915-21235") == "03091521235"
    assert personal_code_digits(" 03091521235 ") == "03091521235"
    assert personal_code_digits("0309152-1235") is None
    assert personal_code_digits("030915") is None
    assert personal_code_digits("berzins") is None


def test_name_without_diacritics_partial_any_order(gaita: App) -> None:
    ref = _open(gaita, "Jānis Bērziņš", CODE)
    other = _open(gaita, "Anna Kalniņa", demo_code(20))
    for text in ("berzins", "Bērziņš", "BERZ", "berz jan", "jan berz", "  Jānis   Bērziņš "):
        assert _refs(gaita, "koordinatore", text) == [ref], text
    assert _refs(gaita, "koordinatore", "kaln") == [other]
    assert _refs(gaita, "koordinatore", "berz anna") == []
    assert _refs(gaita, "koordinatore", "ozols") == []


def test_code_found_through_the_hash_never_stored_in_the_index(gaita: App) -> None:
    ref = _open(gaita, "Jānis Bērziņš", CODE)
    _open(gaita, "Anna Kalniņa", demo_code(20))
    assert _refs(gaita, "koordinatore", CODE) == [ref]
    assert _refs(gaita, "koordinatore", CODE.replace("-", "")) == [ref]
    assert _refs(gaita, "koordinatore", CODE[:6]) == []   # exact codes only
    with gaita.db.connect() as conn:
        words = set(conn.execute(sa.select(NAME_WORD.c.word)).scalars())
    assert words == {"janis", "berzins", "anna", "kalnina"}
    assert not any(CODE[:6] in w for w in words)


def test_reference_exact_or_prefix_any_case(gaita: App) -> None:
    first = _open(gaita, "Jānis Bērziņš", CODE)
    second = _open(gaita, "Anna Kalniņa", demo_code(20))
    assert _refs(gaita, "koordinatore", first.lower()) == [first]
    assert _refs(gaita, "koordinatore", first[:-1]) == [second, first]   # newest first
    assert _refs(gaita, "koordinatore", "KAV-1999") == []
    assert _refs(gaita, "koordinatore", "kav_%") == []   # LIKE's wildcards are letters here


def test_closed_cases_are_found_too(gaita: App) -> None:
    ref = _open(gaita, "Jānis Bērziņš", CODE)
    fire(gaita.db, gaita.rt, ref, "absence_justified", actor_for(gaita.db, "koordinatore"),
         {"reason": "slimība"})
    rows = search_cases(gaita.db, gaita.rt, actor_for(gaita.db, "koordinatore"), "berzins").rows
    assert [(r["reference"], r["status"], r["child_name"]) for r in rows] == [
        (ref, "closed", "Jānis Bērziņš")]


def test_results_respect_the_access_policy(gaita: App) -> None:
    ours = _open(gaita, "Jānis Bērziņš", CODE)
    theirs = _open(gaita, "Jānis Bērziņš", demo_code(21), school=OTHER_SCHOOL)
    assert set(_refs(gaita, "koordinatore", "berzins")) == {ours, theirs}
    assert _refs(gaita, "skola", "berzins") == [ours]        # school staff: its own cases
    assert _refs(gaita, "skola", demo_code(21)) == []
    assert _refs(gaita, "skola", theirs) == []
    assert _refs(gaita, "grupa", "berzins") == []            # never escalated
    with pytest.raises(AccessDenied):                         # no cases at all
        search_cases(gaita.db, gaita.rt, actor_for(gaita.db, "admin"), "berzins")


def test_results_with_names_are_logged_without_the_query(gaita: App) -> None:
    ref = _open(gaita, "Jānis Bērziņš", CODE)
    search_cases(gaita.db, gaita.rt, actor_for(gaita.db, "koordinatore"), "berzins",
                 channel=Channel.WEB)
    with gaita.db.connect() as conn:
        rows = conn.execute(sa.select(ACCESS.c.actor, ACCESS.c.action, ACCESS.c.channel,
                                      ACCESS.c.detail)).all()
    assert [tuple(r) for r in rows] == [("koordinatore", AccessAction.READ, "web", "search")]
    assert ref   # the found case's row; nothing names what was typed


@pytest.mark.parametrize(("text", "code"), [("", "search.empty"), ("   ", "search.empty"),
                                            ("x" * (MAX_QUERY + 1), "search.too_long"),
                                            ("a b c d e f g", "search.too_many_words")])
def test_bad_queries_are_refused_by_code(gaita: App, text: str, code: str) -> None:
    with pytest.raises(InvalidSearch) as caught:
        search_cases(gaita.db, gaita.rt, actor_for(gaita.db, "koordinatore"), text)
    assert caught.value.code == code


def test_more_than_the_limit_says_so(gaita: App) -> None:
    for n in range(3):
        _open(gaita, "Jānis Bērziņš", demo_code(30 + n))
    found = search_cases(gaita.db, gaita.rt, actor_for(gaita.db, "koordinatore"), "janis",
                         limit=2)
    assert len(found.rows) == 2 and found.more


# --- the duplicate warning -------------------------------------------------------------


def test_open_duplicate_is_refused_before_saving(gaita: App) -> None:
    first = _open(gaita, "Jānis Bērziņš", CODE)
    before = snapshot(gaita.db)
    with pytest.raises(DuplicateCase) as caught:
        _open(gaita, "Jānis Bērziņš", CODE.replace("-", ""), warn_duplicate=True)
    assert caught.value.references == (first,)
    assert caught.value.repeated   # absences: a case within the window is queued as repeated
    assert caught.value.code == "case.duplicate_open_repeated"
    assert snapshot(gaita.db) == before   # nothing written


def test_confirmed_duplicate_opens_and_is_queued_as_repeated(gaita: App) -> None:
    first = _open(gaita, "Jānis Bērziņš", CODE)
    result = open_case(gaita.db, gaita.rt, "absences", actor_for(gaita.db, "koordinatore"),
                       child_name="Jānis Bērziņš", child_code=CODE, school=SCHOOL,
                       fields={"age_group": "basic"})
    assert result.repeated == first
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ESCALATION)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(CHILD)).scalar_one() == 1


def test_no_warning_for_another_type_a_closed_case_or_a_new_child(gaita: App) -> None:
    ref = _open(gaita, "Jānis Bērziņš", CODE)
    _open(gaita, "Jānis Bērziņš", CODE, case_type="violence", warn_duplicate=True)
    _open(gaita, "Anna Kalniņa", demo_code(20), warn_duplicate=True)
    fire(gaita.db, gaita.rt, ref, "absence_justified", actor_for(gaita.db, "koordinatore"),
         {"reason": "slimība"})
    again = open_case(gaita.db, gaita.rt, "absences", actor_for(gaita.db, "koordinatore"),
                      child_name="Jānis Bērziņš", child_code=CODE, school=SCHOOL,
                      fields={"age_group": "basic"}, warn_duplicate=True)
    assert again.repeated == ref   # not open any more: no warning, still queued as repeated


def test_duplicate_without_a_repeat_window_says_nothing_of_the_group(gaita: App) -> None:
    first = _open(gaita, "Jānis Bērziņš", CODE, case_type="violence")
    with pytest.raises(DuplicateCase) as caught:
        _open(gaita, "Jānis Bērziņš", CODE, case_type="violence", warn_duplicate=True)
    assert caught.value.references == (first,) and not caught.value.repeated
    assert caught.value.code == "case.duplicate_open"


# --- the child's other cases on the case view ------------------------------------------


def test_case_view_lists_the_childs_other_cases_the_reader_may_see(gaita: App) -> None:
    ours = _open(gaita, "Jānis Bērziņš", CODE)
    violence = _open(gaita, "Jānis Bērziņš", CODE, case_type="violence", school=OTHER_SCHOOL)
    _open(gaita, "Anna Kalniņa", demo_code(20))
    view = case_view(gaita.db, gaita.rt, ours, actor_for(gaita.db, "koordinatore"))
    assert [(c["reference"], c["case_type"], c["status"]) for c in view["child_cases"]] == [
        (violence, "violence", "open")]
    school = case_view(gaita.db, gaita.rt, ours, actor_for(gaita.db, "skola"))
    assert school["child_cases"] == []   # the other school's case is not the school's


def test_broad_queries_walk_the_cases_and_find_the_same(gaita: App,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    refs = [_open(gaita, "Jānis Bērziņš", demo_code(40 + n)) for n in range(3)]
    other = _open(gaita, "Jānis Bērziņš", demo_code(50), school=OTHER_SCHOOL)
    narrow = _refs(gaita, "skola", "berz jan"), _refs(gaita, "koordinatore", "kav")
    monkeypatch.setattr("engine.search.NARROW", 1)   # every way with 2+ matches is broad
    assert _refs(gaita, "skola", "berz jan") == narrow[0] == refs[::-1]
    assert _refs(gaita, "koordinatore", "kav") == narrow[1] == [other, *refs[::-1]]
    assert _refs(gaita, "koordinatore", "kav-2026-0000") == [other, *refs[::-1]]
