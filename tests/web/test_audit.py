"""The audit page (/audit): names, folded reads, filters, pages, the CSV; the case page's
access-log section by name, folded (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from engine.clock import FixedClock
from engine.store import ACCESS
from gaita.bootstrap import App
from tests.web.test_inbox import Client, at_social_service, login


def test_the_auditor_sees_who_read_what_by_name_folded_and_filtered(
        web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    coordinator = login(browser_client, "koordinatore")
    for _ in range(3):
        assert coordinator.get(f"/cases/{reference}").status_code == 200
    auditor = login(browser_client, "auditors")
    page = auditor.get("/audit")
    assert page.status_code == 200
    for shown in ("Piekļuves žurnāls: visas lietas", "Inese Koordinatore",
                  "Jelgavas izglītības pārvalde", "×3", f'href="/cases/{reference}"',
                  'href="/audit.csv"', 'class="rows"', 'data-label="Persona"'):
        assert shown in page.text, shown
    assert ">koordinatore<" not in page.text   # a name, not a user name
    one = auditor.get("/audit", params={"user": "koordinatore", "from": "30.11.2026",
                                        "to": "30.11.2026"})
    assert one.status_code == 200 and "×3" in one.text
    assert reference in one.text
    later = auditor.get("/audit", params={"user": "koordinatore", "from": "01.12.2026"})
    assert "Atlasei neatbilst neviens ieraksts." in later.text
    english = auditor.get("/audit?lang=en")
    assert "Access log: all cases" in english.text and "read" in english.text
    with web.db.connect() as conn:
        audits = conn.execute(sa.select(ACCESS.c.actor).where(ACCESS.c.action == "audit")).all()
    assert audits and {a.actor for a in audits} == {"auditors"}   # reading it is logged


def test_bad_filters_are_named_at_their_field(web: App, browser_client: Client) -> None:
    at_social_service(web)
    auditor = login(browser_client, "auditors")
    for params, target, said in (
            ({"from": "31.11.2026"}, "from", "kalendārā nepastāv"),
            ({"to": "nope"}, "to", "DD.MM.GGGG"),
            ({"from": "02.12.2026", "to": "01.12.2026"}, "to", "beigas ir pirms tā sākuma"),
            ({"case": "KAV-2026-99999"}, "case", "Lietas ar šādu numuru nav"),
            ({"user": "nav-tada"}, "user", "Izvēlieties personu no saraksta")):
        page = auditor.get("/audit", params=params)
        assert page.status_code == 400, params
        assert f'href="#{target}"' in page.text and said in page.text, params
        assert f'aria-describedby="{target}-error' in page.text or \
            f'aria-describedby="{target}-hint {target}-error"' in page.text, params
    assert auditor.get("/audit", params={"page": "0"}).status_code == 400


def test_the_csv_is_utf8_with_a_bom_and_the_folded_lines(web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    coordinator = login(browser_client, "koordinatore")
    coordinator.get(f"/cases/{reference}")
    coordinator.get(f"/cases/{reference}")
    auditor = login(browser_client, "auditors")
    response = auditor.get("/audit.csv", params={"user": "koordinatore"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == "attachment; filename=gaita-audit-2026-11-30.csv"
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == ["Pirmoreiz", "Pēdējoreiz", "Reizes", "Persona", "Iestāde",
                        "Lietotājvārds", "Lieta", "Darbība", "Kanāls"]
    reads = [r for r in table[1:] if r[7] == "skatīja" and r[6] == reference]
    assert [(r[2], r[3], r[4], r[5]) for r in reads] == [
        ("2", "Inese Koordinatore", "Jelgavas izglītības pārvalde", "koordinatore")]
    with web.db.connect() as conn:
        details = conn.execute(sa.select(ACCESS.c.detail).where(ACCESS.c.action == "audit")).all()
    assert any(d.detail and d.detail.endswith("; csv") for d in details)
    bad = auditor.get("/audit.csv", params={"from": "x"})
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]


def test_the_case_pages_access_log_names_and_folds(web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    coordinator = login(browser_client, "koordinatore")
    for _ in range(2):
        coordinator.get(f"/cases/{reference}")
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)
    auditor = login(browser_client, "auditors")
    page = auditor.get(f"/cases/{reference}").text
    section = page[page.index('id="access-log"'):]
    assert "Inese Koordinatore" in section and "×2" in section
    assert "tīmekļa lietotne" in section and ">web<" not in section
    assert ">koordinatore<" not in section


def test_only_the_auditor_reaches_the_audit_log(web: App, browser_client: Client) -> None:
    for user in ("koordinatore", "vaditajs", "admin", "skola"):
        c = login(browser_client, user)
        assert c.get("/audit").status_code == 403, user
        assert 'href="/audit"' not in c.get("/inbox").text, user
    auditor = login(browser_client, "auditors")
    assert 'href="/audit"' in auditor.get("/audit").text   # in the menu
