"""HTML pages from the Jinja2 templates in ``gaita/web/templates`` (autoescaped).

``render`` is the bare renderer (the action-link and error pages use it);
``page`` renders a logged-in user's page: their menu (what the access policy
lets them reach), the CSRF token for its forms and the language switch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Match

from engine.policy import Action
from engine.runtime import Runtime
from gaita.web.help_anchors import help_href
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
    ("/audit", "nav.audit", Action.AUDIT),
    ("/admin", "nav.admin", Action.ADMINISTER),
)


def render(template: str, *, lang: str, rt: Runtime, status: int = 200,
           switch_lang: bool = False, request: Request | None = None,
           **context: Any) -> HTMLResponse:
    """``template`` in ``lang``.  Every page offers the other language (``switch_href``):
    with ``switch_lang``, this same address (a page a GET showed); without, the page a
    POST's result came from (``switch_target``).  Every page links to its section of
    the user guide (``help_href``, ``gaita.web.help_anchors``)."""
    name = rt.municipality.municipality.name
    context.setdefault("viewer", None)
    context.setdefault("menu", ())
    context.setdefault("here", "")
    context.setdefault("wide", False)
    other = translator(lang)("switch_lang_code")
    if "switch_href" not in context:
        context["switch_href"] = (
            f"/lang/{other}?next={quote(switch_target(request, same=switch_lang), safe='')}"
            if request is not None else f"?lang={other}")
    context.setdefault("help_href", help_href(template, lang))
    context.setdefault("search_box", False)
    html = _env.get_template(template).render(
        lang=lang, t=translator(lang), switch_lang=switch_lang, switch_code=other,
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
                  switch_lang=request.method == "GET", request=request, page_title=title,
                  viewer=viewer, menu=menu, here=here, csrf=viewer.csrf, wide=wide,
                  search_box=viewer.may(app, Action.READ_CASES),   # gaita.web.search
                  request_path=request.url.path, **context)


def switch_target(request: Request, *, same: bool) -> str:
    """Where the language switch returns to: ``same``, this address (without a
    ``?lang=``); otherwise (the result of a POST) the nearest page above it a GET
    shows: the path itself if it has a GET route, else its parent, and so on."""
    if same:
        query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang"])
        return request.url.path + (f"?{query}" if query else "")
    path = request.url.path
    while path not in ("", "/"):
        scope = {"type": "http", "path": path, "method": "GET"}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.routes):
            return path
        path = path.rpartition("/")[0]
    return "/"
