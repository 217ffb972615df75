"""Search: ``GET /search?q=...`` finds cases by reference, by the child's name (with or
without diacritics) or by the child's personal code (``engine.search``), within what the
access policy lets the user reach.  The box is in every signed-in page's menu
(``base.html``); the results are one line per case, the query kept in the box.  A
result that shows the child's name is written to the access log (``engine.search``).

Also here: the words of the duplicate warning on the opening form (``duplicate_warning``)
and the case page's list of the child's other cases (``other_cases``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from engine.errors import DuplicateCase, InvalidSearch
from engine.policy import Action, stored_case_scope
from engine.search import MAX_QUERY, search_cases
from engine.tables import CaseStatus, Channel
from gaita.bootstrap import App
from gaita.web.auth import Viewer, gaita_of, web_user
from gaita.web.dashboard import Labels
from gaita.web.forms import FormError
from gaita.web.render import page
from i18n import translator
from i18n.messages import render as said

router = APIRouter()

ViewerDep = Annotated[Viewer, Depends(web_user)]
#: The id of the results page's own search input (the menu's box is ``site-search``).
FIELD = "q"


@router.get("/search")
def search_page(request: Request, viewer: ViewerDep,
                q: Annotated[str | None, Query(max_length=4 * MAX_QUERY)] = None) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_CASES)
    t = translator(viewer.lang)
    context: dict[str, Any] = {"query": q or "", "searched": False, "rows": [], "more": False,
                               "identity": False, "errors": []}
    status = 200
    if q is not None:
        try:
            found = search_cases(app.db, app.rt, viewer.actor, q, channel=Channel.WEB)
        except InvalidSearch as exc:
            context["errors"] = [FormError(said(viewer.lang, exc), FIELD)]
            status = 400
        else:
            labels = Labels(app.rt, viewer.lang)
            cal = app.rt.calendar
            context.update(searched=True, more=found.more, identity=found.identity, rows=[{
                "reference": r["reference"], "child": r["child_name"],
                "type": labels.case_type(r["case_type"]),
                "state": labels.state(r["case_type"], r["state"]),
                "status": t(f"search.status.{r['status']}"),
                "closed": r["status"] == CaseStatus.CLOSED,
                "owner": labels.institution(r["owner_institution"]) or t("search.no_owner"),
                "opened": cal.local_date(r["opened_at"]).strftime("%d.%m.%Y"),
            } for r in found.rows])
    return page(request, app, viewer, "search/search.html", status=status,
                title=t("search.title"), max_query=MAX_QUERY,
                invalid={e.target for e in context["errors"]}, **context)


def duplicate_warning(app: App, viewer: Viewer, exc: DuplicateCase) -> dict[str, Any]:
    """What the opening form says of an open case of the child's: each existing case (a
    link only if the user may read it) and whether a new one goes to the group."""
    cases = []
    for reference in exc.references:
        readable = viewer.may(app, Action.READ_CASES, stored_case_scope(app.db, reference))
        cases.append({"reference": reference, "link": readable})
    return {"cases": cases, "repeated": exc.repeated}


def other_cases(app: App, view: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The case page's list of the child's other cases (``case_view``'s ``child_cases``)."""
    labels, t, cal = Labels(app.rt, lang), translator(lang), app.rt.calendar
    return [{"reference": c["reference"], "type": labels.case_type(c["case_type"]),
             "state": labels.state(c["case_type"], c["state"]),
             "status": t(f"search.status.{c['status']}"),
             "opened": cal.local_date(c["opened_at"]).strftime("%d.%m.%Y")}
            for c in view.get("child_cases", [])]
