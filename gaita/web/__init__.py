"""The web app (FastAPI): pages, the REST API and the email action-link pages
(docs/web.md).

``create_app(app)`` builds it from an assembled ``gaita.bootstrap.App``.
"""

from gaita.web.app import create_app

__all__ = ["create_app"]
