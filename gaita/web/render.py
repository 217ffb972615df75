"""HTML pages from the Jinja2 templates in ``gaita/web/templates`` (autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from engine.runtime import Runtime
from gaita.web.i18n import translator

TEMPLATES = Path(__file__).resolve().parent / "templates"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, *, lang: str, rt: Runtime, status: int = 200,
           switch_lang: bool = False, **context: Any) -> HTMLResponse:
    """``template`` in ``lang``.  ``switch_lang``: offer the other language (a GET of
    the same address; only on pages a GET showed, never on the result of a POST)."""
    name = rt.municipality.municipality.name
    html = _env.get_template(template).render(
        lang=lang, t=translator(lang), switch_lang=switch_lang,
        municipality=name.en if lang == "en" else name.lv, **context)
    return HTMLResponse(html, status_code=status)
