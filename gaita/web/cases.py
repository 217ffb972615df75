"""(being built: the coordinator's pages)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from engine.policy import Action
from gaita.web.auth import Viewer, gaita_of, web_user
from gaita.web.render import page

router = APIRouter()


@router.get("/dashboard")
@router.get("/cases")
def placeholder(request: Request, viewer: Annotated[Viewer, Depends(web_user)]) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_CASES)
    return page(request, app, viewer, "cases/placeholder.html", title="Gaita")
