"""The browser harness every Playwright test shares: Debian's chromium, the app under
uvicorn on localhost, one browser profile per user at a chosen width and language,
and the page checks every page must pass (one ``<h1>``, its language, no horizontal
overflow, no console error).

    with serve(app, port=port) as base, chromium() as browser:
        s = Session(browser, base, width=390, lang="en")
        s.log_in("koordinatore")
        page = s.go("/cases")
        fits(page)
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from gaita.bootstrap import App
from gaita.web import create_app
from tests.web.conftest import DEMO_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: The widths every new flow is walked at: a laptop and a phone.
WIDTHS = (1366, 390)
LANGS = ("lv", "en")
#: ``GAITA_SCREENSHOTS=<dir>``: tests save full-page PNGs there (``make screenshots``).
SHOTS = os.environ.get("GAITA_SCREENSHOTS")

#: Marks for a module of browser tests: slow, and skipped without chromium.
BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def demo_app(tmp_path_factory: pytest.TempPathFactory, name: str) -> App:
    """An app on a SQLite file of its own with the demo users and cases, its base URL on a
    free localhost port (so its cookies carry no ``Secure``): ``serve(app)`` serves it there."""
    from gaita.demo import load_demo
    from tests.conftest import make_test_app

    db = tmp_path_factory.mktemp(name) / "gaita.db"
    app = make_test_app(f"sqlite:///{db}", base_url=f"http://127.0.0.1:{free_port()}")
    load_demo(app.db, app.rt)
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: App, port: int | None = None) -> Iterator[str]:
    """The web app under uvicorn on localhost ``port`` (default: the port of the app's
    ``base_url`` if it has one, else a free one), in a background thread."""
    import uvicorn

    if port is None:
        port = urlsplit(app.settings.base_url).port or free_port()
    config = uvicorn.Config(create_app(app), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False, lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Session:
    """One browser profile (its own cookies) at ``width`` px in ``lang``, with a page,
    collecting console errors."""

    def __init__(self, browser: Browser, base: str, *, width: int = 1280, lang: str = "lv",
                 height: int = 900, bypass_csp: bool = False) -> None:
        """``bypass_csp``: the page's Content-Security-Policy is not enforced, so a test
        may inject a script (axe-core); only a test does this."""
        self.base, self.lang, self.width = base, lang, width
        self.context: BrowserContext = browser.new_context(
            viewport={"width": width, "height": height}, bypass_csp=bypass_csp)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"{m.text} ({self.page.url})")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"{e} ({self.page.url})"))
        if lang != "lv":   # the app's own switch (a cookie), as a user would choose it
            self.go(f"/lang/{lang}?next=/login")

    def go(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def log_in(self, username: str, password: str = DEMO_PASSWORD, *,
               shot: str | None = None) -> None:
        """Log in on the login page by keyboard (type, Enter); ``shot``: save a
        screenshot of the login page under that name first."""
        page = self.page
        if "/login" not in page.url:
            self.go("/login")
        if shot:
            screenshot(page, shot)
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(password)
        page.keyboard.press("Enter")
        expect(page).not_to_have_url(re.compile(r"/login"))

    def close(self) -> None:
        self.context.close()

    def assert_no_errors(self) -> None:
        assert not self.errors, self.errors


def checked(page: Page, h1: str, *, lang: str = "lv") -> Page:
    """The page has the heading ``h1`` (its only ``<h1>``) and is in ``lang``."""
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_have_text(h1)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    return page


def skip_link_first(page: Page) -> None:
    """From the top of a fresh page, Tab focuses the skip link, and Enter follows it."""
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_class("skip")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))


#: How far a page may be wider than its viewport (sub-pixel rounding) before it scrolls.
_SLACK_PX = 1


def overflow(page: Page) -> list[str]:
    """What sticks out of the viewport to the right: the page's own scroll width, and
    each visible element whose right edge passes the viewport (empty: it fits)."""
    found: list[str] = page.evaluate(
        """slack => {
          const w = document.documentElement.clientWidth, out = [];
          if (document.documentElement.scrollWidth > w + slack)
            out.push(`page scrollWidth ${document.documentElement.scrollWidth} > ${w}`);
          for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > w + slack && getComputedStyle(el).visibility !== 'hidden'
                && !el.closest('.skip')) {
              let inScroller = false;
              for (let p = el.parentElement; p; p = p.parentElement) {
                const ox = getComputedStyle(p).overflowX;
                if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { inScroller = true; break; }
              }
              if (!inScroller) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`
                                        + `${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''}`
                                        + ` right=${Math.round(r.right)}`);
            }
          }
          if (out.length === 1)   // only the page: text running out of its box (a long word)
            for (const el of document.body.querySelectorAll('*')) {
              const st = getComputedStyle(el);
              if (st.overflowX === 'visible' && el.clientWidth && el.scrollWidth > el.clientWidth + slack
                  && el.getBoundingClientRect().left + el.scrollWidth > w + slack)
                out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} text runs to ${Math.round(el.getBoundingClientRect().left + el.scrollWidth)}`);
            }
          return out.slice(0, 10);
        }""", _SLACK_PX)
    return found


def fits(page: Page) -> None:
    """The page has no horizontal overflow at its viewport's width."""
    assert not (found := overflow(page)), f"{page.url}: {found}"


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG ``<name>.png`` in ``$GAITA_SCREENSHOTS`` (none without it)."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
