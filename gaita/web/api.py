"""(being built)"""

from __future__ import annotations

from fastapi import FastAPI

from gaita.bootstrap import App


def create_api(app: App) -> FastAPI:
    api = FastAPI(title="Gaita API", docs_url="/docs", openapi_url="/openapi.json", redoc_url=None)
    api.state.gaita = app
    return api
