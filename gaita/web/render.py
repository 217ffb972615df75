"""HTML pages from the Jinja2 templates in ``gaita/web/templates`` (autoescaped).

``render`` is the bare renderer (the action-link and error pages use it);
``page`` renders a logged-in user's page: their menu (what the access policy
lets them reach), the CSRF token for its forms and the language switch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from engine.policy import Action
from engine.runtime import Runtime
from i18n import format_day, translator

if TYPE_CHECKING:
    from gaita.bootstrap import App
    from gaita.web.auth import Viewer

TEMPLATES = Path(__file__).resolve().parent / "templates"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

#: The menu: (path, catalogue key, the action that shows it).
MENU: tuple[tuple[str, str, Action], ...] = (
    ("/dashboard", "nav.dashboard", Action.READ_CASES),
    ("/cases", "nav.cases", Action.READ_CASES),
    ("/cases/new", "nav.new_case", Action.OPEN_CASE),
    ("/inbox", "nav.inbox", Action.ANSWER_TASK),
    ("/group", "nav.group", Action.READ_GROUP),
    ("/admin", "nav.admin", Action.ADMINISTER),
)


def render(template: str, *, lang: str, rt: Runtime, status: int = 200,
           switch_lang: bool = False, **context: Any) -> HTMLResponse:
    """``template`` in ``lang``.  ``switch_lang``: offer the other language (a GET of
    the same address; only on pages a GET showed, never on the result of a POST)."""
    name = rt.municipality.municipality.name
    context.setdefault("viewer", None)
    context.setdefault("menu", ())
    context.setdefault("here", "")
    context.setdefault("wide", False)
    context.setdefault("search_box", False)
    html = _env.get_template(template).render(
        lang=lang, t=translator(lang), switch_lang=switch_lang,
        day=lambda value: format_day(value, lang),
        municipality=name.en if lang == "en" else name.lv, **context)
    return HTMLResponse(html, status_code=status)


def page(request: Request, app: App, viewer: Viewer, template: str, *, title: str,
         status: int = 200, wide: bool = True, **context: Any) -> HTMLResponse:
    """A logged-in user's page: menu, CSRF token (``csrf``) and language switch."""
    menu = [(path, key) for path, key, action in MENU if viewer.may(app, action)]
    path = request.url.path
    here = max((p for p, _ in menu if path == p or path.startswith(p + "/")), key=len,
               default="")   # the most specific entry: /cases/new, not /cases
    return render(template, lang=viewer.lang, rt=app.rt, status=status,
                  switch_lang=request.method == "GET", page_title=title, viewer=viewer,
                  menu=menu, here=here, csrf=viewer.csrf, wide=wide,
                  search_box=viewer.may(app, Action.READ_CASES),   # gaita.web.search
                  request_path=request.url.path, **context)
