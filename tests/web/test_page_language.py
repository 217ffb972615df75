"""Every page in both languages (without a browser; ``tests/web/pages.py`` lists them
from the app's routes): no English on a Latvian page, the language switch and the
help link on every page (error pages and a refused POST's page too), each help link
reaching a section of the guide that exists, and dates written in words.

"English on a Latvian page": every text of the English catalogues, and every English
title of the declarations (case types, states, steps) and of the institutions, that
differs from its Latvian text, cut at its placeholders into phrases; a phrase that
does not also occur in a Latvian text ("English", "API") must not be on a Latvian
page, in its text or in what a screen reader reads (alt, title, aria-label,
placeholder).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from gaita.bootstrap import App
from gaita.demo import load_demo
from gaita.web import create_app
from gaita.web.help import guide_anchors
from i18n import catalogue, format_moment
from tests.conftest import make_test_app
from tests.web.conftest import log_in
from tests.web.pages import Sample, World, make_world, sample_pages

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

_PLACEHOLDER = re.compile(r"\{[^}]*\}")
_TAG = re.compile(r"<[^>]+>")
#: Phrases shorter than this many letters are too likely to be names or codes.
MIN_LETTERS = 4


class _Text(HTMLParser):
    """A page's visible text and what assistive technology reads from its attributes."""

    SKIP = frozenset({"style", "script"})
    SPOKEN = frozenset({"alt", "title", "aria-label", "placeholder"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        self.parts.extend(v for k, v in attrs if k in self.SPOKEN and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def _phrases(text: str) -> list[str]:
    return [" ".join(p.split()) for p in _PLACEHOLDER.split(_TAG.sub(" ", text))
            if sum(c.isalpha() for c in p) >= MIN_LETTERS]


def english_phrases(app: App) -> set[str]:
    """English texts of the app that differ from their Latvian ones, minus any phrase
    that Latvian uses too."""
    en, lv = catalogue("en"), catalogue("lv")
    pairs = [(en[k], lv[k]) for k in en if k in lv]
    reg = app.rt.registry
    for wf in reg.current.values():
        pairs.append((wf.title.en, wf.title.lv))
        for name in wf.states:
            title = wf.state(name).title
            pairs.append((title.en, title.lv))
    for inst in app.rt.municipality.institutions:
        pairs.append((inst.name.en, inst.name.lv))
    latvian = " ".join(lv_text for _, lv_text in pairs)
    found = set()
    for en_text, lv_text in pairs:
        if en_text == lv_text:
            continue
        for phrase in _phrases(en_text):
            if not re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", latvian):
                found.add(phrase)
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, World]]:
    path: Path = tmp_path_factory.mktemp("pages") / "gaita.db"
    app = make_test_app(f"sqlite:///{path}", base_url="https://testserver")
    load_demo(app.db, app.rt)
    world = make_world(app)
    yield app, world
    app.db.dispose()


@pytest.fixture(scope="module")
def clients(site: tuple[App, World]) -> Iterator[dict[str | None, TestClient]]:
    app, _ = site
    made: dict[str | None, TestClient] = {}
    users = {s.user for s in sample_pages(*site)}
    for user in users:
        c = TestClient(create_app(app), base_url="https://testserver")
        c.__enter__()
        if user:
            log_in(c, user)
        made[user] = c
    yield made
    for c in made.values():
        c.__exit__(None, None, None)


def _get(clients: dict[str | None, TestClient], sample: Sample, lang: str) -> str:
    client = clients[sample.user]
    client.cookies.set("gaita_lang", lang)
    response = client.get(sample.path)
    assert response.status_code < 500, (sample, response.status_code)
    assert f'<html lang="{lang}">' in response.text, sample
    return response.text


def test_no_english_on_a_latvian_page(site: tuple[App, World],
                                      clients: dict[str | None, TestClient]) -> None:
    app, _ = site
    phrases = english_phrases(app)
    assert "Log out" in phrases and "Dashboard" in phrases   # the list is the app's words
    found = []
    for sample in sample_pages(*site):
        text = page_text(_get(clients, sample, "lv"))
        found += [f"{sample.path}: {p!r}" for p in sorted(phrases)
                  if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)]
    assert found == []


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_every_page_switches_language_and_links_to_its_guide_section(
        site: tuple[App, World], clients: dict[str | None, TestClient], lang: str) -> None:
    anchors = guide_anchors(lang)
    other = "en" if lang == "lv" else "lv"
    for sample in sample_pages(*site, lang=lang):
        html = _get(clients, sample, lang)
        helps = re.findall(r'<a href="(/help/[a-z]{2}(?:#[^"]*)?)" class="help">', html)
        assert len(helps) == 1, sample
        where = urlsplit(helps[0])
        assert where.path == f"/help/{lang}", sample
        assert not where.fragment or where.fragment in anchors, (sample, helps[0])
        switch = re.findall(rf'<a href="([^"]+)" lang="{other}" hreflang="{other}">', html)
        assert len(switch) == 1, sample


def test_the_switch_returns_to_the_same_page_without_its_lang(
        site: tuple[App, World], clients: dict[str | None, TestClient]) -> None:
    client = clients["koordinatore"]
    client.cookies.set("gaita_lang", "lv")
    html = client.get("/cases?page=1&lang=lv").text
    target = re.search(r'<a href="/lang/en\?next=([^"]+)" lang="en"', html)
    assert target and unquote(target.group(1)).replace("&amp;", "&") == "/cases?page=1"
    moved = client.get(f"/lang/en?next={target.group(1)}", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/cases?page=1"
    assert moved.headers["set-cookie"].startswith("gaita_lang=en;")


def test_a_refused_post_offers_the_page_it_came_from_in_the_other_language(
        site: tuple[App, World], clients: dict[str | None, TestClient]) -> None:
    _, world = site
    client = clients["koordinatore"]
    client.cookies.set("gaita_lang", "lv")
    refused = client.post(f"/cases/{world.reference}/notes", data={"csrf": "wrong"})
    assert refused.status_code == 403
    assert (f'<a href="/lang/en?next=%2Fcases%2F{world.reference}" lang="en"'
            in refused.text)
    nobody = clients[None]
    nobody.cookies.set("gaita_lang", "lv")
    bad = nobody.post("/login", data={})
    assert bad.status_code == 403 and '<a href="/lang/en?next=%2Flogin" lang="en"' in bad.text


def test_the_error_page_of_a_link_has_the_switch(site: tuple[App, World],
                                                 clients: dict[str | None, TestClient]) -> None:
    _, world = site
    nobody = clients[None]
    nobody.cookies.set("gaita_lang", "en")
    broken = nobody.get(world.link[:-3] + "xyz")
    assert broken.status_code == 400 and '<html lang="en">' in broken.text
    assert 'lang="lv" hreflang="lv">Latviski</a>' in broken.text
    nobody.cookies.set("gaita_lang", "lv")


def test_dates_are_written_in_words() -> None:
    riga = ZoneInfo("Europe/Riga")
    moment = datetime(2026, 2, 7, 9, 5, tzinfo=riga)
    assert format_moment(moment, "lv") == "2026. gada 7. februārī plkst. 09:05"
    assert format_moment(moment, "en") == "7 February 2026, 09:05"
    assert format_moment(moment.replace(month=3), "lv") == "2026. gada 7. martā plkst. 09:05"
    assert format_moment(moment.replace(month=5), "lv").startswith("2026. gada 7. maijā")


def test_dates_on_pages_are_in_the_pages_language(site: tuple[App, World],
                                                  clients: dict[str | None, TestClient]) -> None:
    app, world = site
    day = app.rt.calendar.local_date(app.rt.clock.now())
    for lang, pattern in (("lv", rf"{day.year}\. gada {day.day}\. \w+ plkst\. \d\d:\d\d"),
                          ("en", rf"{day.day} \w+ {day.year}, \d\d:\d\d")):
        text = page_text(_get(clients, Sample("", f"/cases/{world.reference}", "koordinatore"),
                              lang))
        assert re.search(pattern, text), lang
        assert not re.search(r"\b\d\d\.\d\d\.\d{4}\b", text), lang
        assert "mēnes" not in text
