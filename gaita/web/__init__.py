"""The web app (FastAPI): today the pages behind the email action links (issue #3 §4).

``create_app(app)`` builds it from an assembled ``gaita.bootstrap.App``.
"""

from gaita.web.app import create_app

__all__ = ["create_app"]
