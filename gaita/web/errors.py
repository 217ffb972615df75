"""What a page or endpoint raises to answer with an error (``gaita.web.app`` turns
each into a page, or under ``/api/`` into a problem+json)."""

from __future__ import annotations


class PageError(Exception):
    """Show the error page ``kind`` with HTTP ``status``."""

    def __init__(self, status: int, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.status, self.kind, self.detail = status, kind, detail


class LoginRequired(Exception):
    """No (live) session: the page redirects to the login page."""


class CsrfFailed(Exception):
    """A form without the session's (or the login page's) CSRF token."""


class Unauthenticated(Exception):
    """An API request without a valid bearer token."""
