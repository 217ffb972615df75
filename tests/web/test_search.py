"""The search page (GET /search), the menu's search box, the duplicate warning on the
opening form and the case page's list of the child's other cases."""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.cases import fire, open_case
from engine.queries import actor_for
from engine.search import MAX_QUERY
from engine.store import ACCESS, CASE, ESCALATION
from gaita.bootstrap import App
from gaita.demo import demo_code
from tests.conftest import snapshot
from tests.web.conftest import CHILD_CODE, SCHOOL, form_csrf

Client = Callable[[str | None], TestClient]
NAME = "Jānis Bērziņš"
OTHER_SCHOOL = "jelgavas-spidolas-gimnazija"


def _open(web: App, code: str = CHILD_CODE, school: str = SCHOOL, name: str = NAME) -> str:
    return open_case(web.db, web.rt, "absences", actor_for(web.db, "koordinatore"),
                     child_name=name, child_code=code, school=school,
                     fields={"age_group": "basic"}).reference


def _rows(html: str) -> list[str]:
    return re.findall(r'<td data-label="[^"]+"><a href="/cases/([^"]+)">', html)


def test_every_signed_in_page_has_the_search_box(browser_client: Client) -> None:
    c = browser_client("koordinatore")
    for path in ("/dashboard", "/cases", "/cases/new", "/inbox"):
        html = c.get(path).text
        assert '<form method="get" action="/search" role="search">' in html, path
        assert '<label class="vh" for="site-search">Meklēt lietu</label>' in html, path
    admin = browser_client("admin").get("/admin").text   # reaches no case: no box
    assert 'action="/search"' not in admin


def test_search_by_name_without_diacritics_and_by_code(web: App,
                                                        browser_client: Client) -> None:
    ref = _open(web)
    other = _open(web, demo_code(20), name="Anna Kalniņa")
    c = browser_client("koordinatore")
    for q in ("berzins", "BERZ jan", "Bērziņš"):
        page = c.get("/search", params={"q": q})
        assert page.status_code == 200
        assert _rows(page.text) == [ref], q
        assert f'value="{q}"' in page.text   # the query stays in the box
        assert NAME in page.text and "mācību stundu kavējumi" in page.text
    for q in (CHILD_CODE, CHILD_CODE.replace("-", "")):
        assert _rows(c.get("/search", params={"q": q}).text) == [ref]
    assert _rows(c.get("/search", params={"q": "kav-2026"}).text) == [other, ref]
    with web.db.connect() as conn:
        reads = conn.execute(sa.select(ACCESS.c.detail).where(ACCESS.c.detail == "search")).all()
    assert reads   # each result with a name is a logged read


def test_nothing_found_and_errors_at_the_field(web: App, browser_client: Client) -> None:
    _open(web)
    c = browser_client("koordinatore")
    none = c.get("/search", params={"q": "ozols"})
    assert none.status_code == 200 and 'id="nothing-found"' in none.text
    assert "Nekas netika atrasts pēc „ozols”" in none.text
    empty = c.get("/search", params={"q": " "})
    assert empty.status_code == 400
    assert 'aria-invalid="true"' in empty.text and '<a href="#q">' in empty.text
    assert "ierakstiet, ko meklēt" in empty.text
    long = c.get("/search", params={"q": "x" * (MAX_QUERY + 1)})
    assert long.status_code == 400 and "par garu" in long.text
    first = c.get("/search")   # no query yet: just the box
    assert first.status_code == 200 and "nothing-found" not in first.text


def test_english_page(web: App, browser_client: Client) -> None:
    _open(web)
    c = browser_client("socdienests")   # an English-speaking user
    page = c.get("/search", params={"q": "nothing-like-this"})
    assert "Nothing found for" in page.text


def test_a_school_finds_only_its_own_cases(web: App, browser_client: Client) -> None:
    ours = _open(web)
    _open(web, demo_code(21), school=OTHER_SCHOOL)
    c = browser_client("skola")
    assert _rows(c.get("/search", params={"q": "berzins"}).text) == [ours]
    assert _rows(c.get("/search", params={"q": demo_code(21)}).text) == []


def test_closed_case_is_found_and_marked(web: App, browser_client: Client) -> None:
    ref = _open(web)
    fire(web.db, web.rt, ref, "absence_justified", actor_for(web.db, "koordinatore"),
         {"reason": "slimība"})
    page = browser_client("koordinatore").get("/search", params={"q": "berzins"}).text
    assert _rows(page) == [ref] and '<span class="badge">slēgta</span>' in page


# --- the duplicate warning -------------------------------------------------------------


def _form(csrf: str, **changes: str) -> dict[str, str]:
    return {"csrf": csrf, "child_name": NAME, "child_code": CHILD_CODE, "school": SCHOOL,
            "risk_level": "medium", "f.open.age_group": "basic", **changes}


def test_duplicate_warns_and_links_before_saving(web: App, browser_client: Client) -> None:
    first = _open(web)
    c = browser_client("koordinatore")
    csrf = form_csrf(c.get("/cases/new/absences").text)
    before = snapshot(web.db)
    warned = c.post("/cases/new/absences", data=_form(csrf))
    assert warned.status_code == 409
    assert snapshot(web.db) == before   # nothing saved
    assert f'<a href="/cases/{first}">{first}</a>' in warned.text
    assert 'name="anyway" value="1"' in warned.text
    assert "Tomēr atvērt jaunu lietu" in warned.text
    assert "sadarbības grupai kā atkārtotu lietu" in warned.text   # not silent any more
    assert f'value="{NAME}"' in warned.text   # what was typed is kept
    done = c.post("/cases/new/absences", data=_form(csrf, anyway="1"))
    assert done.status_code == 303
    assert done.headers["location"].endswith("&notice=repeated")
    shown = c.get(done.headers["location"]).text
    assert "nodota sadarbības grupai kā atkārtota" in shown
    with web.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(CASE)).scalar_one() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(ESCALATION)).scalar_one() == 1


def test_duplicate_of_a_case_the_school_may_not_see_is_named_without_a_link(
        web: App, browser_client: Client) -> None:
    other = _open(web, school=OTHER_SCHOOL)
    c = browser_client("skola")
    csrf = form_csrf(c.get("/cases/new/absences").text)
    warned = c.post("/cases/new/absences", data=_form(csrf))
    assert warned.status_code == 409
    assert f'href="/cases/{other}"' not in warned.text
    assert f"{other} (jums nav tiesību to skatīt)" in warned.text


# --- the child's other cases on the case page ------------------------------------------


def test_case_page_lists_the_childs_other_cases(web: App, browser_client: Client) -> None:
    first = _open(web)
    fire(web.db, web.rt, first, "absence_justified", actor_for(web.db, "koordinatore"),
         {"reason": "slimība"})
    second = _open(web)
    page = browser_client("koordinatore").get(f"/cases/{second}").text
    assert 'id="child-cases"' in page and "Citas šī bērna lietas" in page
    assert f'<a href="/cases/{first}">{first}</a>' in page
    assert '<td data-label="Atvērta vai slēgta">slēgta</td>' in page
    lone = _open(web, demo_code(22), name="Anna Kalniņa")
    assert 'id="child-cases"' not in browser_client("koordinatore").get(f"/cases/{lone}").text
