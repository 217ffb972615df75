"""The municipality config: the real Jelgava folder loads, and every defect is reported with file and line."""

from __future__ import annotations

import re
import shutil
from datetime import time
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.municipality import ConfigLookupError, MunicipalityConfig, load_municipality
from engine.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[2]
JELGAVA = ROOT / "config" / "jelgava"
ROLES = frozenset(load_yaml(ROOT / "workflows" / "roles.yaml")["institution_roles"])

# The seed's JSLP services x problems matrix (seeds/002, "JSLP nodrošinātās sociālā
# atbalsta metodes un sociālie pakalpojumi"), row by row.
ALL = {"absences", "substances", "unregistered"}
MATRIX = {
    "psychologist": ALL,
    "emotional-upbringing": {"substances", "unregistered"},
    "celvedis": ALL,
    "social-assistance-consultation": ALL,
    "sensory-motor": ALL,
    "uskp": {"absences", "substances"},
    "social-skills": {"absences", "substances"},
    "inner-resources": {"absences", "substances"},
    "vvapn-consultation": {"substances"},
    "indicated-prevention": {"substances"},
    "other-18-8": ALL,
}


def load(directory: Path = JELGAVA) -> MunicipalityConfig:
    return load_municipality(directory, institution_roles=ROLES, shared_roles={"school"})


@pytest.fixture(scope="module")
def jelgava() -> MunicipalityConfig:
    return load()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "jelgava"
    shutil.copytree(JELGAVA, target)
    return target


def edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(folder: Path, file: str, needle: str) -> int:
    lines = (folder / file).read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(lines, 1) if needle in line]
    assert len(found) == 1, f"{needle!r} found on lines {found} of {file}"
    return found[0]


def rejected(folder: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(folder)
    return info.value


def assert_reports(error: ConfigError, file: str, line: int | None, *reason: str) -> None:
    """One problem of ``error`` is in ``file`` at ``line`` and its reason contains every ``reason``."""
    message = str(error)
    where = f"{file}:{line}: " if line else f"{file}: "
    matching = [m for m in message.splitlines() if where in m and all(r in m for r in reason)]
    assert matching, f"no problem at {where!r} mentioning {reason!r} in:\n{message}"


# --- the real configuration ------------------------------------------------------------


def test_jelgava_loads(jelgava: MunicipalityConfig) -> None:
    m = jelgava.municipality
    assert (m.code, m.timezone, m.default_locale) == ("jelgava", "Europe/Riga", "lv")
    assert m.name.lv == "Jelgavas valstspilsētas pašvaldība"
    cal = jelgava.calendar
    assert (cal.country, cal.timezone, cal.day_end) == ("LV", "Europe/Riga", time(23, 59, 59))
    assert cal.extra_holidays == () and cal.extra_working_days == ()


def test_every_declared_role_has_its_institution(jelgava: MunicipalityConfig) -> None:
    expected = {"education_board": "jip", "social_service": "jslp", "addiction_prevention": "jslp-vvapn",
                "orphans_court": "barintiesa", "municipal_police": "pp", "state_police": "vp-jelgava",
                "admin_commission": "ak-bla", "cooperation_group": "btasg", "ikvd": "ikvd", "bac": "bac",
                "vsaa": "vsaa", "civil_registry": "dzimtsarakstu-nodala", "siva": "siva",
                "pmlp": "pmlp"}
    assert set(expected) | {"school"} == ROLES
    assert {role: jelgava.institution_for_role(role).code for role in expected} == expected
    schools = {i.code for i in jelgava.institutions_with_role("school")}
    assert {"jelgavas-4-vsk", "jelgavas-spidolas-gimnazija"} <= schools and len(schools) >= 4
    assert any(i.name.lv.startswith("Jelgavas pirmsskolas") for i in jelgava.institutions_with_role("school"))


def test_lookups_fail_with_a_named_config_error(jelgava: MunicipalityConfig) -> None:
    with pytest.raises(ConfigError, match="'school' needs exactly one holder"):
        jelgava.institution_for_role("school")
    with pytest.raises(ConfigLookupError, match="unknown institution role 'teacher'"):
        jelgava.institutions_with_role("teacher")
    with pytest.raises(KeyError, match="no institution 'nowhere'"):
        jelgava.institution("nowhere")
    with pytest.raises(ConfigLookupError, match=r"no parameter 'absences\.nope'") as info:
        jelgava.parameter("absences.nope")
    assert str(info.value) == f"{JELGAVA}: no parameter 'absences.nope' (thresholds, parameters or group meetings)"
    assert isinstance(info.value, KeyError) and info.value.problems[0].line is None


def test_emails_are_placeholders(jelgava: MunicipalityConfig) -> None:
    for inst in jelgava.institutions:
        assert inst.email.endswith(".example.lv") and inst.head_email.endswith(".example.lv"), inst.code
    header = (JELGAVA / "institutions.yaml").read_text(encoding="utf-8").split("\n- ", 1)[0]
    assert "PLACEHOLDERS" in header and "MUST BE REPLACED" in header


def test_services_match_the_seed_matrix(jelgava: MunicipalityConfig) -> None:
    assert {s.code: set(s.problems) for s in jelgava.services} == MATRIX
    by_code = {s.code: s for s in jelgava.services}
    assert {c: s.sessions for c, s in by_code.items() if s.sessions} == {
        "emotional-upbringing": 12, "celvedis": 10, "social-skills": 28, "inner-resources": 10}
    assert [c for c, s in by_code.items() if not s.available] == ["sensory-motor"]
    assert by_code["vvapn-consultation"].provider == "jslp-vvapn"
    assert by_code["indicated-prevention"].min_age == 13
    assert (by_code["celvedis"].min_age, by_code["celvedis"].max_age) == (12, 17)


def test_external_resources(jelgava: MunicipalityConfig) -> None:
    names = " | ".join(r.name.lv for r in jelgava.external_resources)
    for expected in ("Bērnu un pusaudžu resursu centrs", "Latvijas Bērnu fonds", "MKB",
                     "Valsts probācijas dienests", "Narkologs", "jauniešu centri"):
        assert expected in names


def test_cooperation_group(jelgava: MunicipalityConfig) -> None:
    group = jelgava.cooperation_group
    assert group.declared_size == 14 and len(group.members) == 11
    assert group.chair.institution == "dome" and "priekšsēdētāja vietnieks" in group.chair.position.lv
    assert any("545" in ref for ref in group.legal_basis) and any("15/14" in ref for ref in group.legal_basis)
    assert {m.institution for m in group.members} == {"ak-bla", "sabiedriskais-centrs", "barintiesa", "jslp",
                                                      "pp", "vp-jelgava", "jip"}
    assert (group.unknown_seats.value, group.unknown_seats.tag) == (2, "U")
    # MK 545's required core, the education board (JIP) among it, each with a seat
    assert group.core_roles.roles == ("municipal_police", "social_service", "education_board",
                                      "orphans_court")
    jip = [s for s in group.seats if s.institution == "jip"]
    assert [s.position.lv for s in jip] == ["Jelgavas izglītības pārvaldes pārstāvis"]
    assert {p.tag for p in group.meetings.values()} == {"U"}
    assert jelgava.parameter("cooperation_group.extraordinary_max_wait_working_days") == 1


def test_every_role_the_law_requires_in_the_group_has_a_seat(copy: Path) -> None:
    group = copy / "cooperation_group.yaml"
    text = group.read_text(encoding="utf-8")
    jip_seat = ("  - position:\n      lv: Jelgavas izglītības pārvaldes pārstāvis\n"
                "      en: Representative of the Jelgava Education Board\n    institution: jip\n")
    assert text.count(jip_seat) == 1
    group.write_text(text.replace(jip_seat, "").replace("  value: 2\n  unit: seats",
                                                        "  value: 3\n  unit: seats")
                     .replace("orphans_court]", "orphans_court, school_nurse]"), encoding="utf-8")
    error = rejected(copy)
    line = line_of(copy, "cooperation_group.yaml", "roles: [municipal_police")
    assert_reports(error, "cooperation_group.yaml", line,
                   "the law (MK 545) requires education_board in the group, but jip has no seat")
    assert_reports(error, "cooperation_group.yaml", line, "unknown institution role 'school_nurse'")
    assert len(error.problems) == 2, str(error)


def test_thresholds(jelgava: MunicipalityConfig) -> None:
    expected = {
        "absences.unjustified_lessons_per_semester": (20, "V"),
        "absences.preschool_unjustified_days": (3, "V"),
        "absences.preschool_days_counting": ("per_semester", "U"),
        "absences.in_school_intervention_from_lessons": (10, "U"),
        "jslp.absences_require_social_problem": (True, "J"),
        "jslp.substances_min_incidents": (2, "U"),
        "jslp.unregistered_requires_abroad_ruled_out": (True, "J"),
        "substances.repeat_window_months": (12, "U"),
    }
    for name, (value, tag) in expected.items():
        assert jelgava.parameter(name) == value and type(jelgava.parameter(name)) is type(value), name
        assert jelgava.parameters[name].tag == tag and jelgava.parameters[name].source.strip(), name


def test_latvian_diacritics_round_trip(jelgava: MunicipalityConfig, copy: Path) -> None:
    assert jelgava.institution("barintiesa").name.lv == "Jelgavas bāriņtiesa"
    assert jelgava.institution("barintiesa").short == "Bāriņtiesa"
    assert next(s for s in jelgava.services if s.code == "celvedis").name.lv == "Ceļvedis audzinot pusaudzi"
    word = "Āboliņš Ēriks Ģirts Īva Ķēķis Ļoti Ņuņa Ōzols Šķūnis Ūdrs Žūžņa"
    edit(copy, "institutions.yaml", "lv: Jelgavas bāriņtiesa", f"lv: {word}")
    assert load(copy).institution("barintiesa").name.lv == word


def test_parameters_file_is_merged_and_may_be_absent(copy: Path) -> None:
    (copy / "parameters.yaml").unlink(missing_ok=True)
    assert "absences.unjustified_lessons_per_semester" in load(copy).parameters
    (copy / "parameters.yaml").write_text(
        "# deadlines\nabsences.board_assessment_days:\n  value: 5\n  unit: working_days\n  tag: U\n"
        "  source: proposal\n", encoding="utf-8")
    assert load(copy).parameter("absences.board_assessment_days") == 5


# --- rejections: each names the file, the line and the reason ---------------------------


def test_missing_directory(tmp_path: Path) -> None:
    error = rejected(tmp_path / "nowhere")
    assert_reports(error, "nowhere", None, "municipality config directory not found")


def test_missing_file(copy: Path) -> None:
    (copy / "services.yaml").unlink()
    assert_reports(rejected(copy), "services.yaml", None, "file not found")


def test_yaml_syntax_error(copy: Path) -> None:
    edit(copy, "calendar.yaml", "country: LV", "country: [LV")
    assert_reports(rejected(copy), "calendar.yaml", line_of(copy, "calendar.yaml", "country: [LV") + 1,
                   "YAML syntax error")


def test_unknown_key(copy: Path) -> None:
    edit(copy, "institutions.yaml", "  short: JSLP\n", "  short: JSLP\n  colour: red\n")
    assert_reports(rejected(copy), "institutions.yaml", line_of(copy, "institutions.yaml", "colour: red"),
                   "unknown key 'colour'")


def test_missing_key(copy: Path) -> None:
    edit(copy, "institutions.yaml", "  short: PP\n", "")
    line = line_of(copy, "institutions.yaml", "- code: pp")
    assert_reports(rejected(copy), "institutions.yaml", line, "missing required key 'short'")


@pytest.mark.parametrize(("file", "old", "new", "reason"), [
    ("cooperation_group.yaml", "declared_size: 14", "declared_size: fourteen", "valid integer"),
    ("services.yaml", "available: false", 'available: "no"', "valid boolean"),
    ("municipality.yaml", "timezone: Europe/Riga", "timezone: Europe/Rigaa", "not a known time zone"),
    ("calendar.yaml", 'day_end: "23:59:59"', "day_end: 23:59:59", 'quoted time such as "23:59:59"'),
    ("calendar.yaml", "extra_holidays: []", "extra_holidays: [soon]", "a date is written DD.MM.YYYY"),
    ("institutions.yaml", "email: jip@jelgava.example.lv", "email: jip-at-jelgava", "not an e-mail address"),
    ("services.yaml", "problems: [substances]", "problems: [drugs]", "'absences', 'substances' or 'unregistered'"),
])
def test_wrong_type(copy: Path, file: str, old: str, new: str, reason: str) -> None:
    edit(copy, file, old, new)
    assert_reports(rejected(copy), file, line_of(copy, file, new), reason)


def test_unknown_institution_role(copy: Path) -> None:
    edit(copy, "institutions.yaml", "roles: [social_service]", "roles: [social_servce]")
    assert_reports(rejected(copy), "institutions.yaml", line_of(copy, "institutions.yaml", "social_servce"),
                   "unknown institution role 'social_servce'", "declared: ")


def test_duplicate_institution_code(copy: Path) -> None:
    edit(copy, "institutions.yaml", "- code: pp\n", "- code: jip\n")
    lines = (copy / "institutions.yaml").read_text(encoding="utf-8").splitlines()
    first, second = [n for n, text in enumerate(lines, 1) if text == "- code: jip"]
    error = rejected(copy)
    assert_reports(error, "institutions.yaml", second, "duplicate institution code 'jip'", f"first at line {first}")
    # the cooperation group's police seats now name a code that no longer exists
    group_lines = (copy / "cooperation_group.yaml").read_text(encoding="utf-8").splitlines()
    for line in [n for n, text in enumerate(group_lines, 1) if text.strip() == "institution: pp"]:
        assert_reports(error, "cooperation_group.yaml", line, "unknown institution 'pp'")


def test_role_held_twice(copy: Path) -> None:
    edit(copy, "institutions.yaml", "roles: [education_board]", "roles: [education_board, social_service]")
    line = line_of(copy, "institutions.yaml", "roles: [education_board, social_service]")
    jslp_line = line_of(copy, "institutions.yaml", "roles: [social_service]")
    error = rejected(copy)
    assert_reports(error, "institutions.yaml", jslp_line, "role 'social_service' is already held by 'jip'",
                   "only per-case roles (school) may be held by more than one institution")
    assert f"institutions.yaml:{line}:" not in str(error)  # the first holder is fine


def test_school_may_be_held_by_many(copy: Path) -> None:
    assert len(load(copy).institutions_with_role("school")) >= 4


def test_cooperation_member_names_unknown_institution(copy: Path) -> None:
    edit(copy, "cooperation_group.yaml", "institution: vp-jelgava", "institution: vp-riga")
    assert_reports(rejected(copy), "cooperation_group.yaml", line_of(copy, "cooperation_group.yaml", "vp-riga"),
                   "unknown institution 'vp-riga'", "not in institutions.yaml")


def test_cooperation_chair_names_unknown_institution(copy: Path) -> None:
    edit(copy, "cooperation_group.yaml", "institution: dome", "institution: saeima")
    assert_reports(rejected(copy), "cooperation_group.yaml", line_of(copy, "cooperation_group.yaml", "saeima"),
                   "unknown institution 'saeima'")


def test_cooperation_group_size_must_add_up(copy: Path) -> None:
    edit(copy, "cooperation_group.yaml", "declared_size: 14", "declared_size: 15")
    assert_reports(rejected(copy), "cooperation_group.yaml", line_of(copy, "cooperation_group.yaml", "declared_size: 15"),
                   "declared size 15", "= 14")


def test_service_provider_unknown(copy: Path) -> None:
    edit(copy, "services.yaml", "provider: jslp-vvapn", "provider: jslp-xyz")
    assert_reports(rejected(copy), "services.yaml", line_of(copy, "services.yaml", "jslp-xyz"),
                   "unknown institution 'jslp-xyz'")


def test_duplicate_service_code(copy: Path) -> None:
    edit(copy, "services.yaml", "- code: uskp", "- code: celvedis")
    lines = (copy / "services.yaml").read_text(encoding="utf-8").splitlines()
    first, second = [n for n, text in enumerate(lines, 1) if text.strip() == "- code: celvedis"]
    assert_reports(rejected(copy), "services.yaml", second, "duplicate service code 'celvedis'",
                   f"first at line {first}")


def test_parameter_defined_in_two_files(copy: Path) -> None:
    (copy / "parameters.yaml").write_text(
        "absences.board_assessment_days:\n  value: 5\n  tag: U\n  source: proposal\n"
        "absences.unjustified_lessons_per_semester:\n  value: 25\n  tag: U\n  source: typo\n", encoding="utf-8")
    first = line_of(copy, "thresholds.yaml", "absences.unjustified_lessons_per_semester:")
    error = rejected(copy)
    assert_reports(error, "parameters.yaml", 5, "parameter 'absences.unjustified_lessons_per_semester'",
                   f"thresholds.yaml:{first}")


def test_meeting_parameter_clashes_with_parameters_file(copy: Path) -> None:
    (copy / "parameters.yaml").write_text(
        "cooperation_group.ordinary_max_wait_working_days:\n  value: 5\n  tag: U\n  source: x\n",
        encoding="utf-8")
    assert_reports(rejected(copy), "cooperation_group.yaml",
                   line_of(copy, "cooperation_group.yaml", "  ordinary_max_wait_working_days:"),
                   "'cooperation_group.ordinary_max_wait_working_days' is also defined at",
                   "parameters.yaml:1")


def test_parameter_tag_must_be_v_j_or_u(copy: Path) -> None:
    edit(copy, "thresholds.yaml", "  tag: V\n", "  tag: X\n")
    assert_reports(rejected(copy), "thresholds.yaml", line_of(copy, "thresholds.yaml", "tag: X"),
                   "'absences.unjustified_lessons_per_semester'.tag", "'V', 'J' or 'U'")


def test_parameter_source_must_not_be_empty(copy: Path) -> None:
    text = (copy / "thresholds.yaml").read_text(encoding="utf-8")
    source = re.search(r'  source: "MK 89[^\n]*', text)
    assert source is not None
    edit(copy, "thresholds.yaml", source.group(0), '  source: ""')
    assert_reports(rejected(copy), "thresholds.yaml", line_of(copy, "thresholds.yaml", 'source: ""'),
                   ".source: '' is not a non-empty text")


def test_parameter_source_is_required(copy: Path) -> None:
    (copy / "parameters.yaml").write_text("absences.x_days:\n  value: 5\n  tag: U\n", encoding="utf-8")
    assert_reports(rejected(copy), "parameters.yaml", 1, "'absences.x_days': missing required key 'source'")


def test_every_problem_is_listed(copy: Path) -> None:
    edit(copy, "municipality.yaml", "default_locale: lv", "default_locale: ru")
    edit(copy, "services.yaml", "provider: jslp-vvapn", "provider: jslp-xyz")
    (copy / "calendar.yaml").unlink()
    error = rejected(copy)
    assert len(error.problems) == 3
    assert_reports(error, "municipality.yaml", line_of(copy, "municipality.yaml", "default_locale"), "'lv' or 'en'")
    assert_reports(error, "services.yaml", line_of(copy, "services.yaml", "jslp-xyz"), "unknown institution")
    assert_reports(error, "calendar.yaml", None, "file not found")


def test_school_holidays_are_loaded_and_must_be_in_order(jelgava: MunicipalityConfig,
                                                        copy: Path) -> None:
    autumn = jelgava.calendar.school_holidays[0]
    assert (autumn.first.isoformat(), autumn.last.isoformat()) == ("2025-10-20", "2025-10-24")
    edit(copy, "calendar.yaml", "{first: 2026-10-19, last: 2026-10-23",
         "{first: 2026-10-23, last: 2026-10-19")
    assert_reports(rejected(copy), "calendar.yaml",
                   line_of(copy, "calendar.yaml", "first: 2026-10-23"),
                   "ends (2026-10-19) before it starts (2026-10-23)")


def test_a_parameter_unit_is_one_the_engine_knows(copy: Path) -> None:
    edit(copy, "parameters.yaml", "  unit: working_days\n  tag: U\n  source: \"DOMAIN.md §2.4 B5",
         "  unit: weeks\n  tag: U\n  source: \"DOMAIN.md §2.4 B5")
    assert_reports(rejected(copy), "parameters.yaml", line_of(copy, "parameters.yaml", "unit: weeks"),
                   "unit", "'working_days', 'days', 'months'")
