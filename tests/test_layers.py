"""Dependencies point inward (docs/architecture.md), and no module of the project imports
itself back through others: both checked on the source itself."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from gaita.settings import ROOT

FORBIDDEN = {
    "engine": {"gaita", "notifications", "typer", "fastapi", "starlette", "aiosmtplib",
               "jinja2", "uvicorn", "apscheduler"},
    "notifications": {"gaita", "typer", "fastapi", "starlette", "uvicorn"},
    # a leaf the engine may use: the standard library and Babel only
    "i18n": {"engine", "notifications", "gaita", "typer", "fastapi", "starlette", "aiosmtplib",
             "jinja2", "markupsafe", "uvicorn", "apscheduler", "sqlalchemy", "docx"},
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_inner_packages_do_not_import_outer_ones(package: str) -> None:
    offences = {str(p.relative_to(ROOT)): sorted(imported(p) & FORBIDDEN[package])
                for p in sorted((ROOT / package).rglob("*.py"))}
    assert {p: names for p, names in offences.items() if names} == {}


def test_i18n_is_a_leaf_of_the_standard_library_and_babel() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "babel", "i18n"}
    offences = {str(p.relative_to(ROOT)): sorted(imported(p) - allowed)
                for p in sorted((ROOT / "i18n").rglob("*.py"))}
    assert {p: names for p, names in offences.items() if names} == {}


# --- no import cycles -------------------------------------------------------------------

#: The project's own packages, whose modules may not import each other in a circle.
PACKAGES = ("engine", "notifications", "i18n", "gaita")


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


class _Imports(ast.NodeVisitor):
    """The project modules one module imports: at the top, in functions, anywhere but
    under ``if TYPE_CHECKING:`` (its ``else:`` counts)."""

    def __init__(self, name: str, is_package: bool, modules: dict[str, Path]) -> None:
        self.package = name if is_package else name.rpartition(".")[0]
        self.modules = modules
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:   # relative: from the package, one level up per extra dot
            parts = self.package.split(".")[:len(self.package.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        for alias in node.names:   # a submodule by name, else a name of the module
            self._add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in self.modules else base)

    def _add(self, name: str) -> None:
        while name and name not in self.modules:   # a name inside a module: the module
            name = name.rpartition(".")[0]
        if name:
            self.found.add(name)


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = {}
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py", modules)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        graph[name] = visitor.found - {name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per group of modules that import each other in a circle (Tarjan's
    strongly connected components), as the path ``a, b, …, a`` from its first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_cycle(graph, group) for group in groups]


def _shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:   # breadth first, inside the group, back to the start
        following = []
        for node in frontier:
            for succ in sorted(graph[node] & group):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if succ not in came_from:
                    came_from[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle through {start}")   # a strongly connected group has one


def test_import_cycles_are_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert import_cycles(graph) == [["a", "b", "c", "a"], ["e", "e2", "e"]]


def test_late_and_relative_imports_count_and_type_checking_ones_do_not() -> None:
    modules = dict.fromkeys(("p", "p.a", "p.b", "p.c", "p.d", "p.e"), Path())
    source = """
from typing import TYPE_CHECKING
from p import b
if TYPE_CHECKING:
    from p.c import Thing
else:
    from .d import thing
def late():
    import p.e.inner
"""
    visitor = _Imports("p.a", False, modules)
    visitor.visit(ast.parse(source))
    assert visitor.found == {"p.b", "p.d", "p.e"}


def test_the_project_packages_import_each_other_in_no_cycle() -> None:
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


_SUPPRESSION = re.compile(r"#\s*(type:\s*ignore\[[^\]]*\]|noqa:\s*[A-Z0-9, ]+)(?P<after>.*)$")


def test_every_suppressed_check_says_why() -> None:
    """A ``# type: ignore[...]`` or ``# noqa: ...`` is followed by its reason."""
    silent = []
    for package in ("engine", "notifications", "i18n", "gaita", "migrations", "bench", "tests"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                found = _SUPPRESSION.search(line)
                if found and not found["after"].strip(" -#"):
                    silent.append(f"{path.relative_to(ROOT)}:{n}")
    assert silent == []
