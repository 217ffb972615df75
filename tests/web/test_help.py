"""The user guide at /help: both languages have the same sections, every page's
section exists, no login is needed, and its pictures come from docs/screenshots only."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest

from gaita.bootstrap import App
from gaita.web import create_app
from gaita.web.help import GUIDE, SCREENSHOTS, guide_anchors
from gaita.web.help_anchors import HELP_ANCHORS, help_anchor, help_href
from i18n import LANGS
from tests.conftest import make_test_app
from tests.web.conftest import log_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ROLES = ("start", "coordinator", "school", "institution", "chair", "administrator", "auditor")


@pytest.fixture
def client(tmp_path: object) -> Iterator[tuple[App, TestClient]]:
    app = make_test_app(f"sqlite:///{tmp_path}/gaita.db", base_url="https://testserver")
    with TestClient(create_app(app), base_url="https://testserver") as c:
        yield app, c
    app.db.dispose()


def test_both_guides_have_the_same_sections_and_every_page_has_one() -> None:
    anchors = {lang: guide_anchors(lang) for lang in LANGS}
    assert anchors["lv"] == anchors["en"]
    assert set(ROLES) <= anchors["lv"]
    assert {a for a in HELP_ANCHORS.values() if a} <= anchors["lv"]


def test_a_page_finds_its_section_by_template_then_folder_then_the_top() -> None:
    assert help_anchor("dashboard/dashboard.html") == "coordinator-dashboard"
    assert help_anchor("admin/some_new_page.html") == "administrator"
    assert help_anchor("no_such_folder/page.html") == ""
    assert help_anchor("page.html") == ""
    assert help_href("group/new.html", "en") == "/help/en#chair-agenda"
    assert help_href("elsewhere.html", "lv") == "/help/lv"


def test_every_picture_is_a_screenshot() -> None:
    for lang in LANGS:
        text = (GUIDE / f"{lang}.md").read_text(encoding="utf-8")
        for src in re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text):
            assert re.fullmatch(r"\.\./screenshots/[0-9a-z-]+\.png", src), src
            # `make screenshots` made it (the browser tests save every picture the guide shows)
            assert (SCREENSHOTS / src.rsplit("/", 1)[1]).is_file(), f"{lang}.md: {src}"


def test_the_guide_needs_no_login_and_is_in_the_readers_language(
        client: tuple[App, TestClient]) -> None:
    _, c = client
    lv = c.get("/help")
    assert lv.status_code == 200 and '<html lang="lv">' in lv.text
    assert '<h2 id="coordinator">Koordinatora nedēļa</h2>' in lv.text
    assert "{#" not in lv.text
    assert '<a href="/help/en" lang="en" hreflang="en">English</a>' in lv.text
    en = c.get("/help/en")
    assert '<h2 id="coordinator">The coordinator\'s week</h2>' in en.text
    assert '<a href="/help/lv" lang="lv" hreflang="lv">Latviski</a>' in en.text
    assert c.get("/help/de").status_code == 404
    shown = re.findall(r'<img src="([^"]+)"', lv.text)
    assert "/help/screenshots/01-login.png" in shown
    for src in shown:   # a picture not made yet is left out, never a broken image
        assert (SCREENSHOTS / src.rsplit("/", 1)[1]).is_file(), src


def test_a_logged_in_reader_keeps_the_menu(client: tuple[App, TestClient]) -> None:
    _, c = client
    log_in(c, "koordinatore")
    page = c.get("/help/en")
    assert '<html lang="en">' in page.text and 'href="/dashboard"' in page.text


def test_only_screenshots_are_served(client: tuple[App, TestClient]) -> None:
    _, c = client
    image = c.get("/help/screenshots/01-login.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    for name in ("..%2F..%2Fpyproject.toml", "01-login.PNG", "missing.png", ".hidden.png"):
        assert c.get(f"/help/screenshots/{name}").status_code == 404, name
    assert c.get("/favicon.ico").status_code == 204
