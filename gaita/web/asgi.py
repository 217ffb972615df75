"""The web app for an ASGI server started outside ``gaita serve``'s process
(``uvicorn --factory gaita.web.asgi:create``; ``gaita serve --workers N``)."""

from __future__ import annotations

from fastapi import FastAPI

from gaita.bootstrap import build_app
from gaita.settings import load_settings
from gaita.web.app import create_app


def create() -> FastAPI:
    """The app, from the environment's settings (``GAITA_*``, ``.env``)."""
    return create_app(build_app(load_settings()))
