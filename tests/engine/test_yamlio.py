"""The strict, line-aware YAML loader every declaration and config file goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import yamlio
from engine.errors import Problem
from engine.yamlio import LineDict, LineList, YamlError, line_for, load_yaml, loads_yaml

ROOT = Path(__file__).resolve().parents[2]

DOC = """\
# a comment on line 1
name: gaita
states:
  start:
    owner: school
  done: {terminal: true}
items:
  - first
  - second
  - {nested: 1}
flow: [a, b, c]
"""


def yaml_error(text: str, name: str = "doc.yaml") -> Problem:
    with pytest.raises(YamlError) as info:
        loads_yaml(text, name)
    return info.value.problem


# -- duplicate keys ------------------------------------------------------------------------


def test_a_duplicate_top_level_key_is_rejected_at_the_second_key() -> None:
    problem = yaml_error("a: 1\nb: 2\na: 3\n")
    assert problem == Problem("doc.yaml", 3, "YAML syntax error: duplicate key 'a'")


def test_a_duplicate_nested_key_is_rejected_at_the_second_key() -> None:
    problem = yaml_error("outer:\n  inner:\n    x: 1\n    y: 2\n    x: 3\n")
    assert (problem.line, str(problem.reason)) == (5, "YAML syntax error: duplicate key 'x'")


def test_a_duplicate_key_in_a_flow_mapping_is_rejected() -> None:
    problem = yaml_error("first: ok\nstate: {to: school, to: police}\n")
    assert problem.line == 2
    assert "duplicate key 'to'" in str(problem.reason)


def test_keys_that_differ_only_in_case_are_not_duplicates() -> None:
    assert loads_yaml("no: 1\nNo: 2\n") == {"no": 1, "No": 2}


def test_the_same_key_in_sibling_mappings_is_not_a_duplicate() -> None:
    assert loads_yaml("a: {x: 1}\nb: {x: 2}\n") == {"a": {"x": 1}, "b": {"x": 2}}


def test_yaml_errors_carry_the_file_name_in_their_message() -> None:
    with pytest.raises(YamlError) as info:
        loads_yaml("a: 1\na: 2\n", "workflows/x.yaml")
    assert str(info.value) == "workflows/x.yaml:2: YAML syntax error: duplicate key 'a'"


# -- booleans ----------------------------------------------------------------------------

YAML11_BOOLEAN_WORDS = ["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
                        "y", "n"]


@pytest.mark.parametrize("word", YAML11_BOOLEAN_WORDS)
def test_yaml_1_1_boolean_words_stay_strings_as_values(word: str) -> None:
    value = loads_yaml(f"v: {word}\n")["v"]
    assert value == word
    assert isinstance(value, str)


@pytest.mark.parametrize("word", YAML11_BOOLEAN_WORDS)
def test_yaml_1_1_boolean_words_stay_strings_as_keys(word: str) -> None:
    data = loads_yaml(f"{word}: 1\n")
    assert list(data) == [word]
    assert False not in data and True not in data


@pytest.mark.parametrize("word", ["yes", "no", "on", "off"])
def test_yaml_1_1_boolean_words_stay_strings_in_lists(word: str) -> None:
    assert loads_yaml(f"[{word}, true]") == [word, True]


@pytest.mark.parametrize(("word", "value"), [
    ("true", True), ("True", True), ("TRUE", True),
    ("false", False), ("False", False), ("FALSE", False),
])
def test_true_and_false_are_booleans(word: str, value: bool) -> None:
    loaded = loads_yaml(f"v: {word}\n")["v"]
    assert loaded is value


@pytest.mark.parametrize("word", ["tRUE", "fAlSe", "truely", "'true'", '"false"'])
def test_only_the_exact_true_false_spellings_are_booleans(word: str) -> None:
    assert isinstance(loads_yaml(f"v: {word}\n")["v"], str)


def test_other_scalars_keep_their_usual_types() -> None:
    data = loads_yaml("i: 3\nf: 1.5\nn: null\nt: ~\ns: text\n")
    assert data == {"i": 3, "f": 1.5, "n": None, "t": None, "s": "text"}
    assert type(data["i"]) is int


# -- line numbers ------------------------------------------------------------------------


def test_mappings_and_lists_come_back_as_line_aware_types() -> None:
    data = loads_yaml(DOC)
    assert isinstance(data, LineDict)
    assert isinstance(data["states"], LineDict)
    assert isinstance(data["states"]["done"], LineDict)
    assert isinstance(data["items"], LineList)
    assert isinstance(data["flow"], LineList)
    assert data == {"name": "gaita", "states": {"start": {"owner": "school"}, "done": {"terminal": True}},
                    "items": ["first", "second", {"nested": 1}], "flow": ["a", "b", "c"]}


def test_line_of_a_key_is_the_line_the_key_is_written_on() -> None:
    data = loads_yaml(DOC)
    assert data.line_of("name") == 2
    assert data.line_of("states") == 3
    assert data["states"].line_of("start") == 4
    assert data["states"]["start"].line_of("owner") == 5
    assert data["states"].line_of("done") == 6
    assert data["states"]["done"].line_of("terminal") == 6
    assert data.line_of("items") == 7
    assert data.line_of("flow") == 11


def test_line_of_a_missing_key_falls_back_to_the_mapping_itself() -> None:
    data = loads_yaml(DOC)
    assert data["states"]["start"].line_of("deadline") == data["states"]["start"].line == 5


def test_line_of_a_list_item_is_the_line_the_item_is_written_on() -> None:
    data = loads_yaml(DOC)
    items = data["items"]
    assert [items.line_of(i) for i in range(3)] == [8, 9, 10]
    assert items[2].line_of("nested") == 10
    assert [data["flow"].line_of(i) for i in range(3)] == [11, 11, 11]


def test_line_of_an_index_past_the_end_falls_back_to_the_list_itself() -> None:
    data = loads_yaml(DOC)
    assert data["items"].line_of(7) == data["items"].line == 8


def test_line_for_follows_a_validation_error_path_to_the_deepest_node() -> None:
    data = loads_yaml(DOC)
    assert line_for(data, ()) == 2
    assert line_for(data, ("states", "start", "owner")) == 5
    assert line_for(data, ("items", 1)) == 9
    assert line_for(data, ("items", 2, "nested")) == 10
    # a path that leaves the document stops at the key of the last node it reached
    assert line_for(data, ("states", "start", "deadline", "param")) == 4
    assert line_for(data, ("items", 99)) == 7
    assert line_for("not yaml data", ("anything",)) is None


def test_lines_of_anchored_and_aliased_data_point_at_the_anchor() -> None:
    data = loads_yaml("common:\n  ladder: &l\n    - {after: 0}\n    - {after: 1}\nstate:\n  escalation: *l\n")
    assert data["state"]["escalation"].line_of(1) == 4


def test_a_syntax_error_is_reported_with_its_line() -> None:
    problem = yaml_error("a: 1\nb: c: d\ne: 2\n")
    assert problem.line == 2
    assert str(problem.reason).startswith("YAML syntax error: ")
    assert "mapping values are not allowed" in str(problem.reason)


def test_a_tab_indentation_is_a_syntax_error_with_its_line() -> None:
    problem = yaml_error("a:\n  b: 1\n\tc: 2\n")
    assert problem.line == 3
    assert "YAML syntax error" in str(problem.reason)


def test_two_documents_in_one_file_are_rejected() -> None:
    problem = yaml_error("a: 1\n---\nb: 2\n")
    assert problem.line == 2
    assert "single document" in str(problem.reason)


def test_python_object_tags_are_refused_by_the_safe_loader() -> None:
    problem = yaml_error("a: !!python/object/apply:os.system ['true']\n")
    assert problem.line == 1
    assert "python/object" in str(problem.reason)


def test_a_reused_anchor_is_rejected_at_its_second_definition() -> None:
    problem = yaml_error("a: &x 1\nb: &x 2\nc: *x\n")
    assert problem.line == 2
    assert "duplicate anchor" in str(problem.reason)


def test_an_unhashable_key_is_rejected_with_its_line() -> None:
    problem = yaml_error("a: 1\n? [x, y]\n: 2\n")
    assert problem.line == 2
    assert "unhashable key" in str(problem.reason)


def test_a_yaml_1_1_directive_does_not_bring_back_its_booleans() -> None:
    assert loads_yaml("%YAML 1.1\n---\nv: no\n") == {"v": "no"}


def test_plain_scalars_with_colons_load_inside_flow_collections() -> None:
    # libyaml 0.1.7 (ruamel's C parser) refuses these; the pure parser reads them
    data = loads_yaml("first: 1\ncontact: {url: https://gaita.example.lv/a}\nids: [a:b]\n")
    assert data == {"first": 1, "contact": {"url": "https://gaita.example.lv/a"}, "ids": ["a:b"]}
    assert data["contact"].line_of("url") == 2
    assert data["ids"].line_of(0) == 3


# -- merge keys ----------------------------------------------------------------------------

MERGES = """\
defaults: &defaults
  owner: school
  days: 5
urgent: &urgent
  days: 1
  remind: true
state:
  <<: *defaults
  days: 10
both:
  <<: [*urgent, *defaults]
"""


def test_a_merge_key_copies_the_anchored_mapping_and_a_key_beside_it_overrides() -> None:
    state = loads_yaml(MERGES)["state"]
    assert state == {"owner": "school", "days": 10}
    assert (state.line_of("owner"), state.line_of("days")) == (2, 9)


def test_in_a_merged_list_the_first_mapping_wins() -> None:
    both = loads_yaml(MERGES)["both"]
    assert both == {"owner": "school", "days": 1, "remind": True}
    assert both.line_of("days") == 5


def test_a_key_repeated_beside_a_merge_is_still_a_duplicate() -> None:
    problem = yaml_error(MERGES + "again:\n  <<: *defaults\n  days: 1\n  days: 2\n")
    assert (problem.line, str(problem.reason)) == (15, "YAML syntax error: duplicate key 'days'")


def test_a_second_merge_key_in_one_mapping_is_a_duplicate() -> None:
    problem = yaml_error(MERGES + "again:\n  <<: *defaults\n  <<: *urgent\n")
    assert (problem.line, str(problem.reason)) == (14, "YAML syntax error: duplicate key '<<'")


def test_merging_something_other_than_mappings_is_rejected_with_its_line() -> None:
    problem = yaml_error("a: 1\nb:\n  <<: text\n")
    assert problem.line == 3
    assert "expected a mapping or list of mappings for merging" in str(problem.reason)


# -- the two parsers -----------------------------------------------------------------------


def with_lines(data: object) -> object:
    if isinstance(data, LineDict):
        return data.line, [(key, data.line_of(key), with_lines(value)) for key, value in data.items()]
    if isinstance(data, LineList):
        return data.line, [(data.line_of(i), with_lines(value)) for i, value in enumerate(data)]
    return type(data), data


def test_the_libyaml_parser_is_installed() -> None:
    # start-up loads every declaration: the pure-Python parser would take ~15x as long
    assert yamlio._LIBYAML_LOADER is not None


@pytest.mark.parametrize("path", [*sorted(ROOT.glob("workflows/*.yaml")), *sorted(ROOT.glob("config/*/*.yaml"))],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_the_pure_python_parser_reads_every_declaration_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert with_lines(yamlio._load_pure(text)) == with_lines(loads_yaml(text))


# -- files -------------------------------------------------------------------------------


def test_load_yaml_reads_a_utf8_file_with_latvian_text(tmp_path: Path) -> None:
    path = tmp_path / "lv.yaml"
    path.write_text("title: {lv: Bāriņtiesa, en: Orphan's court}\n", encoding="utf-8")
    assert load_yaml(path) == {"title": {"lv": "Bāriņtiesa", "en": "Orphan's court"}}


def test_a_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(YamlError) as info:
        load_yaml(path)
    assert info.value.problem == Problem(str(path), None, "file not found")
    assert str(info.value) == f"{path}: file not found"


def test_a_non_utf8_file_is_reported_by_name(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: Bāriņtiesa\n".encode().replace("ā".encode(), b"\xe2"))
    with pytest.raises(YamlError) as info:
        load_yaml(path)
    problem = info.value.problem
    assert problem.file == str(path)
    assert problem.line is None
    assert str(problem.reason).startswith("not valid UTF-8")


def test_a_directory_given_as_a_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(YamlError) as info:
        load_yaml(tmp_path)
    assert info.value.problem.file == str(tmp_path)
    assert str(info.value.problem.reason).startswith("cannot read")


def test_a_syntax_error_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("ok: 1\ndup: 1\ndup: 2\n", encoding="utf-8")
    with pytest.raises(YamlError) as info:
        load_yaml(path)
    assert info.value.problem == Problem(str(path), 3, "YAML syntax error: duplicate key 'dup'")


def test_an_empty_file_loads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_yaml(path) is None
