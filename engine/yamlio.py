"""Strict, line-aware YAML loading for declarations and config.

``load_yaml(path)`` returns plain dicts and lists (``LineDict``/``LineList``)
that remember the line of every key and item, so validators can report
``file:line: reason``.  It constructs plain data only (no application tags),
rejects duplicate keys and anchors, and resolves only ``true``/``false`` as
booleans: YAML 1.1 would silently turn a state named ``no`` or ``off`` into
``False``.  Merge keys (``<<: *anchor``) work, and a key written beside a
merge overrides the merged one.

Every defect is a message by code (``engine.errors.Problem``): ``yaml.*`` for the
file and its syntax, ``schema.*`` for what a pydantic schema refuses; a library's
own English sentence is kept word for word in English only (``Verbatim``).

The library is ruamel.yaml, which the admin pages also use to edit config/
keeping its comments.  Every command loads every declaration at start-up, so
the values are built straight from the nodes of the libyaml parser that
ruamel.yaml's ``libyaml`` extra installs (ruamel's generic constructor takes
~1.5x as long).  That libyaml refuses some valid YAML, and then ruamel's own
pure-Python parser (~15x slower) reads the document; it is also the fallback
on an interpreter with no C extension, and gives the same data and lines.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from engine.errors import InvalidDeclaration, Message, Problem, msg, problem
from i18n.messages import Coded, render


class LineDict(dict):  # type: ignore[type-arg]  # any YAML keys and values
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg]  # any YAML values
    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def _tag(name: str) -> Tag:
    return Tag(suffix=f"tag:yaml.org,2002:{name}")


# The plain scalars that are not strings: YAML 1.1's types, as PyYAML resolved them (so the
# sexagesimal 23:59:59 is still the number the calendar's validator asks to quote), except
# booleans, which are YAML 1.2's true/false only.  name: (pattern, possible first characters)
_IMPLICIT_TYPES = {
    "bool": (r"true|True|TRUE|false|False|FALSE", "tTfF"),
    "float": (r"""[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?
                  |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)""",
              "-+0123456789."),
    "int": (r"""[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+
                |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+""", "-+0123456789"),
    "merge": (r"<<", "<"),
    "null": (r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    "timestamp": (r"""[0-9]{4}-[0-9]{2}-[0-9]{2}
                      |[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9]{2}:[0-9]{2}
                       (?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9]{2})?))?""",
                  "0123456789"),
}
# One shared tag object per type: the resolver runs once per scalar.
_TAGS = {name: _tag(name) for name in ("str", "map", "seq", *_IMPLICIT_TYPES)}
_STR, _MAP, _SEQ, _MERGE = _TAGS["str"], _TAGS["map"], _TAGS["seq"], _TAGS["merge"]
_DEFAULT_TAGS = {ScalarNode: _STR, SequenceNode: _SEQ, MappingNode: _MAP}


def _rules_by_first_character() -> dict[str, list[tuple[Tag, re.Pattern[str]]]]:
    rules: dict[str, list[tuple[Tag, re.Pattern[str]]]] = {}
    for name, (pattern, firsts) in _IMPLICIT_TYPES.items():
        rule = (_TAGS[name], re.compile(f"(?:{pattern})\\Z", re.X))
        for first in firsts:
            rules.setdefault(first, []).append(rule)
    return rules


_IMPLICIT = _rules_by_first_character()


class _Resolver(VersionedResolver):
    """The types above whatever the file declares (a ``%YAML`` directive changes nothing)."""

    processing_version = (1, 1)   # ruamel's int and float constructors: 0-prefixed octal, base 60

    def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> Tag:
        if kind is ScalarNode and implicit[0]:
            for tag, rx in _IMPLICIT.get(value[:1], ()):
                if rx.match(value):
                    return tag
        return _DEFAULT_TAGS[kind]


_BUILDING = object()   # a collection under construction: an alias to it is a recursive node


class _Refusal(ConstructorError):
    """A document our constructor or composer refuses, with the reason by code."""

    def __init__(self, mark: Any, reason: Message) -> None:
        super().__init__(None, None, str(reason), mark)
        self.reason = reason


class _Constructor(SafeConstructor):
    """Builds ``LineDict``/``LineList`` straight from the nodes; other tags take ruamel's path."""

    def construct_document(self, node: Any) -> Any:
        self._built: dict[int, Any] = {}   # aliases share the anchored value, as in YAML
        try:
            return self._build(node)
        finally:
            del self._built

    def _build(self, node: Any) -> Any:
        tag = node.ctag
        if node.__class__ is ScalarNode:
            if tag is _STR:
                return node.value
            scalar = _SCALARS.get(tag)
            if scalar:
                return scalar(self, node)
            return SafeConstructor.construct_object(self, node, deep=True)
        done = self._built.get(id(node))
        if done is _BUILDING:
            raise _Refusal(node.start_mark, msg("yaml.recursive"))
        if done is not None:
            return done
        self._built[id(node)] = _BUILDING
        if tag == _MAP and node.__class__ is MappingNode:
            data: Any = self._mapping(node)
        elif tag == _SEQ and node.__class__ is SequenceNode:
            data = LineList(self._build(child) for child in node.value)
            data.line = node.start_mark.line + 1
            data.item_lines = [child.start_mark.line + 1 for child in node.value]
        else:
            data = SafeConstructor.construct_object(self, node, deep=True)
        self._built[id(node)] = data
        return data

    def _mapping(self, node: MappingNode) -> LineDict:
        merges: list[LineDict] | None = None
        own: dict[Any, tuple[int, Any]] = {}   # key -> (line, value node)
        for key_node, value_node in node.value:
            if key_node.ctag == _MERGE:
                if merges is not None:
                    raise _Refusal(key_node.start_mark, msg("yaml.duplicate_key", key="<<"))
                merges = self._merged(node, value_node)
                continue
            key = self._build(key_node)
            try:
                duplicate = key in own
            except TypeError:
                raise _Refusal(key_node.start_mark, msg("yaml.unhashable_key")) from None
            if duplicate:
                raise _Refusal(key_node.start_mark, msg("yaml.duplicate_key", key=key))
            own[key] = (key_node.start_mark.line + 1, value_node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for source in reversed(merges or ()):   # the first mapping merged wins over later ones,
            result.update(source)               # and the mapping's own keys over all of them
            result.key_lines.update(source.key_lines)
        for key, (line, value_node) in own.items():
            result[key] = self._build(value_node)
            result.key_lines[key] = line
        return result

    def _merged(self, node: MappingNode, value_node: Any) -> list[LineDict]:
        sources = value_node.value if value_node.__class__ is SequenceNode else [value_node]
        merged = [self._build(source) for source in sources]
        for source, data in zip(sources, merged, strict=True):
            if not isinstance(data, LineDict):
                found = msg(f"yaml.node.{source.id}")   # scalar, sequence
                raise _Refusal(source.start_mark, msg("yaml.merge_not_mapping", found=found))
        return merged


_SCALARS: dict[Tag, Callable[[SafeConstructor, Any], Any]] = {
    _TAGS[name]: getattr(SafeConstructor, f"construct_yaml_{name}")
    for name in ("bool", "float", "int", "null", "timestamp")
}


class _Composer(Composer):
    """A second anchor of the same name is an error, as in libyaml (ruamel's parser only warns)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if not isinstance(event, AliasEvent) and event.anchor in self.anchors:
            first = self.anchors[event.anchor].start_mark.line + 1
            raise _Refusal(event.start_mark,
                           msg("yaml.duplicate_anchor", anchor=event.anchor, line=first))
        return super().compose_node(parent, index)


def _libyaml_loader() -> type | None:
    try:
        from ruamel.yaml.cyaml import CSafeLoader
    except ImportError:   # no C extension for this interpreter
        return None

    class Loader(_Constructor, _Resolver, CSafeLoader):
        """ruamel's libyaml loader (reader, parser, composer) with our constructor and resolver."""

        def __init__(self, stream: str) -> None:
            CSafeLoader.__init__(self, stream)

    return Loader


_LIBYAML_LOADER = _libyaml_loader()


def _load(text: str) -> Any:
    """libyaml's parser reads the document if it can; otherwise ruamel's own parser decides.

    ruamel's libyaml is 0.1.7, stricter than the spec: it refuses ``:`` inside a plain
    scalar in a flow collection (``{url: https://x}``, ``[23:59]``).  The pure parser reads
    those, and names the offending character when a document is really malformed.
    """
    if _LIBYAML_LOADER is not None:
        loader = _LIBYAML_LOADER(text)
        try:
            return loader.get_single_data()
        except ConstructorError:   # the document parsed; our constructor refused it
            raise
        except YAMLError:
            pass
        finally:
            loader.dispose()
    return _load_pure(text)


def _load_pure(text: str) -> Any:
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer, yaml.Constructor, yaml.Resolver = _Composer, _Constructor, _Resolver
    return yaml.load(text)


@dataclass(frozen=True)
class Verbatim:
    """A sentence of a library's or of the system's (the YAML parser's, pydantic's, the
    operating system's), in English only: English pages and the command line show it
    word for word; in Latvian, ``lv`` says what kind of problem it is (a message, or a
    code such as ``EACCES``).  A message's parameter, like a declared title."""

    en: str
    lv: Message | str

    def get(self, locale: str) -> str:
        if locale == "en":
            return self.en
        if isinstance(self.lv, Message):   # a frozen Message is a Coded (read-only attributes)
            return render(locale, cast(Coded, self.lv))
        return self.lv


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
        raise YamlError(problem(name, None, "yaml.file_not_found")) from None
    except UnicodeDecodeError as exc:
        raise YamlError(problem(name, None, "yaml.not_utf8", detail=Verbatim(
            exc.reason, msg("yaml.bad_byte", position=exc.start)))) from None
    except OSError as exc:
        raise YamlError(problem(name, None, "yaml.unreadable", detail=Verbatim(
            str(exc.strerror), errno.errorcode.get(exc.errno or 0, type(exc).__name__)))) from None
    return loads_yaml(text, name)


def loads_yaml(text: str, name: str = "<string>") -> Any:
    try:
        return _load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(problem(name, line, "yaml.syntax", detail=_syntax(exc))) from None
    except YAMLError as exc:
        raise YamlError(problem(name, None, "yaml.error", detail=Verbatim(
            str(exc), msg("yaml.kind.other")))) from None


#: What ruamel's scanner and parser say (their English), by kind: ``yaml.kind.<kind>``
#: says it in other languages, with the pattern's named groups as parameters.
_PARSER_PROBLEMS = tuple((re.compile(pattern), kind) for pattern, kind in (
    (r"mapping values are not allowed", "mapping_values"),
    (r"flow sequence", "flow_sequence"),
    (r"flow mapping", "flow_mapping"),
    (r"found character (?P<char>'.+?') that cannot start any token", "character"),
    (r"quoted scalar", "quote"),
    (r"found undefined alias (?P<alias>'.*?')", "alias"),
    (r"constructor for the tag (?P<tag>'.*?')", "tag"),
    (r"single document", "documents"),
    (r"<block end>|did not find expected key|could not find expected ':'", "indentation"),
    (r"directive", "directive"),
))


def _syntax(exc: MarkedYAMLError) -> Message | Verbatim:
    """Why the document is refused: our own refusals by code; the parser's in its words."""
    if isinstance(exc, _Refusal):
        return exc.reason
    said = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
    for pattern, kind in _PARSER_PROBLEMS:
        found = pattern.search(said)
        if found:
            return Verbatim(said, msg(f"yaml.kind.{kind}", **found.groupdict()))
    return Verbatim(said, msg("yaml.kind.other"))


def line_for(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest node of ``data`` that ``loc`` (a pydantic error path) reaches."""
    line: int | None = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, LineDict):
            found = part in node
        else:
            found = isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node)
        if not found:
            break
        line = node.line_of(part)
        node = node[part]
    return line


M = TypeVar("M", bound=BaseModel)

#: pydantic's error types that ``schema.<type>`` says in words, with the error's context
#: as its parameters (the English is pydantic's own message).  Another type is
#: ``schema.other``: pydantic's English word for word, in Latvian that the value is
#: not valid.  Our validators raise ``PydanticCustomError`` whose type is a code.
SCHEMA_TYPES = frozenset({
    "missing", "extra_forbidden", "string_type", "int_type", "int_parsing", "int_from_float",
    "float_type", "float_parsing", "bool_type", "bool_parsing", "dict_type", "list_type",
    "tuple_type", "model_type", "model_attributes_type", "date_type", "date_parsing",
    "time_type", "time_parsing", "literal_error", "enum", "string_pattern_mismatch",
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "string_too_short",
    "too_short",
})
#: The containers a length refers to (``too_short``'s ``field_type``): ``schema.container.<name>``.
CONTAINERS = ("list", "tuple", "dictionary", "set", "value")


def schema_reason(error: ErrorDetails) -> Message:
    """One pydantic error (not its location) as a message by code."""
    kind, ctx = error["type"], dict(error.get("ctx") or {})
    if "." in kind:   # a PydanticCustomError of ours: its type is the code
        return Message(kind, ctx)
    if kind not in SCHEMA_TYPES:
        return msg("schema.other", detail=Verbatim(error["msg"], kind))
    if kind in ("literal_error", "enum"):
        ctx["expected"] = _alternatives(str(ctx["expected"]))
    elif kind in ("time_parsing", "date_parsing"):
        ctx["error"] = Verbatim(str(ctx["error"]), msg("schema.unparsable"))
    elif kind in ("too_short", "string_too_short"):
        if kind == "too_short":
            container = str(ctx["field_type"]).lower()
            ctx["field_type"] = (msg(f"schema.container.{container}") if container in CONTAINERS
                                 else ctx["field_type"])
        if ctx["min_length"] == 1:   # English: "1 item", "2 items"
            return Message(f"schema.{kind}_1", ctx)
    return Message(f"schema.{kind}", ctx)


def _alternatives(expected: str) -> Message | str:
    """pydantic's ``'a', 'b' or 'c'`` as a message (the last "or" in words)."""
    first, _, last = expected.rpartition(" or ")
    return msg("schema.either", first=first, last=last) if first else expected


def validation_problems(file: str, raw: Any, exc: ValidationError) -> list[Problem]:
    """Pydantic errors as ``file:line: path: message`` problems."""
    return [Problem(file, line_for(raw, tuple(e["loc"])),
                    msg("schema.at", path=".".join(str(p) for p in e["loc"]) or msg("schema.top"),
                        reason=schema_reason(e)), tuple(e["loc"]))
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
