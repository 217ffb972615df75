"""Cross-municipality reports (issue 11 §4, MK 474 p. 12): the pupil who used violence
is a second child on the victim's case; the p. 12 report goes to the municipality of
their declared residence, or waits for its address.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.errors import (
    AccessDenied,
    FieldError,
    InvalidPersonalCode,
    NotFound,
    NotPermitted,
)
from engine.events import verify_chain
from engine.parties import add_aggressor, give_report_address
from engine.queries import actor_for, case_view
from engine.runtime import operator
from engine.store import ACCESS, ESCALATION, EVENT, OUTBOX, PARTY, load_case_row
from engine.tables import Channel
from gaita.bootstrap import App
from gaita.demo import demo_code
from gaita.mail import mail_settings
from gaita.settings import ROOT
from notifications.delivery import DeliveryWorker, SmtpSettings
from tests.conftest import make_test_app, snapshot
from tests.engine.test_filings import act, file, open_violence
from tests.notifications.smtp import SmtpServer

AGGRESSOR = {"name": "Kārlis Ozols", "code": demo_code(7), "school": "jelgavas-4-vsk"}
CHILD_CODE = "120514-21234"   # the victim's (tests.engine.test_filings.open_violence)
P12 = {"no_improvement": True, "parents_not_cooperating": True,
       "measures_taken": "Uzvedības plāns, sarunas ar vecākiem"}


def to_school_measures(app: App) -> str:
    ref = open_violence(app, "pupil_to_pupil")
    file(app, ref, "state_police")
    act(app, ref, "protected_and_reported", victim_protected=True, first_aid_given=False)
    act(app, ref, "founder_informed", victim_parents_informed=True)
    act(app, ref, "school_to_resolve", user="koordinatore", support_given="Psihologs")
    return ref


def aggressor(app: App, ref: str, municipality: str, user: str = "skola", **kw: Any) -> Any:
    return add_aggressor(app.db, app.rt, ref, actor_for(app.db, user),
                         **{**AGGRESSOR, "municipality": municipality, **kw})


def mails(app: App) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)).mappings()]


def events(app: App, ref: str, kind: str) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        case_id = load_case_row(conn, ref)["id"]
        return [dict(r) for r in conn.execute(sa.select(EVENT).where(
            EVENT.c.case_id == case_id, EVENT.c.kind == kind).order_by(EVENT.c.seq)).mappings()]


def parties(app: App) -> list[Any]:
    with app.db.connect() as conn:
        return list(conn.execute(sa.select(PARTY)).all())


def deliver(app: App, server: SmtpServer) -> Any:
    worker = DeliveryWorker(app.db, app.rt, SmtpSettings("127.0.0.1", server.port),
                            mail_settings(app), rng=random.Random(0))
    return asyncio.run(worker.deliver())


def test_the_directory_has_every_municipality_and_knows_ours(gaita: App) -> None:
    directory = gaita.rt.municipality.directory_of_municipalities
    assert directory is not None
    current = [m for m in directory.municipalities if m.merged_into is None]
    assert len(current) == 42                       # 7 state cities + 35 novadi (DOMAIN §9.4)
    assert directory.by_code["jelgava"].email is None   # ours: the education board
    assert directory.receiving("varaklanu-novads").code == "madonas-novads"
    assert all(m.email and m.email.endswith(".example.lv") for m in current
               if m.code != "jelgava")            # placeholders, as institutions.yaml


def test_a_p12_report_goes_to_the_aggressors_municipality_not_to_our_board(
        gaita: App, smtp: SmtpServer) -> None:
    ref = to_school_measures(gaita)
    with pytest.raises(NotPermitted) as refused:   # p. 12: whose municipality?
        act(gaita, ref, "report_to_municipality", **P12)
    assert refused.value.code == "party.required"
    added = aggressor(gaita, ref, "jelgavas-novads", school="Ozolnieku vidusskola")
    assert (added.residence.ours, added.residence.address) == (
        False, "pasvaldiba@jelgavas-novads.example.lv")
    before = {m["id"] for m in mails(gaita)}
    r = act(gaita, ref, "report_to_municipality", **P12)
    assert r.to_state == "mk545_examination"            # still the cooperation group's
    with gaita.db.connect() as conn:
        case = load_case_row(conn, ref)
        assert r.version == case["version"]
        assert conn.execute(sa.select(ESCALATION.c.reasons)).scalar_one() == ["mk474_p12"]
        assert verify_chain(conn, case["id"]) == []
    new = [m for m in mails(gaita) if m["id"] not in before]
    # nothing for our education board about this report: the task's email is not sent
    assert [m for m in new if m["template"] == "task_assigned"] == []
    (report,) = [m for m in new if m["template"] == "residence_report"]
    assert report["recipient_institution"] is None and report["task_id"] is None
    (event,) = events(gaita, ref, "residence_rep")
    assert event["payload"] == {"municipality": "jelgavas-novads",
                                "receiving": "jelgavas-novads", "status": "sent",
                                "address": "pasvaldiba@jelgavas-novads.example.lv"}
    assert report["event_id"] == event["id"]
    assert deliver(gaita, smtp).counts()["failed"] == 0
    (got,) = [g for g in smtp.received
              if g.rcpt_tos == ("pasvaldiba@jelgavas-novads.example.lv",)]
    body = got.message.get_body(("plain",)).get_content()
    assert ref in body and "Nr. 474 12. punktu" in body
    assert "Skolas sociālā pedagoģe" in body             # who sent it (the school's user)
    raw = got.raw.decode("utf-8", "replace")
    for secret in ("Kārlis", "Ozols", AGGRESSOR["code"], AGGRESSOR["code"][:6], "Anna",
                   "Bērziņa", CHILD_CODE, CHILD_CODE[:6], "/cases/", "Uzvedības plāns"):
        assert secret not in raw, secret
    assert "jip@jelgava.example.lv" in body              # whom to contact


def test_an_aggressor_living_here_changes_nothing(gaita: App) -> None:
    ref = to_school_measures(gaita)
    aggressor(gaita, ref, "jelgava")
    before = {m["id"] for m in mails(gaita)}
    act(gaita, ref, "report_to_municipality", **P12)
    new = [(m["template"], m["recipient_institution"]) for m in mails(gaita)
           if m["id"] not in before]
    assert ("task_assigned", "jip") in new             # the report is the board's task
    assert all(t != "residence_report" for t, _ in new)
    assert events(gaita, ref, "residence_rep") == []


def test_an_unknown_municipality_waits_for_the_address_the_coordinator_gives(
        gaita: App, smtp: SmtpServer) -> None:
    ref = to_school_measures(gaita)
    with pytest.raises(FieldError) as unknown:     # a code outside the directory: say which
        aggressor(gaita, ref, "siauliai")
    assert unknown.value.reason.code == "party.municipality_unknown"
    assert parties(gaita) == []
    added = aggressor(gaita, ref, "siauliai", municipality_name="Šiaulių miesto savivaldybė")
    assert added.residence.waiting
    assert [w.code for w in added.warnings] == ["party.address_needed"]
    coordinator = actor_for(gaita.db, "koordinatore")
    view = case_view(gaita.db, gaita.rt, ref, coordinator)
    assert view["waiting_for_address"] is True
    r = act(gaita, ref, "report_to_municipality", **P12)
    assert r.to_state == "mk545_examination"
    (waiting,) = events(gaita, ref, "residence_rep")
    assert waiting["payload"]["status"] == "waiting_address"
    assert [m for m in mails(gaita) if m["template"] == "residence_report"] == []
    view = case_view(gaita.db, gaita.rt, ref, coordinator)
    (party,) = view["parties"]
    assert (party["waiting_for_address"], party["report_waiting"]) == (True, True)
    # staff may not give it; nor an address that is none
    with pytest.raises(AccessDenied):
        give_report_address(gaita.db, gaita.rt, ref, actor_for(gaita.db, "skola"),
                            "svietimas@siauliai.example.lt")
    with pytest.raises(FieldError) as bad:
        give_report_address(gaita.db, gaita.rt, ref, coordinator, "nav adrese")
    assert bad.value.reason.code == "party.bad_address"
    given = give_report_address(gaita.db, gaita.rt, ref, coordinator,
                                "svietimas@siauliai.example.lt")
    assert given.sent
    (report,) = [m for m in mails(gaita) if m["template"] == "residence_report"]
    assert report["payload"]["external"]["address"] == "svietimas@siauliai.example.lt"
    assert [e["payload"]["status"] for e in events(gaita, ref, "residence_rep")] == [
        "waiting_address", "sent"]
    view = case_view(gaita.db, gaita.rt, ref, coordinator)
    assert view["waiting_for_address"] is False and not view["parties"][0]["report_waiting"]
    assert deliver(gaita, smtp).counts()["failed"] == 0
    assert any(g.rcpt_tos == ("svietimas@siauliai.example.lt",) for g in smtp.received)


@pytest.mark.parametrize(("kw", "field", "code"), [
    ({"code": CHILD_CODE}, "child_code", "party.own_code"),      # the victim is no aggressor
    ({"code": "120514-21235"}, None, "personal_code.check"),     # a bad check digit
    ({"name": "  "}, "child_name", "field.name_required"),
    ({"school": " "}, "school", "party.school_required"),
    ({"address": "x@"}, "address", "party.bad_address"),
])
def test_refusals_store_nothing(gaita: App, kw: dict[str, str], field: str | None,
                                code: str) -> None:
    ref = to_school_measures(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(NotPermitted) as refused:
        aggressor(gaita, ref, "riga", **kw)
    if field is None:
        assert isinstance(refused.value, InvalidPersonalCode)
        assert refused.value.reason.code == code
    else:
        assert isinstance(refused.value, FieldError)
        assert (refused.value.field, refused.value.reason.code) == (field, code)
    assert snapshot(gaita.db) == before and parties(gaita) == []


def test_roles_that_may_not_act_on_the_case_are_refused(gaita: App) -> None:
    ref = to_school_measures(gaita)
    before = snapshot(gaita.db)
    for user in ("auditors", "policija", "grupa"):
        with pytest.raises(AccessDenied):
            aggressor(gaita, ref, "riga", user=user)
    assert parties(gaita) == []
    assert {k: v for k, v in snapshot(gaita.db).items() if k != "access_log"} == {
        k: v for k, v in before.items() if k != "access_log"}
    aggressor(gaita, ref, "riga")
    with pytest.raises(NotPermitted) as twice:
        aggressor(gaita, ref, "riga", user="koordinatore")
    assert twice.value.code == "party.already_recorded"
    with pytest.raises(NotFound):
        add_aggressor(gaita.db, gaita.rt, "VARD-2099-99999", actor_for(gaita.db, "skola"),
                      **AGGRESSOR, municipality="riga")


def test_the_aggressors_identity_is_shown_only_with_identity_and_every_access_logged(
        db_url: str, tmp_path: Path) -> None:
    # group members here see no identity (an installation may declare so in roles.yaml)
    workflows = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", workflows)
    roles = workflows / "roles.yaml"
    text = roles.read_text(encoding="utf-8")
    assert "group_work: true,\n                 scope: escalated}" in text
    roles.write_text(text.replace("group_work: true,\n                 scope: escalated}",
                                  "group_work: true,\n                 scope: escalated, "
                                  "sees: [case_data, notes]}"), encoding="utf-8")
    app = make_test_app(db_url, workflows=workflows)
    try:
        ref = to_school_measures(app)
        aggressor(app, ref, "riga", channel=Channel.WEB)
        act(app, ref, "report_to_municipality", **P12)    # escalated: the group reads it
        coordinator = case_view(app.db, app.rt, ref, actor_for(app.db, "koordinatore"))
        (party,) = coordinator["parties"]
        assert party["child"] == {"name": "Kārlis Ozols", "personal_code": AGGRESSOR["code"]}
        assert (party["role"], party["municipality"], party["school"]) == (
            "aggressor", "riga", "jelgavas-4-vsk")
        for reader in (actor_for(app.db, "grupa"), operator("x")):
            seen = case_view(app.db, app.rt, ref, reader)
            assert "child" not in seen and "child" not in seen["parties"][0]
            assert seen["parties"][0]["municipality"] == "riga"
            assert "Ozols" not in str(seen) and AGGRESSOR["code"] not in str(seen)
        with app.db.connect() as conn:
            case = load_case_row(conn, ref)
            stored = str(conn.execute(sa.select(EVENT.c.payload)).all()) + str(
                conn.execute(sa.select(OUTBOX.c.payload)).all())
            log = conn.execute(sa.select(ACCESS.c.actor, ACCESS.c.action, ACCESS.c.channel,
                                         ACCESS.c.detail).where(ACCESS.c.case_id == case["id"])
                               .order_by(ACCESS.c.id)).all()
        assert "Ozols" not in stored and AGGRESSOR["code"] not in stored
        assert ("skola", "write", "web", "party:aggressor") in log
        assert ("koordinatore", "read", "cli", None) in log
        assert ("grupa", "read", "cli", None) in log
    finally:
        app.db.dispose()
