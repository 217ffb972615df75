"""The template catalogue: which notification templates exist.

A template is ``templates/<locale>/<name>.txt`` (Latvian is required; English
optional).  The workflow validator checks every ``template:`` a declaration
names against ``template_names()``.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
REQUIRED_LOCALE = "lv"


def template_names(directory: Path = TEMPLATES_DIR) -> frozenset[str]:
    return frozenset(p.name.split(".")[0] for p in (directory / REQUIRED_LOCALE).glob("*.txt"))
