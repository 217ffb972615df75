"""The template catalogue: which notification templates exist.

A template is ``templates/<locale>/<name>.txt`` (subject line, empty line, plain
text) plus ``<name>.html``.  Latvian is required; a missing English file falls
back to Latvian.  Names starting with ``_`` are partials (layouts, macros),
never sent on their own.  The workflow validator checks every ``template:`` a
declaration names against ``template_names()``.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
REQUIRED_LOCALE = "lv"


def template_names(directory: Path = TEMPLATES_DIR) -> frozenset[str]:
    return frozenset(
        p.stem for p in (directory / REQUIRED_LOCALE).glob("*.txt") if not p.stem.startswith("_")
    )
