"""What every response carries, the last-resort error page, and the CSRF check.

``SecurityMiddleware`` (pure ASGI) puts the security headers on every
response, including error pages, and turns any exception nobody handled into
a plain 500 page: logged here, with no details and no traceback for the
client.

CSRF for the forms shown before anyone is logged in (action links, login): the
confirmation page sets a random nonce in an HttpOnly, SameSite=Lax cookie and
puts ``HMAC-SHA256(secret, nonce + token)`` in the form; the POST must bring
both, matching.  A form copied to
another site or another link does not carry a valid pair.  (Strict would
drop the cookie on a link followed from webmail, so a second tab would
replace the nonce and the first tab's form would fail.)
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("gaita.web")

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",   # the token is in the URL
    "Cache-Control": "no-store",
}

#: ``secrets.token_urlsafe(32)``: 43 URL-safe characters.
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
_CSRF_CONTEXT = b"gaita.csrf.v1|"


class SecurityMiddleware:
    """Security headers on every response; unhandled errors become a plain 500 page."""

    def __init__(self, app: ASGIApp, error_page: Callable[[Scope], Response]) -> None:
        self.app = app
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # The path holds a link's token: log only its route.
            log.exception("unhandled error on %s %s", scope.get("method"), _route(scope))
            if started:
                raise
            await self.error_page(scope)(scope, receive, send_with_headers)


def _route(scope: Scope) -> str:
    parts = str(scope.get("path", "")).split("/")
    return "/".join(parts[:3]) + ("/…" if len(parts) > 3 else "")


# --- CSRF ------------------------------------------------------------------------------


def csrf_cookie(base_url: str, path: str = "/link") -> dict[str, Any]:
    """The nonce cookie's name and attributes for a form under ``path`` on a site
    served at ``base_url``.

    Over HTTPS the ``__Host-`` prefix (Secure, no Domain) binds the cookie to
    this host; browsers accept that prefix only with ``Path=/``.  Over plain
    HTTP (development) the cookie is ``gaita_csrf`` limited to ``path``.
    """
    if base_url.lower().startswith("https://"):
        return {"key": "__Host-gaita_csrf", "path": "/", "secure": True}
    return {"key": "gaita_csrf", "path": path, "secure": False}


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def valid_nonce(value: str | None) -> bool:
    return value is not None and _NONCE.fullmatch(value) is not None


def csrf_value(secret_key: str, nonce: str, token: str) -> str:
    """The form's hidden ``csrf``: binds the browser's nonce to this one link."""
    message = _CSRF_CONTEXT + nonce.encode("ascii") + token.encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def csrf_ok(secret_key: str, nonce: str | None, token: str, given: str | None) -> bool:
    if not valid_nonce(nonce) or not given:
        return False
    assert nonce is not None
    return hmac.compare_digest(csrf_value(secret_key, nonce, token), given)

