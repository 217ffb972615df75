"""Dependencies point inward (docs/architecture.md): checked on the source itself."""

from __future__ import annotations

import ast
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
