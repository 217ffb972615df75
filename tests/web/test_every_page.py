"""Every page of the web app in a real browser (Debian's chromium), in Latvian and
English, at 1366 px and 390 px, as the user who works on it (``tests/web/pages.py``
lists the pages from the app's routes and fails on a route with no sample):

* no horizontal overflow (``browser.fits``);
* axe-core finds no violation (its ``axe.min.js`` from the ``axe-playwright-python``
  package, injected with the page's Content-Security-Policy relaxed for this test only);
* the page's help link leads to a section of the guide that exists;
* one ``<h1>``, the page's language, no console error.

One server, one browser; one browser profile per user, language and width.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from gaita.bootstrap import App
from tests.web.browser import (
    BROWSER_MARKS,
    LANGS,
    SHOTS,
    WIDTHS,
    Session,
    chromium,
    demo_app,
    fits,
    serve,
)
from tests.web.pages import World, make_world, sample_pages

pytestmark = BROWSER_MARKS


@cache
def axe_source() -> str:
    return files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[str]:
    """What axe-core (its default rules: WCAG 2.x A and AA, best practices) finds."""
    page.add_script_tag(content=axe_source())
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5]) for v in found]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, World, str]]:
    app = demo_app(tmp_path_factory, "every-page")
    world = make_world(app)
    with serve(app) as base:
        yield app, world, base
    app.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_page(site: tuple[App, World, str], browser: Browser, lang: str,
                    width: int) -> None:
    app, world, base = site
    samples = sample_pages(app, world, lang=lang)
    sessions: dict[str | None, Session] = {}
    problems: list[str] = []
    sections: dict[str, bool] = {}
    try:
        for sample in samples:
            s = sessions.get(sample.user)
            if s is None:
                s = sessions[sample.user] = Session(browser, base, width=width, lang=lang,
                                                    bypass_csp=True)
                if sample.user:
                    s.log_in(sample.user)
            failed: list[str] = []
            s.page.on("response", lambda r, failed=failed: failed.append(f"{r.status} {r.url}")
                      if r.status >= 400 and r.request.resource_type != "document" else None)
            page = s.go(sample.path)
            where = f"{sample.path} ({sample.user or 'nobody'}, {lang}, {width} px)"
            expect(page.locator("h1")).to_have_count(1)
            expect(page.locator("html")).to_have_attribute("lang", lang)
            try:
                fits(page)
            except AssertionError as e:
                problems.append(f"{where}: overflow {e}")
            problems += [f"{where}: axe {v}" for v in axe_violations(page)]
            problems += [f"{where}: {f}" for f in failed]
            href = page.locator("header a.help").get_attribute("href")
            if not href or urlsplit(href).path != f"/help/{lang}":
                problems.append(f"{where}: help link {href!r}")
            elif href not in sections:
                sections[href] = _section_exists(s, href)
            if href and not sections.get(href, True):
                problems.append(f"{where}: help link {href} has no section")
            if sample.route == "/help" and lang == "lv" and width == 1366 and SHOTS:
                # the guide's top (its contents), not all of its pictures again
                page.screenshot(path=str(Path(SHOTS) / "18-help.png"))
        for s in sessions.values():
            # A 404 the console reports is the error pages' own status; any other
            # failed request is in ``failed`` above.
            problems += [e for e in s.errors if "status of 404" not in e]
    finally:
        for s in sessions.values():
            s.close()
    assert problems == [], "\n".join(problems)


def _section_exists(s: Session, href: str) -> bool:
    """The guide page the link opens has the element its anchor names."""
    anchor = urlsplit(href).fragment
    page = s.go(href)
    return not anchor or page.locator(f"[id='{anchor}']").count() == 1
