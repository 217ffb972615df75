"""The dashboard, the case list (filters, sorting, pages) and its CSV/XLSX export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import openpyxl
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.cases import fire, open_case
from engine.clock import FixedClock
from engine.pause import pause
from engine.queries import actor_for
from gaita import demo
from gaita.bootstrap import App
from gaita.web import charts, dashboard
from tests.web.conftest import CHILD_MARKS, SCHOOL

Client = Callable[[str | None], TestClient]
OTHER_SCHOOL = "jelgavas-spidolas-gimnazija"
_REFERENCE = re.compile(r'<a href="/cases/([A-Z]+-\d{4}-\d{5})">')


def open_absences(app: App, n: int, *, school: str = SCHOOL, risk: str = "medium") -> str:
    """An absences case the coordinator opened for ``school`` (its first task: the school's)."""
    return open_case(app.db, app.rt, "absences", actor_for(app.db, "koordinatore"),
                     child_name=f"Bērns Nr {n}", child_code=demo.demo_code(n), school=school,
                     fields={"age_group": "basic"}, risk_level=risk).reference


def open_unregistered(app: App, n: int) -> str:
    """An unregistered-child case: the education board's, no school involved."""
    return open_case(app.db, app.rt, "unregistered_child", actor_for(app.db, "koordinatore"),
                     child_name=f"Bērns Nr {n}", child_code=demo.demo_code(n),
                     fields={"ikvd_list_date": "2026-11-27", "ikvd_cycle": "oct_30",
                             "age_group": "basic"}).reference


def advance(app: App, reference: str, trigger: str, **fields: object) -> None:
    fire(app.db, app.rt, reference, trigger, actor_for(app.db, "koordinatore"), fields)


def card(html: str, key: str) -> int:
    found = re.search(rf'id="card-{key}"><span class="n">(\d+)</span>', html)
    assert found, f"no card {key}"
    return int(found.group(1))


def table_row(html: str, title: str) -> list[str]:
    """The cells after the (first) row header ``title``."""
    found = re.search(rf"<th scope=\"row\">(?:<a [^>]*>)?{re.escape(title)}(?:</a>)?</th>"
                      r"(.*?)</tr>", html, re.S)
    assert found, f"no row {title}"
    return re.findall(r"<td[^>]*>(.*?)</td>", found.group(1))


def listed(html: str) -> list[str]:
    return _REFERENCE.findall(html)


def clock_of(app: App) -> FixedClock:
    assert isinstance(app.rt.clock, FixedClock)
    return app.rt.clock


def exports(app: App) -> list[tuple[str, str, str, str]]:
    with app.db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT c.reference, a.actor, a.action, a.channel FROM access_log a "
            "JOIN \"case\" c ON c.id = a.case_id WHERE a.action = 'export' ORDER BY c.reference"))]


# --- the dashboard ---------------------------------------------------------------------


def test_dashboard_figures_follow_the_cases_and_the_clock(web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    empty = c.get("/dashboard")
    assert empty.status_code == 200
    assert [card(empty.text, k) for k in ("open", "overdue", "due_today")] == [0, 0, 0]
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in empty.text

    first, second = open_absences(web, 1), open_absences(web, 2)
    open_unregistered(web, 3)
    html = c.get("/dashboard").text
    assert [card(html, k) for k in ("open", "overdue", "due_today")] == [3, 0, 2]
    assert table_row(html, "Neattaisnoti mācību stundu kavējumi") == ["2", "0"]
    assert table_row(html, "Jelgavas 4. vidusskola") == ["2", "0"]
    assert table_row(html, "Jelgavas izglītības pārvalde") == ["1", "0"]
    assert table_row(html, "30. nov.") == ["3"]           # open cases now: the chart's table
    assert table_row(html, "Sazināties ar vecākiem")[0] == "2"   # time in state: cases
    assert 'href="/cases?queue=overdue"' in html

    advance(web, first, "record_unjustified", parents_reached=False)
    html = c.get("/dashboard").text
    assert card(html, "due_today") == 1
    assert table_row(html, "Atbalsts izglītības iestādē un kavējumu uzskaite")[0] == "1"

    clock_of(web).advance(days=1)   # Tuesday: the second case's same-day contact is late
    c = browser_client("koordinatore")   # the session has been idle too long
    html = c.get("/dashboard").text
    assert [card(html, k) for k in ("open", "overdue", "due_today")] == [3, 1, 0]
    assert table_row(html, "Neattaisnoti mācību stundu kavējumi") == ["2", "1"]
    listing = c.get("/cases?overdue=1").text
    assert listed(listing) == [second]
    assert 'class="due-note late">nokavēts par 1 darba dienu' in listing
    assert '<span class="badge deadline dl-overdue"><span aria-hidden="true">⚠ </span>kavēts</span>' in listing


def test_a_long_pause_is_counted_and_shown(web: App, browser_client: Client) -> None:
    ref = open_absences(web, 1)
    advance(web, ref, "record_unjustified", parents_reached=True)
    pause(web.db, web.rt, ref, actor_for(web.db, "koordinatore"), "child_abroad")
    c = browser_client("koordinatore")
    assert card(c.get("/dashboard").text, "paused_too_long") == 0
    clock_of(web).advance(days=40)
    c = browser_client("koordinatore")
    html = c.get("/dashboard").text
    assert (card(html, "paused_too_long"), card(html, "overdue")) == (1, 0)
    assert '<span class="badge deadline dl-paused">apturēts</span>' in c.get("/cases").text


def test_the_dashboard_in_english(web: App, browser_client: Client) -> None:
    open_absences(web, 1)
    html = browser_client("koordinatore").get("/dashboard?lang=en").text
    assert table_row(html, "Unjustified absences") == ["1", "0"]
    assert "Open cases over the last 12 weeks" in html
    assert table_row(html, "30 Nov") == ["1"]


# --- the case list ---------------------------------------------------------------------


def test_filters_select_the_cases(web: App, browser_client: Client) -> None:
    here = open_absences(web, 1, risk="high")
    there = open_absences(web, 2, school=OTHER_SCHOOL)
    board = open_unregistered(web, 3)
    closed = open_absences(web, 4)
    advance(web, closed, "absence_justified", reason="Slimība")
    c = browser_client("koordinatore")

    def refs(query: str) -> list[str]:
        response = c.get(f"/cases?{query}")
        assert response.status_code == 200, response.text
        return sorted(listed(response.text))

    assert refs("") == sorted([here, there, board])
    assert refs("type=unregistered_child") == [board]
    assert refs("type=absences&state=parent_contact") == sorted([here, there])
    assert refs("institution=jip") == [board]
    assert refs(f"school={OTHER_SCHOOL}") == [there]
    assert refs("risk=high") == [here]
    assert refs("closed=1") == sorted([here, there, board, closed])
    assert refs("type=absences&closed=1&state=closed_justified") == [closed]
    page = c.get("/cases?type=absences").text
    assert '<option value="absences" selected>' in page
    assert "<optgroup" in page and 'value="verification"' not in page   # states of absences only
    assert "Atrastas lietas: 2" in page
    assert "Jelgavas Spīdolas Valsts ģimnāzija" in page


def test_sorting_and_pages_keep_the_filters(web: App, browser_client: Client,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 2)
    refs = [open_absences(web, n) for n in range(1, 6)]
    open_unregistered(web, 9)
    c = browser_client("koordinatore")

    first = c.get("/cases?type=absences&sort=reference").text
    assert listed(first) == refs[:2]
    assert "1. lapa no 3" in first
    assert 'href="/cases?type=absences&amp;sort=reference&amp;page=2" rel="next"' in first
    assert 'rel="prev"' not in first
    assert re.search(r'<th scope="col" aria-sort="ascending"><a href="/cases\?type=absences&amp;'
                     r'sort=reference&amp;order=desc">Numurs</a>', first)
    assert first.count("aria-sort") == 1

    last = c.get("/cases?type=absences&sort=reference&page=3").text
    assert listed(last) == refs[4:]
    assert "3. lapa no 3" in last and 'rel="next"' not in last
    assert 'href="/cases?type=absences&amp;sort=reference&amp;page=2" rel="prev"' in last

    down = c.get("/cases?type=absences&sort=reference&order=desc").text
    assert listed(down) == refs[::-1][:2]
    assert 'aria-sort="descending"' in down
    beyond = c.get("/cases?type=absences&page=9")
    assert beyond.status_code == 200 and listed(beyond.text) == []


#: Filters the list does not take, and what its error box says.
BAD_FILTERS = [
    ("type=burglary", "Nezināms lietas veids „burglary”"),
    ("type=absences&state=verification",
     "Lietas veidam „Neattaisnoti mācību stundu kavējumi” nav posma "
     "„verification”"),
    ("state=nowhere", "Nevienam lietas veidam nav posma „nowhere”"),
    ("sort=child_name", "Lietas nevar kārtot pēc „child_name”"),
    ("order=sideways", "Nezināma kārtošanas secība „sideways”"),
    ("page=abc", "Lapas numuram jābūt veselam skaitlim no 1 līdz 1000000, nevis „abc”"),
    ("page=0", "nevis „0”"),
    ("page=99999999999999999999", "nevis „99999999999999999999”"),
    ("risk=extreme", "Nezināms riska līmenis „extreme”"),
    ("institution=nav", "Nezināma iestāde „nav”"),
    ("school=jip", "Nezināma izglītības iestāde „jip”"),
    ("overdue=maybe", "nederīga vērtība „maybe”"),
    ("closed=2", "nederīga vērtība „2”"),
]


def test_a_bad_filter_is_a_400_naming_the_value(web: App, browser_client: Client) -> None:
    c = browser_client("koordinatore")
    for query, message in BAD_FILTERS:
        for path in ("/cases", "/cases/export.csv", "/cases/export.xlsx"):
            response = c.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query, response.text)
            assert 'class="errors" role="alert"' in response.text
            assert message in response.text, (path, query)
    assert exports(web) == []
    response = c.get("/cases?type=burglary&lang=en")
    assert response.status_code == 400
    assert "Unknown case type “burglary”" in response.text


# --- who sees what ---------------------------------------------------------------------


def test_a_school_sees_only_cases_it_works_on(web: App, browser_client: Client) -> None:
    mine = open_absences(web, 1)
    advance(web, mine, "record_unjustified", parents_reached=False)
    advance(web, mine, "report_to_board", unjustified_lessons=24, school_actions="Sarunas")
    other = open_absences(web, 2, school=OTHER_SCHOOL)
    board = open_unregistered(web, 3)
    c = browser_client("skola")

    page = c.get("/cases").text
    assert listed(page) == [mine]   # now the board's task: the school held one before
    assert other not in page and board not in page
    assert listed(c.get(f"/cases?school={OTHER_SCHOOL}").text) == []
    assert listed(c.get("/cases?type=unregistered_child").text) == []
    html = c.get("/dashboard").text
    assert card(html, "open") == 1
    assert other not in html and board not in html

    exported = c.get("/cases/export.csv")
    assert exported.status_code == 200
    text = exported.content.decode("utf-8-sig")
    assert mine in text and other not in text and board not in text
    assert exports(web) == [(mine, "skola", "export", "web")]


def test_the_auditor_reads_and_exports_the_admin_does_not(web: App, browser_client: Client) -> None:
    refs = sorted([open_absences(web, 1), open_unregistered(web, 2)])
    auditor = browser_client("auditors")
    assert card(auditor.get("/dashboard").text, "open") == 2
    assert sorted(listed(auditor.get("/cases").text)) == refs
    assert auditor.get("/cases/export.xlsx").status_code == 200
    assert exports(web) == [(r, "auditors", "export", "web") for r in refs]

    admin = browser_client("admin")
    for path in ("/dashboard", "/cases", "/cases/export.csv", "/cases/export.xlsx"):
        assert admin.get(path).status_code == 403, path
    assert len(exports(web)) == 2


def test_pages_need_a_login(web: App, browser_client: Client) -> None:
    c = browser_client(None)
    for path in ("/dashboard", "/cases?type=absences", "/cases/export.csv"):
        response = c.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=%2F")
    assert exports(web) == []


# --- export ----------------------------------------------------------------------------


def test_csv_export_keeps_latvian_letters_and_no_child(web: App, browser_client: Client) -> None:
    ref = open_absences(web, 1)
    open_unregistered(web, 2)
    c = browser_client("koordinatore")
    response = c.get("/cases/export.csv?type=absences")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == \
        "attachment; filename=gaita-cases-2026-11-30.csv"
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Numurs", "Lietas veids", "Posms"]
    assert "Atlikušās darba dienas" in rows[0] and "Termiņš apturēts" in rows[0]
    assert rows[1] == [ref, "Neattaisnoti mācību stundu kavējumi", "Sazināties ar vecākiem",
                       "atvērta", "Jelgavas 4. vidusskola", "Jelgavas 4. vidusskola", "vidējs",
                       "2026-11-30", "2026-11-30", "0", "nē", "", "nē"]   # "" : in time
    assert len(rows) == 2
    assert not any(mark in text for mark in (*CHILD_MARKS, "Bērns Nr", demo.demo_code(1)))
    english = c.get("/cases/export.csv?type=absences&lang=en").content.decode("utf-8-sig")
    assert english.startswith("Reference;Case type;State;Status;Responsible institution")
    assert "Contact the parents" in english


def test_xlsx_export_opens_with_openpyxl(web: App, browser_client: Client) -> None:
    refs = [open_absences(web, n) for n in (1, 2)]
    response = browser_client("koordinatore").get("/cases/export.xlsx?sort=reference")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == \
        "attachment; filename=gaita-cases-2026-11-30.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = list(book["Lietas"].iter_rows(values_only=True))
    assert rows[0][0] == "Numurs" and len(rows) == 3
    assert [r[0] for r in rows[1:]] == refs
    assert rows[1][4] == "Jelgavas 4. vidusskola" and rows[1][9] == 0


def test_a_large_export_is_cut_and_says_so(web: App, browser_client: Client,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "EXPORT_CAP", 2)
    refs = [open_absences(web, n) for n in (1, 2, 3)]
    response = browser_client("koordinatore").get("/cases/export.csv?sort=reference")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Eksportētas tikai pirmās 2 no 3 lietām."]
    assert rows[1][0] == "Numurs" and [r[0] for r in rows[2:]] == refs[:2]
    assert response.headers["x-gaita-export-capped"] == "2/3"
    assert [r[0] for r in exports(web)] == refs[:2]


# --- charts ----------------------------------------------------------------------------


def test_line_chart_is_labelled_and_escaped() -> None:
    svg = charts.line_chart([("1.12.", 3), ("<b>", 7)], ident="c1", title="Lietas & <x>",
                            desc="Apraksts", x_label="Nedēļa", y_label="Skaits")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert 'role="img" aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Lietas &amp; &lt;x&gt;</title>' in svg
    assert '<desc id="c1-desc">Apraksts</desc>' in svg
    assert "<b>" not in svg and "&lt;b&gt;: 7" in svg
    assert svg.count("<circle") == 2 and ">Nedēļa</text>" in svg and ">Skaits</text>" in svg
    assert ">8</text>" in svg   # the y axis reaches past the highest value


def test_bar_chart_shortens_long_labels_but_keeps_them_in_tooltips() -> None:
    long = "Apturēt apdraudējumu, aizsargāt bērnu un ziņot bāriņtiesai un policijai"
    svg = charts.bar_chart([(long, 2.5), ("Īsa", 0)], ident="c2", title="T", desc="D",
                           x_label="Darba dienas", y_label="Stāvoklis",
                           number=lambda v: f"{v:.1f}".replace(".", ","))
    assert svg.count("<rect") == 2
    assert f"<title>{long}: 2,5</title>" in svg
    assert f">{charts.shorten(long)}</text>" in svg and charts.shorten(long).endswith("…")
    assert len(charts.shorten(long)) <= charts.LABEL_CHARS


def test_axis_ticks_are_round() -> None:
    assert charts.ticks(0) == [0, 1]
    assert charts.ticks(3) == [0, 1, 2, 3]
    assert charts.ticks(7) == [0, 2, 4, 6, 8]
    assert charts.ticks(100) == [0, 20, 40, 60, 80, 100]
    assert charts.ticks(0.4) == [0, 1]


def test_x_labels_do_not_overlap_and_the_last_is_kept() -> None:
    def drawn(labels: list[str]) -> list[str]:
        svg = charts.line_chart([(label, 1) for label in labels], ident="c3", title="T",
                                desc="D", x_label="X", y_label="Y")
        return re.findall(r'text-anchor="middle" fill="#1b1b1b">([^<]*)</text>', svg)

    short = [f"{d:02d}.11." for d in range(1, 13)]
    assert drawn(short) == short
    wide = [f"{d} September" for d in range(1, 13)]
    assert drawn(wide)[-1] == "12 September" and len(drawn(wide)) < 12
