"""The case page's aggressor block (MK 474 p. 12 to another municipality): the form to
record the pupil who used violence, the address fallback, and who sees the identity."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.store import OUTBOX, PARTY
from gaita.bootstrap import App
from gaita.demo import demo_code
from tests.conftest import snapshot
from tests.engine.test_filings import act
from tests.engine.test_parties import P12, to_school_measures
from tests.web.test_case_page import forms_of, submit

Client = Callable[[str | None], TestClient]
CODE = demo_code(7)


def test_record_the_aggressor_wait_for_the_address_and_send_the_report(
        web: App, browser_client: Client) -> None:
    ref = to_school_measures(web)
    school = browser_client("skola")
    page = school.get(f"/cases/{ref}").text
    assert "Aizskārējs (MK 474 12. punkts)" in page and "aggressor" in forms_of(page, ref)
    # the victim's own code: refused in the form, nothing stored
    before = snapshot(web.db)
    refused = submit(school, ref, "aggressor", aggressor_name="Kārlis Ozols",
                     aggressor_code="120514-21234", aggressor_school="Šiaulių progimnazija",
                     aggressor_municipality="riga")
    assert refused.status_code == 422 and "nevar būt lietas bērns pats" in refused.text
    assert snapshot(web.db) == {**before, "access_log": snapshot(web.db)["access_log"]}
    with web.db.connect() as conn:
        assert conn.execute(sa.select(PARTY)).all() == []
    added = submit(school, ref, "aggressor", aggressor_name="Kārlis Ozols",
                   aggressor_code=CODE, aggressor_school="Šiaulių progimnazija",
                   aggressor_municipality="other",
                   aggressor_municipality_name="Šiaulių miesto savivaldybė")
    assert added.status_code == 303 and "notice=address_needed" in added.headers["location"]
    act(web, ref, "report_to_municipality", **P12)
    coordinator = browser_client("koordinatore").get(f"/cases/{ref}").text
    assert "Gaida pašvaldības saņēmēja adresi" in coordinator          # the summary says so
    assert "Ziņojums vēl nav nosūtīts." in coordinator
    assert "Kārlis Ozols" in coordinator and CODE in coordinator
    assert "aggressor/address" in forms_of(coordinator, ref)
    assert "aggressor/address" not in forms_of(school.get(f"/cases/{ref}").text, ref)
    # staff may not give the address
    assert school.post(f"/cases/{ref}/aggressor/address", data={
        "csrf": "x", "report_address": "a@b.example.lt"}).status_code in (400, 403)
    given = submit(browser_client("koordinatore"), ref, "aggressor/address",
                   report_address="svietimas@siauliai.example.lt")
    assert given.status_code == 303
    shown = browser_client("koordinatore").get(f"/cases/{ref}").text
    assert "Gaida pašvaldības saņēmēja adresi" not in shown
    assert "Ziņojumu sūta uz svietimas@siauliai.example.lt" in shown
    with web.db.connect() as conn:
        (payload,) = conn.execute(sa.select(OUTBOX.c.payload).where(
            OUTBOX.c.template == "residence_report")).scalars()
    assert payload["external"]["address"] == "svietimas@siauliai.example.lt"


def test_a_role_that_may_not_act_gets_no_form_and_is_refused(
        web: App, browser_client: Client) -> None:
    ref = to_school_measures(web)
    auditor = browser_client("auditors")
    page = auditor.get(f"/cases/{ref}").text
    assert "aggressor" not in forms_of(page, ref)
    before = snapshot(web.db)
    assert auditor.post(f"/cases/{ref}/aggressor", data={
        "csrf": "x", "expected_version": "1", "aggressor_name": "X Y",
        "aggressor_code": CODE, "aggressor_school": "s",
        "aggressor_municipality": "riga"}).status_code in (400, 403)
    with web.db.connect() as conn:
        assert conn.execute(sa.select(PARTY)).all() == []
    assert {k: v for k, v in snapshot(web.db).items() if k != "access_log"} == {
        k: v for k, v in before.items() if k != "access_log"}
