"""Strict, line-aware YAML loading for declarations and config.

``load_yaml(path)`` returns plain dicts and lists (``LineDict``/``LineList``)
that remember the line of every key and item, so validators can report
``file:line: reason``.  It uses the safe loader, rejects duplicate keys, and
resolves only ``true``/``false`` as booleans: YAML 1.1 would silently turn a
state named ``no`` or ``off`` into ``False``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from engine.errors import InvalidDeclaration, Problem


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg]
    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


# libyaml's parser when PyYAML was built with it (PyPI wheels are): ~10x faster.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[valid-type,misc]
    pass


# Only true/false are booleans (YAML 1.2 core schema); yes/no/on/off stay strings.
_StrictLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class DuplicateKey(yaml.MarkedYAMLError):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> LineDict:
    own: set[Any] = set()
    for key_node, _ in node.value:   # duplicates among the mapping's own keys are errors;
        if key_node.tag == "tag:yaml.org,2002:merge":   # a key overriding a `<<:` merge is not
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in own:
            raise DuplicateKey(None, None, f"duplicate key {key!r}", key_node.start_mark)
        own.add(key)
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:   # merged pairs come first; own keys win
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _StrictLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlError(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; raise ``YamlError`` with file and line on any defect."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlError(Problem(name, None, "file not found")) from None
    except UnicodeDecodeError as exc:
        raise YamlError(Problem(name, None, f"not valid UTF-8 ({exc.reason})")) from None
    except OSError as exc:
        raise YamlError(Problem(name, None, f"cannot read: {exc.strerror}")) from None
    return loads_yaml(text, name)


def loads_yaml(text: str, name: str = "<string>") -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise YamlError(Problem(name, line, f"YAML syntax error: {reason}")) from None
    except yaml.YAMLError as exc:
        raise YamlError(Problem(name, None, f"YAML error: {exc}")) from None


def line_for(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest node of ``data`` that ``loc`` (a pydantic error path) reaches."""
    line: int | None = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.line_of(part)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.line_of(part)
            node = node[part]
        else:
            break
    return line


M = TypeVar("M", bound=BaseModel)


def validation_problems(file: str, raw: Any, exc: ValidationError) -> list[Problem]:
    """Pydantic errors as ``file:line: path: message`` problems."""
    return [Problem(file, line_for(raw, tuple(e["loc"])),
                    f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}")
            for e in exc.errors()]


def load_model(path: Path, model: type[M], error: type[InvalidDeclaration]) -> tuple[M, Any]:
    """Parse ``path`` into ``model``; any defect raises ``error`` listing every problem.

    Returns the model and the raw (line-aware) data, for checks that need lines.
    """
    try:
        raw = load_yaml(path)
    except YamlError as exc:
        raise error([exc.problem]) from None
    try:
        return model.model_validate(raw), raw
    except ValidationError as exc:
        raise error(validation_problems(str(path), raw, exc)) from None
