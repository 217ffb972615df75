"""Every message by code is in both catalogues, and none reaches a Latvian page in English.

(a) Every code the source uses (``msg("…")``, ``problem(…, "…")``, ``Message("…")``, an
error class built with a literal code, a class's ``code = "…"``, our pydantic errors'
types, and codes built with an f-string, expanded from their vocabulary) is
``error.<code>`` of ``errors.po`` in Latvian and in English.
(b) Each of them, rendered in Latvian with placeholder values, has no English word.
(c) The declaration and config validators, fed the bad inputs of their own tests (read
from those tests' source) and broken schema values, give problems whose Latvian has no
English word; every pydantic error a schema gives has its words (``schema.<type>``).
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from engine import yamlio
from engine.definitions import FieldType, KnownNames, Workflow, load_workflow
from engine.errors import InvalidDeclaration, Message, Problem
from engine.guards import GUARDS
from engine.municipality import _SCHEMAS, load_municipality
from engine.policy import Action
from engine.registry import OPERATOR_ROLE, SYSTEM_ROLE, _RolesFile, load_roles
from engine.tables import PartyRole
from engine.versioning import MigrationPlan
from engine.yamlio import CONTAINERS, SCHEMA_TYPES, YamlError, load_yaml, loads_yaml
from gaita.demo import DemoData
from i18n import catalogue
from i18n.messages import PREFIX, render
from tests.engine import test_definitions, test_municipality, test_pause, test_yamlio

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("engine", "notifications", "gaita")

#: Codes built with an f-string, by their template (each ``{…}`` is ``{}``): the
#: vocabulary the engine declares for the blank.
VOCABULARIES: dict[str, list[str]] = {
    "access.action.{}": [a.value for a in Action],
    "party.role.{}": [r.value for r in PartyRole],
    "policy.not_for_{}": [SYSTEM_ROLE, OPERATOR_ROLE],
    "field.type.{}": list(get_args(FieldType)),
    "personal_code.unexpected_{}": ["letter", "character"],
    "answer.already_{}": ["declined", "acknowledged", "accepted", "done"],
    "query.parameter.{}": ["sort", "risk", "weeks", "page"],
    "yaml.node.{}": ["scalar", "sequence", "mapping"],
    "yaml.kind.{}": [kind for _, kind in yamlio._PARSER_PROBLEMS] + ["other"],
    "schema.container.{}": list(CONTAINERS),
    "schema.{}": sorted(SCHEMA_TYPES),
    "schema.{}_1": ["too_short", "string_too_short"],
}

#: Calls whose first argument is a code (and ``problem``'s third).
_CODE_FIRST = {"msg", "Message", "PydanticCustomError", "_rule"}


# --- (a) every code used exists ---------------------------------------------------------------


def _templates(node: ast.expr) -> list[str]:
    """A literal code, or an f-string code as its template (``{}`` for each blank); both
    codes of ``"a" if … else "b"``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)]
    if isinstance(node, ast.IfExp):
        return _templates(node.body) + _templates(node.orelse)
    return []


def _trees() -> Iterator[tuple[Path, ast.Module]]:
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _bases(cls: ast.ClassDef) -> list[str]:
    return [b.id if isinstance(b, ast.Name) else b.attr for b in cls.bases
            if isinstance(b, ast.Name | ast.Attribute)]


def _error_classes(trees: list[tuple[Path, ast.Module]]) -> dict[str, int | None]:
    """The ``GaitaError`` classes by name: where their constructor takes the code (the
    position of its ``code`` parameter; None: it takes none, the class gives it)."""
    classes = {node.name: node for _, tree in trees for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef)}
    found: dict[str, int | None] = {"GaitaError": 0}

    def code_at(name: str) -> tuple[bool, int | None]:   # (a GaitaError?, where its code is)
        if name in found:
            return True, found[name]
        cls = classes.get(name)
        parents = [code_at(b) for b in _bases(cls)] if cls else []
        errors = [at for is_error, at in parents if is_error]
        if cls is None or not errors:
            return False, None
        init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"),
                    None)
        if init is None:
            found[name] = errors[0]
        else:
            args = [a.arg for a in init.args.posonlyargs + init.args.args][1:]
            found[name] = args.index("code") if "code" in args else None
        return True, found[name]

    for name in classes:
        code_at(name)
    return found


#: Codes the scan cannot see: ``i18n.messages`` says an empty list with ``none``, and a
#: ``Problem``'s code is a property.
OTHER_CODES = {"none": "i18n/messages.py", "declaration.problem": "engine/errors.py"}


def used_codes() -> dict[str, str]:
    """Every code (or f-string template) the source uses, and where."""
    trees = list(_trees())
    errors = _error_classes(trees)
    used = dict(OTHER_CODES)

    def note(node: ast.expr, where: str) -> None:
        for code in _templates(node):
            used.setdefault(code, f"{where}:{node.lineno}")

    for path, tree in trees:
        where = str(path.relative_to(ROOT))
        from_errors = {a.asname or a.name for node in ast.walk(tree)
                       if isinstance(node, ast.ImportFrom) and node.module == "engine.errors"
                       for a in node.names}
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name in errors):
            for item in cls.body:   # code = "…" / code: str = "…"
                target = item.targets[0] if isinstance(item, ast.Assign) else getattr(item, "target", None)
                if getattr(target, "id", "") == "code" and getattr(item, "value", None) is not None:
                    note(item.value, where)   # type: ignore[attr-defined]  # checked just above
            parents = [errors.get(b) for b in _bases(cls)]
            for call in (n for n in ast.walk(cls) if isinstance(n, ast.Call)):
                func = call.func   # super().__init__("…")
                if (isinstance(func, ast.Attribute) and func.attr == "__init__"
                        and isinstance(func.value, ast.Call) and getattr(func.value.func, "id", "") == "super"
                        and parents and parents[0] is not None and len(call.args) > parents[0]):
                    note(call.args[parents[0]], where)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = call.func.id if isinstance(call.func, ast.Name) else (
                call.func.attr if isinstance(call.func, ast.Attribute) else "")
            position = (2 if name == "problem" and "problem" in from_errors
                        else 0 if name in _CODE_FIRST else errors.get(name))
            if position is not None and len(call.args) > position:
                note(call.args[position], where)
    return used


def expanded(used: dict[str, str]) -> dict[str, str]:
    out = {}
    for code, where in used.items():
        for word in VOCABULARIES.get(code, [None]) if "{}" in code else [None]:
            out[code.replace("{}", word) if word is not None else code] = where
    return out


def test_the_scan_finds_the_codes_of_each_kind() -> None:
    used = used_codes()
    assert {"declaration.invalid", "not_found", "workflow.deadline_kinds", "config.not_email",
            "config.duplicate_institution", "yaml.syntax", "user.username_taken", "link.tampered",
            "task.not_found", "token.not_found", "policy.not_for_{}", "schema.{}_1"} <= set(used)
    assert "weeks" not in used and "sort" not in used   # InvalidQuery's first argument is no code


def test_every_code_built_with_an_f_string_has_its_vocabulary() -> None:
    templates = sorted(code for code in used_codes() if "{}" in code)
    assert [t for t in templates if t not in VOCABULARIES] == []


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_every_code_the_source_uses_is_in_the_catalogue(lang: str) -> None:
    words = catalogue(lang)
    missing = {code: where for code, where in expanded(used_codes()).items()
               if "{}" not in code and PREFIX + code not in words}
    assert missing == {}


# --- (b) no English in Latvian ----------------------------------------------------------------


#: Words that give English away (Latvian has none of them; "no" and "to" are Latvian words).
ENGLISH = frozenset({
    "the", "is", "are", "was", "not", "field", "fields", "guard", "failed", "expected",
    "required", "must", "unknown", "should", "input", "valid", "invalid", "value", "values",
    "error", "found", "missing", "key", "keys", "state", "states", "role", "roles",
    "transition", "declared", "only", "with", "and", "or", "of", "for", "an", "be", "has",
    "have", "needs", "need", "cannot", "allowed", "here", "file", "line", "duplicate", "extra",
    "permitted", "got", "but", "which", "its", "this", "that", "from", "by", "as", "string",
    "integer", "number", "list", "mapping", "while", "given", "named", "names",
    "already", "exactly", "least", "more", "than", "less", "after", "before", "none", "empty",
    "some", "any", "all", "may", "can", "will", "would", "there", "their", "they", "it", "into",
    "if", "then"
})
#: What may stand in a Latvian text as it is: quoted or code-like (a key, a file, a flag).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|„[^”]*”|«[^»]*»|`[^`]*`")
_WORD = re.compile(r"[^\s(),;:!?]+")


def english_words(text: str) -> list[str]:
    """The English words of ``text``, leaving out quoted parts and codes (``a_b``,
    ``a.b``, ``a/b``, ``--as``, ``YAML``)."""
    found = []
    for token in _WORD.findall(_QUOTED.sub(" ", text)):
        if re.search(r"[_./=<>\d-]", token) or token.isupper():
            continue
        word = token.strip("'\"[]{}…").lower()
        if word in ENGLISH:
            found.append(word)
    return found


def test_the_english_check_finds_english_and_spares_codes() -> None:
    assert english_words("field 'concern': required (text: Description)") == ["field", "required"]
    assert english_words("guard 'absence_threshold_reached' failed") == ["guard", "failed"]
    assert english_words("lauks „concern”: jāaizpilda (teksts) `gaita init` per_case no stāvokļa") == []


def _placeholders(text: str) -> dict[str, str]:
    return dict.fromkeys(re.findall(r"\{(\w+)", text), "7")


def test_no_latvian_message_has_english_words() -> None:
    lv = catalogue("lv")
    english = {}
    for code in sorted(expanded(used_codes())):
        if "{}" in code or PREFIX + code not in lv:
            continue
        text = render("lv", Message(code, _placeholders(lv[PREFIX + code])))
        if words := english_words(text):
            english[code] = (text, words)
    assert english == {}


# --- (c) the validators' problems, in Latvian -------------------------------------------------


def _data(value: Any) -> Iterator[str]:
    """The words of what a message quotes from the file (a key, a path, a value, a code):
    the file's words, not the message's.  A library's English (``Verbatim``) is no data."""
    if isinstance(value, Message | Problem):
        for param in value.params.values():
            yield from _data(param)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _data(item)
    elif not isinstance(value, yamlio.Verbatim):
        yield from re.findall(r"[a-z]+", f"{getattr(value, 'code', value)} {value!r}".lower())


def assert_latvian(problems: list[Problem] | tuple[Problem, ...]) -> None:
    """Each problem's Latvian has no English word but those it quotes from the file, and
    none is pydantic's English (``schema.other``)."""
    assert problems
    english = {}
    for p in problems:
        text, quoted = render("lv", p), set(_data(p))
        if words := [w for w in english_words(text) if w not in quoted]:
            english[text] = words
    assert english == {}
    assert [str(p) for p in problems if "schema.other" in repr(p.reason)] == []


def _calls(module: Any, function: str) -> Iterator[list[Any]]:
    """The literal arguments of every call of ``function`` in a test module's source."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        if isinstance(call.func, ast.Name) and call.func.id == function:
            args = []
            for arg in call.args:
                try:
                    args.append(ast.literal_eval(arg))
                except ValueError:
                    args.append(None)   # a name (tmp_path, copy)
            yield args


def _parametrized(function: Any) -> list[tuple[Any, ...]]:
    mark = next(m for m in function.pytestmark if m.name == "parametrize")
    return list(mark.args[1])


YAML_TEXTS = [args[0] for args in _calls(test_yamlio, "yaml_error") if isinstance(args[0], str)]
WORKFLOW_EDITS = [tuple(a for a in args[1:] if isinstance(a, tuple))
                  for args in _calls(test_definitions, "write_corrupted")]
WORKFLOW_EDITS = [edits for edits in WORKFLOW_EDITS if edits]
CONFIG_EDITS = [tuple(args[1:]) for args in _calls(test_municipality, "edit")
                if all(isinstance(a, str) for a in args[1:])]
CONFIG_EDITS += [(file, old, new) for file, old, new, _ in _parametrized(test_municipality.test_wrong_type)]
CONFIG_EDITS += [("pauses.yaml", old, new) for old, new, _ in _parametrized(
    test_pause.test_a_bad_pauses_file_is_reported_with_file_and_line)]


def test_the_bad_inputs_are_read_from_the_tests() -> None:
    assert len(YAML_TEXTS) >= 8 and len(WORKFLOW_EDITS) >= 30 and len(CONFIG_EDITS) >= 15


@pytest.mark.parametrize("text", YAML_TEXTS)
def test_a_yaml_problem_is_said_in_latvian(text: str) -> None:
    with pytest.raises(YamlError) as info:
        loads_yaml(text, "doc.yaml")
    assert_latvian([info.value.problem])


def test_the_workflow_validators_problems_are_said_in_latvian(tmp_path: Path) -> None:
    roles = load_roles(test_definitions.WORKFLOWS)
    known = KnownNames(roles.institution_roles, roles.user_roles, GUARDS, test_definitions.TEMPLATES,
                       test_definitions.absences_parameters(), read_only_roles=roles.read_only,
                       field_groups=tuple(roles.field_groups), escalation_reasons=("stalled",))
    refused = 0
    for i, edits in enumerate(WORKFLOW_EDITS):
        text = test_definitions.absences_text()
        if not all(text.count(old) == 1 for old, _ in edits):
            continue   # an edit of a file other than absences.yaml
        for old, new in edits:
            text = text.replace(old, new)
        path = tmp_path / f"{i}" / "absences.yaml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        try:
            load_workflow(path, known)
        except InvalidDeclaration as exc:
            refused += 1
            assert_latvian(exc.problems)
    assert refused >= 30


def test_the_config_validators_problems_are_said_in_latvian(tmp_path: Path) -> None:
    roles = load_roles(test_definitions.WORKFLOWS)
    refused = 0
    for i, (file, old, new) in enumerate(CONFIG_EDITS):
        folder = tmp_path / f"{i}"
        shutil.copytree(test_municipality.JELGAVA, folder)
        path = folder / file
        path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
        try:
            load_municipality(folder, institution_roles=roles.institution_roles,
                              shared_roles=roles.per_case)
        except InvalidDeclaration as exc:
            refused += 1
            assert_latvian(exc.problems)
    assert refused >= 15


# The schemas of every declaration and config file, with a valid file of each.
SCHEMAS: list[tuple[Any, Path]] = [
    *((Workflow, p) for p in sorted((ROOT / "workflows").glob("*.yaml")) if p.name != "roles.yaml"),
    (_RolesFile, ROOT / "workflows" / "roles.yaml"),
    (DemoData, ROOT / "config" / "jelgava" / "demo.yaml"),
    *((adapter, ROOT / "config" / "jelgava" / name) for name, adapter in _SCHEMAS.items()),
]
#: Values that break a schema every way it can be broken.
BROKEN = [None, "x", "", -1, 0, 1.5, True, [], {}, ["x"], {"x": 1}, "Abc-Def", "99:99", "2026-13-01"]


def _paths(data: Any, at: tuple[Any, ...] = (), depth: int = 4) -> Iterator[tuple[Any, ...]]:
    yield at
    if depth and isinstance(data, dict):
        for key, value in list(data.items())[:3]:
            yield from _paths(value, (*at, key), depth - 1)
    elif depth and isinstance(data, list):
        for i, value in enumerate(data[:1]):
            yield from _paths(value, (*at, i), depth - 1)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _plain(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    return [_plain(v) for v in data] if isinstance(data, list) else data


@pytest.mark.parametrize(("schema", "path"), SCHEMAS, ids=[p.name for _, p in SCHEMAS])
def test_every_schema_error_has_its_words_in_latvian(schema: Any, path: Path) -> None:
    raw = _plain(load_yaml(path))
    validate = schema.validate_python if isinstance(schema, TypeAdapter) else schema.model_validate
    refused = 0
    for at in _paths(raw):
        for value in BROKEN:
            try:
                validate(_set(raw, at, value))
            except ValidationError as exc:
                refused += 1
                assert_latvian(yamlio.validation_problems(str(path), raw, exc))
    assert refused


def test_a_migration_plans_schema_errors_are_said_in_latvian() -> None:
    plan = {"case_type": "absences", "from_version": "one", "to_version": 1, "extra": True}
    with pytest.raises(ValidationError) as info:
        MigrationPlan.model_validate(plan)
    assert_latvian(yamlio.validation_problems("plan.yaml", plan, info.value))


def test_an_unknown_pydantic_error_says_in_latvian_that_the_value_is_not_valid() -> None:
    error: Any = {"type": "uuid_parsing", "loc": ("id",), "msg": "Input should be a valid UUID",
                  "input": "x", "ctx": {}}
    reason = yamlio.schema_reason(error)
    assert str(reason) == "Input should be a valid UUID"
    assert render("lv", reason) == "vērtība nav derīga (uuid_parsing)"
