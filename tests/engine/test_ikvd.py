"""The IKVD status list (issue 11 point 5): versioned configuration, required to close an
unregistered-child case, every status usable, precise refusals with nothing stored."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.cases import fire, open_case
from engine.definitions import FieldSpec, KnownNames, Workflow, load_workflow
from engine.errors import FieldError, InvalidWorkflowDefinition
from engine.guards import GUARDS
from engine.ikvd import LIST_VERSION, STATUS_FIELD, step_fields
from engine.queries import actor_for, case_view
from engine.registry import load_roles
from gaita.bootstrap import App
from tests.conftest import snapshot
from tests.engine.test_information_requests import make_requests
from tests.engine.test_municipality import (
    JELGAVA,
    assert_reports,
    edit,
    line_of,
    rejected,
)

ROOT = Path(__file__).resolve().parents[2]
UNREGISTERED = ROOT / "workflows" / "unregistered_child.yaml"
CODE = "120514-21234"
SAMPLE = {"bool": "true", "text": "Pārbaudīts", "int": "1", "date": "2026-11-30"}


def open_unregistered(gaita: App) -> str:
    """An unregistered-child case whose MK 871 p. 6 information requests are made."""
    ref = open_case(gaita.db, gaita.rt, "unregistered_child", actor_for(gaita.db, "koordinatore"),
                    child_name="Anna Ozola", child_code=CODE, fields={
                        "ikvd_list_date": "2026-11-30", "ikvd_cycle": "oct_30",
                        "age_group": "basic"}).reference
    make_requests(gaita, ref)
    return ref


def filled(specs: dict[str, FieldSpec]) -> dict[str, Any]:
    """A value for every declared field but the status."""
    return {name: (spec.choices or [""])[0] if spec.type == "choice" else SAMPLE[spec.type]
            for name, spec in specs.items() if name != STATUS_FIELD}


def closing_for(wf: Workflow, code: str) -> Any:
    return next(t for t in wf.transitions if t.ikvd_status and code in t.ikvd_status)


STATUSES = sorted(__import__("yaml").safe_load(
    (JELGAVA / "ikvd_statuses.yaml").read_text(encoding="utf-8"))["statuses"])


def test_the_list_is_versioned_and_complete(gaita: App) -> None:
    statuses = gaita.rt.municipality.ikvd_statuses
    assert statuses is not None and statuses.version == 1
    titles = {s.title.lv for s in statuses.statuses.values()}
    # DOMAIN.md §1.3: every category, including the two the municipality reports itself
    assert {"Pašvaldībai nav informācijas", "Pašvaldība noskaidro situāciju",
            "Bezvēsts prombūtnē", "Ilgstoša slimība", "Bērns ar invaliditāti",
            "Adoptēts uz ārvalstīm", "Deklarētā dzīvesvieta anulēta", "Cits iemesls"} <= titles
    for status in statuses.statuses.values():   # each mapped to what is reported
        assert status.report.lv and status.report.en


@pytest.mark.parametrize("code", STATUSES)
def test_a_case_closes_with_every_status(gaita: App, code: str) -> None:
    ref = open_unregistered(gaita)
    wf = gaita.rt.registry.latest("unregistered_child")
    closing = closing_for(wf, code)
    if "verification" not in closing.source:   # e.g. enrolled: located first
        fire(gaita.db, gaita.rt, ref, "located_not_learning", actor_for(gaita.db, "koordinatore"),
             {"parents_reached": "true"})
    fields = filled(step_fields(gaita.rt.municipality, closing))
    r = fire(gaita.db, gaita.rt, ref, closing.trigger, actor_for(gaita.db, "koordinatore"),
             {**fields, STATUS_FIELD: code})
    assert r.outcome == wf.state(closing.dest).outcome
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    assert view["status"] == "closed"
    assert (view["data"][STATUS_FIELD], view["data"][LIST_VERSION]) == (code, 1)
    assert view["timeline"][-1]["fields"][STATUS_FIELD] == code


@pytest.mark.parametrize(("given", "code", "names"), [
    ({}, "ikvd.status_missing", "abroad"),
    ({STATUS_FIELD: "  "}, "ikvd.status_missing", "abroad"),
    ({STATUS_FIELD: "emigrated"}, "ikvd.status_unknown", "'emigrated'"),
    ({STATUS_FIELD: "deceased"}, "ikvd.status_not_for_step", "deceased"),
])
def test_a_case_does_not_close_without_a_fitting_status(gaita: App, given: dict[str, str],
                                                        code: str, names: str) -> None:
    ref = open_unregistered(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(FieldError) as info:
        fire(gaita.db, gaita.rt, ref, "status_abroad", actor_for(gaita.db, "koordinatore"),
             {"status_source": "pmlp", "viis_status_recorded": "true", **given})
    assert info.value.field == STATUS_FIELD and info.value.reason.code == code
    assert "abroad" in [str(a) for a in info.value.reason.params["allowed"]]   # what fits
    assert names in str(info.value.reason.params.get("value") or "") + str(
        info.value.reason.params.get("status") or "") + str(info.value.reason.params["allowed"])
    assert snapshot(gaita.db) == before


def test_the_unresolved_closing_offers_the_three_statuses(gaita: App) -> None:
    ref = open_unregistered(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(FieldError) as info:
        fire(gaita.db, gaita.rt, ref, "report_unresolved", actor_for(gaita.db, "koordinatore"),
             {"status_source": "police", "viis_status_recorded": "true", "checks_done": "VSAA",
              STATUS_FIELD: "abroad"})
    assert [str(a) for a in info.value.reason.params["allowed"]] == [
        "clarifying", "no_information", "missing"]
    assert snapshot(gaita.db) == before


# --- the configuration ------------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "jelgava"
    shutil.copytree(JELGAVA, target)
    return target


FILE = "ikvd_statuses.yaml"


def test_a_status_without_its_report_is_refused_with_file_and_line(copy: Path) -> None:
    edit(copy, FILE, '    report: {lv: "Bezvēsts prombūtnē", en: "Missing (bezvēsts prombūtnē)"}\n', "")
    assert_reports(rejected(copy), FILE, line_of(copy, FILE, "  missing:"),
                   "missing required key 'report'")


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("  missing:\n", "  Missing-Child:\n", "Missing-Child"),
    ("version: 1\n", "version: one\n", "valid integer"),
    ("version: 1\n", "version: 0\n", "0"),
    ("valid_from: 2026-12-01\n", "valid_from: soon\n", "valid date"),
    ("    tag: U\n    source: \"DOMAIN.md §1.4 A5a\"\n",
     "    tag: X\n    source: \"DOMAIN.md §1.4 A5a\"\n", "'V', 'J' or 'U'"),
])
def test_bad_entries_are_refused_with_file_and_line(copy: Path, old: str, new: str,
                                                    reason: str) -> None:
    edit(copy, FILE, old, new)
    assert_reports(rejected(copy), FILE, line_of(copy, FILE, new.strip().splitlines()[0]),
                   reason)


def test_a_status_given_twice_is_refused(copy: Path) -> None:
    edit(copy, FILE, "  deceased:\n", "  abroad:\n")
    second = [n for n, line in enumerate((copy / FILE).read_text().splitlines(), 1)
              if line == "  abroad:"][1]
    assert_reports(rejected(copy), FILE, second, "duplicate key 'abroad'")


def test_the_file_is_optional(copy: Path) -> None:
    (copy / FILE).unlink()
    from tests.engine.test_municipality import load
    assert load(copy).ikvd_statuses is None


# --- the declaration --------------------------------------------------------------------


def known(statuses: tuple[str, ...] | None = tuple(STATUSES)) -> KnownNames:
    roles = load_roles(ROOT / "workflows")
    return KnownNames(roles.institution_roles, roles.user_roles, GUARDS,
                      ikvd_statuses=statuses)


def corrupted(tmp_path: Path, old: str, new: str) -> Path:
    text = UNREGISTERED.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "unregistered_child.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def problems(path: Path, names: KnownNames) -> str:
    with pytest.raises(InvalidWorkflowDefinition) as info:
        load_workflow(path, names)
    return str(info.value)


def test_the_real_declaration_names_every_configured_status() -> None:
    load_workflow(UNREGISTERED, known())


def test_an_unknown_status_code_is_refused(tmp_path: Path) -> None:
    path = corrupted(tmp_path, "ikvd_status: [deceased]", "ikvd_status: [dead]")
    line = path.read_text(encoding="utf-8").splitlines().index("    ikvd_status: [dead]") + 1
    message = problems(path, known())
    assert f"{path}:{line}: " in message and "'dead'" in message
    assert "status_deceased" in message


def test_a_closing_step_without_a_status_is_refused(tmp_path: Path) -> None:
    path = corrupted(tmp_path, "    ikvd_status: [disability]\n", "")
    message = problems(path, known(tuple(s for s in STATUSES if s != "disability")))
    assert "status_disability" in message and "ikvd_status:" in message


def test_a_configured_status_no_step_closes_with_is_refused(tmp_path: Path) -> None:
    path = corrupted(tmp_path, "ikvd_status: [clarifying, no_information, missing]",
                     "ikvd_status: [no_information, missing]")
    assert "'clarifying'" in problems(path, known())
