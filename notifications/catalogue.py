"""The template catalogue: which notification templates exist.

A template is ``templates/<name>.txt`` (subject line, empty line, plain text)
plus ``<name>.html``, one file per format for every language: the words come
from the ``email`` message catalogue (``i18n/locale/<lang>/LC_MESSAGES/email.po``).
Names starting with ``_`` are partials (layouts, shared parts), never sent on
their own.  The workflow validator checks every ``template:`` a declaration
names against ``template_names()``.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"


def template_names(directory: Path = TEMPLATES_DIR) -> frozenset[str]:
    return frozenset(p.stem for p in directory.glob("*.txt") if not p.stem.startswith("_"))
