"""The REST API (/api/v1): bearer tokens, the access policy, the one write path,
problem+json errors, pagination, the OpenAPI document and the docs page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.errors import DatabaseUnavailable
from engine.store import CASE, TASK, load_case_row
from gaita import users
from gaita.accounts.sessions import start_session
from gaita.accounts.tables import TOKEN
from gaita.bootstrap import App
from gaita.demo import sample_fields
from gaita.web import create_app
from gaita.web.auth import session_cookie
from gaita.web.security import SECURITY_HEADERS
from tests.web.conftest import CHILD_CODE, CHILD_NAME, SCHOOL

OTHER_SCHOOL = "jelgavas-spidolas-gimnazija"
PROBLEM = "application/problem+json"
_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

Auth = Callable[[str], dict[str, str]]


@pytest.fixture
def client(web: App) -> Iterator[TestClient]:
    with TestClient(create_app(web), base_url="https://testserver",
                    follow_redirects=False) as c:
        yield c


@pytest.fixture
def auth(web: App) -> Auth:
    """``auth("skola")``: the headers of a new API token acting as that demo user."""
    def headers(username: str) -> dict[str, str]:
        _, token = users.create_token(web.db, web.rt, "admin", username, "test")
        return {"Authorization": f"Bearer {token}"}
    return headers


def is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"] == "about:blank"
    assert body["title"] and isinstance(body["detail"], str)
    return body


def open_case(client: TestClient, headers: dict[str, str], school: str = SCHOOL,
              **extra: Any) -> str:
    r = client.post("/api/v1/cases", headers=headers, json={   # the same child each time
        "case_type": "absences", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": school, "fields": {"age_group": "basic"}, "anyway": True, **extra})
    assert r.status_code == 201, r.text
    reference: str = r.json()["reference"]
    assert r.headers["location"] == f"/api/v1/cases/{reference}"
    return reference


def access_log(web: App) -> list[tuple[str, str, str]]:
    with web.db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT actor, action, channel FROM access_log ORDER BY id"))]


def datetimes(value: Any, key: str = "") -> Iterator[str]:
    """Every instant in a response body (members named ``*_at``, ``at``, ``since``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from datetimes(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from datetimes(v, key)
    elif isinstance(value, str) and (key.endswith("_at") or key in ("at", "since")):
        yield value


# --- cases -----------------------------------------------------------------------------


def test_a_date_field_is_dd_mm_yyyy_or_iso(web: App, client: TestClient, auth: Auth) -> None:
    coordinator = auth("koordinatore")
    fields = sample_fields(web.rt.registry.latest("unregistered_child").open.fields)
    body = {"case_type": "unregistered_child", "child_name": CHILD_NAME,
            "child_code": CHILD_CODE, "fields": fields}
    for typed, said in (("31.11.2026", "no such day as “31.11.2026”"),
                        ("30.11.26", "a date is written DD.MM.YYYY")):
        refused = client.post("/api/v1/cases", headers=coordinator, json={
            **body, "fields": {**fields, "ikvd_list_date": typed}})
        problem = is_problem(refused, 422)
        assert problem["field"] == "ikvd_list_date" and said in problem["detail"], problem
    created = client.post("/api/v1/cases", headers=coordinator, json={
        **body, "fields": {**fields, "ikvd_list_date": "30.11.2026"}})
    assert created.status_code == 201, created.text
    with web.db.connect() as conn:
        assert conn.execute(sa.select(CASE.c.data)).scalar()["ikvd_list_date"] == "2026-11-30"


def test_an_incident_time_opens_the_case_late_through_the_api(
        web: App, client: TestClient, auth: Auth) -> None:
    created = client.post("/api/v1/cases", headers=auth("skola"), json={
        "case_type": "violence", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": SCHOOL, "incident_at": "2026-11-28T11:20:00+02:00",
        "fields": {"violence_kind": "pupil_to_pupil", "violence_form": "bullying",
                   "finding": "found"}})
    assert created.status_code == 201, created.text
    assert created.json()["late_days"] == 2
    assert "entered late" in created.json()["warnings"][0]
    assert created.json()["task"]["due_at"] == "2026-11-28T21:59:59Z"
    future = client.post("/api/v1/cases", headers=auth("skola"), json={
        "case_type": "violence", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": SCHOOL, "incident_at": "2026-12-30T11:20:00+02:00",
        "fields": {"violence_kind": "pupil_to_pupil", "violence_form": "bullying",
                   "finding": "found"}})
    problem = is_problem(future, 422)
    assert problem["field"] == "incident_at" and "in the future" in problem["detail"], problem


def test_open_read_and_list_a_case(web: App, client: TestClient, auth: Auth) -> None:
    coordinator = auth("koordinatore")
    created = client.post("/api/v1/cases", headers=coordinator, json={
        "case_type": "absences", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": SCHOOL, "fields": {"age_group": "basic"}, "risk_level": "high"})
    assert created.status_code == 201, created.text
    body = created.json()
    reference = body["reference"]
    assert created.headers["location"] == f"/api/v1/cases/{reference}"
    assert body["state"] == "parent_contact" and body["version"] == 1
    assert body["task"]["owner"] == SCHOOL and body["task"]["working_days_left"] == 0
    assert body["task"]["due_at"] == "2026-11-30T21:59:59Z"   # 23:59:59 Riga time, in UTC

    read = client.get(f"/api/v1/cases/{reference}", headers=coordinator)
    assert read.status_code == 200
    assert read.headers["content-type"] == "application/json"
    assert CHILD_NAME.encode() in read.content   # UTF-8, not \\u-escaped
    view = read.json()
    assert view["child"] == {"name": CHILD_NAME, "personal_code": CHILD_CODE}
    assert view["title"]["en"] == "Unjustified absences"
    assert view["state_title"]["lv"] == "Sazināties ar vecākiem"
    assert view["allowed_triggers"] == ["absence_justified", "record_unjustified"]
    assert view["timeline"][0]["to"] == "parent_contact" and view["risk_level"] == "high"
    assert view["access_log"] is None   # not among a coordinator's field groups
    stamps = list(datetimes(view))
    assert stamps and all(_UTC.match(s) for s in stamps), stamps
    assert ("koordinatore", "read", "api") in access_log(web)

    listed = client.get("/api/v1/cases", headers=coordinator,
                        params={"type": "absences", "school": SCHOOL, "risk": "high",
                                "state": "parent_contact", "institution": SCHOOL})
    assert listed.status_code == 200
    page = listed.json()
    assert (page["total"], page["page"], page["per_page"]) == (1, 1, 50)
    (row,) = page["items"]
    assert row["reference"] == reference and row["owner_institution"] == SCHOOL
    assert CHILD_NAME not in listed.text and CHILD_CODE not in listed.text
    assert client.get("/api/v1/cases", headers=coordinator,
                      params={"risk": "low"}).json()["total"] == 0


def test_a_school_opens_for_itself_and_names_what_is_wrong(client: TestClient, auth: Auth) -> None:
    school = auth("skola")
    open_case(client, school)
    other = client.post("/api/v1/cases", headers=school, json={
        "case_type": "absences", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": OTHER_SCHOOL, "fields": {"age_group": "basic"}})
    assert "own institution" in is_problem(other, 403)["detail"]
    bad_code = client.post("/api/v1/cases", headers=school, json={
        "case_type": "absences", "child_name": CHILD_NAME, "child_code": "120514-21235",
        "school": SCHOOL, "fields": {"age_group": "basic"}})
    problem = is_problem(bad_code, 422)
    assert problem["field"] == "child_code" and "check digit" in problem["detail"]
    missing = client.post("/api/v1/cases", headers=school, json={
        "case_type": "absences", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": SCHOOL, "fields": {}})
    assert is_problem(missing, 422)["field"] == "age_group"
    unknown = client.post("/api/v1/cases", headers=school, json={
        "case_type": "truancy", "child_name": CHILD_NAME, "child_code": CHILD_CODE})
    problem = is_problem(unknown, 422)
    assert problem["field"] == "case_type" and "absences" in problem["allowed"]
    nowhere = client.post("/api/v1/cases", headers=auth("koordinatore"), json={
        "case_type": "absences", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": "no-such-school", "fields": {"age_group": "basic"}})
    assert is_problem(nowhere, 422)["field"] == "school"


def test_transitions_and_notes_go_through_the_write_path(client: TestClient, auth: Auth) -> None:
    school, coordinator = auth("skola"), auth("koordinatore")
    reference = open_case(client, school)
    url = f"/api/v1/cases/{reference}"

    fired = client.post(f"{url}/transitions", headers=school, json={
        "trigger": "record_unjustified", "fields": {"parents_reached": False},
        "expected_version": 1})
    assert fired.status_code == 200, fired.text
    assert fired.json()["from_state"] == "parent_contact"
    assert fired.json()["state"] == "in_school_support" and fired.json()["version"] == 2

    stale = client.post(f"{url}/transitions", headers=school, json={
        "trigger": "attendance_restored", "expected_version": 1})
    problem = is_problem(stale, 409)
    assert (problem["expected_version"], problem["current_version"]) == (1, 2)

    unknown = client.post(f"{url}/transitions", headers=school, json={"trigger": "fly_away"})
    problem = is_problem(unknown, 422)
    assert problem["valid_triggers"] == ["report_to_board", "attendance_restored",
                                         "flag_child_at_risk",
                                         "left_municipality", "education_completed"]
    assert all(t in problem["detail"] for t in problem["valid_triggers"])
    not_now = client.post(f"{url}/transitions", headers=school,
                          json={"trigger": "record_unjustified"})
    assert "report_to_board" in is_problem(not_now, 422)["valid_triggers"]
    guard = client.post(f"{url}/transitions", headers=school, json={
        "trigger": "report_to_board",
        "fields": {"unjustified_lessons": 3, "school_actions": "Sarunas"}})
    refused = is_problem(guard, 422)
    assert refused["guard"] == "absence_threshold_reached"
    assert (refused["code"], refused["reason_code"]) == ("guard.failed", "guard.below_threshold")
    field = client.post(f"{url}/transitions", headers=school, json={
        "trigger": "report_to_board", "fields": {"unjustified_lessons": "many"}})
    assert is_problem(field, 422)["field"] == "unjustified_lessons"

    noted = client.post(f"{url}/notes", headers=coordinator,
                        json={"text": "Vecāki apsola uzlabot apmeklējumu.",
                              "expected_version": 2})
    assert noted.status_code == 201, noted.text
    assert noted.json()["version"] == 3
    stale_note = client.post(f"{url}/notes", headers=coordinator,
                             json={"text": "vēlreiz", "expected_version": 2})
    assert is_problem(stale_note, 409)["current_version"] == 3
    view = client.get(url, headers=coordinator).json()
    assert view["version"] == 3
    assert view["timeline"][-1]["fields"] == {"group": "notes",
                                              "text": "Vecāki apsola uzlabot apmeklējumu."}

    reported = client.post(f"{url}/transitions", headers=school, json={
        "trigger": "report_to_board", "expected_version": 3,
        "fields": {"unjustified_lessons": 24, "school_actions": "Sarunas ar vecākiem"}})
    assert reported.status_code == 200, reported.text
    assert reported.json()["task"]["owner"] == "jip"
    # the task is the board's now: the school may no longer move the case
    assert is_problem(client.post(f"{url}/transitions", headers=school, json={
        "trigger": "attendance_restored"}), 403)["detail"]


# --- tasks -----------------------------------------------------------------------------


def test_an_institution_lists_and_answers_its_tasks(client: TestClient, auth: Auth) -> None:
    school, coordinator = auth("skola"), auth("koordinatore")
    reference = open_case(client, coordinator)
    listed = client.get("/api/v1/tasks", headers=school)
    assert listed.status_code == 200
    (task,) = listed.json()["items"]
    assert task["reference"] == reference and task["kind"] == "state"
    assert task["state_title"]["en"] == "Contact the parents" and task["acknowledged_at"] is None
    assert 'rel="first"' in listed.headers["link"]
    assert client.get("/api/v1/tasks", headers=coordinator).json()["total"] == 0   # none at jip
    url = f"/api/v1/tasks/{task['id']}/answers"

    ack = client.post(url, headers=school, json={"action": "acknowledge"})
    assert ack.status_code == 200, ack.text
    assert ack.json()["event_id"] and ack.json()["transition"] is None
    assert is_problem(client.post(url, headers=school, json={"action": "acknowledge"}), 409)
    assert is_problem(client.post(url, headers=school, json={"action": "decline"}), 422)  # reason
    wrong = client.post(url, headers=school, json={"action": "accept", "trigger": "x"})
    assert is_problem(wrong, 422)["field"] == "trigger"

    done = client.post(url, headers=school, json={
        "action": "done", "trigger": "record_unjustified", "fields": {"parents_reached": True},
        "reason": "Sazvanīta māte"})
    assert done.status_code == 200, done.text
    assert done.json()["transition"]["state"] == "in_school_support"
    closed = client.post(url, headers=school, json={"action": "accept"})
    assert is_problem(closed, 410)
    assert is_problem(client.post("/api/v1/tasks/999999/answers", headers=school,
                                  json={"action": "accept"}), 404)


# --- the cooperation group -------------------------------------------------------------


def test_the_cooperation_group_queue_meetings_and_decisions(client: TestClient, auth: Auth) -> None:
    coordinator, chair = auth("koordinatore"), auth("vaditajs")
    reference = open_case(client, coordinator)
    referred = client.post(f"/api/v1/cases/{reference}/escalations", headers=coordinator,
                           json={"reason": "several_institutions", "urgent": True})
    assert referred.status_code == 201, referred.text
    unknown = client.post(f"/api/v1/cases/{reference}/escalations", headers=coordinator,
                          json={"reason": "boredom"})
    problem = is_problem(unknown, 422)
    assert problem["field"] == "reason" and "several_institutions" in problem["detail"]
    (item,) = client.get("/api/v1/escalations", headers=chair).json()["items"]
    assert item["reference"] == reference and item["urgent"] and item["status"] == "queued"
    assert _UTC.match(item["queued_at"])

    for typed, said in (("31.11.2026", "31.11.2026 is not a day"),
                        ("30/11/2026", "30/11/2026 is not a day"), ("", "is not a day")):
        bad = client.post("/api/v1/meetings", headers=chair, json={"day": typed})
        assert said in is_problem(bad, 422)["detail"], typed
    planned = client.post("/api/v1/meetings", headers=chair,
                          json={"day": "30.11.2026", "place": "Lielā iela 11"})
    assert planned.status_code == 201, planned.text
    meeting = planned.json()["meeting"]
    assert planned.headers["location"] == f"/api/v1/meetings/{meeting}"
    assert [i["reference"] for i in planned.json()["items"]] == [reference]
    past = client.post("/api/v1/meetings", headers=chair, json={"day": "2026-11-27"})
    assert "past" in is_problem(past, 422)["detail"]
    far = client.post("/api/v1/meetings", headers=chair, json={"day": "9999-12-30"})
    assert "at most 366 days ahead" in is_problem(far, 422)["detail"]
    (row,) = client.get("/api/v1/meetings", headers=chair).json()["items"]
    assert (row["id"], row["day"], row["items"]) == (meeting, "2026-11-30", 1)

    decided = client.post(f"/api/v1/meetings/{meeting}/decisions", headers=chair, json={
        "reference": reference, "summary": "Ģimenei nepieciešams atbalsts",
        "actions": [{"institution": "jslp", "working_days": 10,
                     "text": "Sagatavot ģimenes atbalsta plānu"}]})
    assert decided.status_code == 201, decided.text
    (task,) = decided.json()["tasks"]
    assert task["institution"] == "jslp" and _UTC.match(task["due_at"])
    again = client.post(f"/api/v1/meetings/{meeting}/decisions", headers=chair, json={
        "reference": reference, "summary": "Vēlreiz"})
    assert is_problem(again, 422)
    nobody = client.post(f"/api/v1/meetings/{meeting}/decisions", headers=chair, json={
        "reference": "KAV-2026-99999", "summary": "x"})
    assert is_problem(nobody, 422)["field"] == "reference"
    assert is_problem(client.post("/api/v1/meetings/999/decisions", headers=chair, json={
        "reference": reference, "summary": "x"}), 404)

    view = client.get(f"/api/v1/meetings/{meeting}", headers=chair, params={"lang": "en"}).json()
    (agenda,) = view["items"]
    assert agenda["type_title"] == "Unjustified absences"
    assert agenda["decision"]["actions"][0]["task"] == task["task"]
    assert is_problem(client.get("/api/v1/meetings/999", headers=chair), 404)

    social = client.get("/api/v1/tasks", headers=auth("socdienests")).json()["items"]
    assert [(t["kind"], t["title"]) for t in social] == [
        ("decision", "Sagatavot ģimenes atbalsta plānu")]


# --- who may ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer gaita_not-a-token"}, {"Authorization": "Basic a29vcmQ6eA=="},
    {"Authorization": "Bearer"}])
def test_no_valid_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    for method, url in (("GET", "/api/v1/cases"), ("POST", "/api/v1/cases"),
                        ("GET", "/api/v1/cases/KAV-2026-00001"), ("GET", "/api/v1/meetings")):
        r = client.request(method, url, headers=headers, json={})
        is_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_and_a_session_cookie_are_refused(web: App, client: TestClient) -> None:
    _, token = users.create_token(web.db, web.rt, "admin", "koordinatore", "ci")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    with web.db.connect() as conn:
        token_id, user_id = conn.execute(sa.select(TOKEN.c.id,
                                                   TOKEN.c.user_id)).one()
    users.revoke_token(web.db, web.rt, "admin", token_id)
    is_problem(client.get("/api/v1/cases", headers=headers), 401)

    # a live session (what a logged-in browser holds) is no credential for the API
    session = start_session(web.db, user_id, web.rt.clock.now(), mfa_pending=False)
    cookie = session_cookie(web)
    client.cookies.set(cookie["key"], session)
    assert client.get("/").headers["location"] == "/dashboard"   # the pages take it
    is_problem(client.get("/api/v1/cases"), 401)
    is_problem(client.post("/api/v1/cases", json={}), 401)


def test_a_school_token_reaches_only_cases_where_the_school_has_a_task(
        web: App, client: TestClient, auth: Auth) -> None:
    school, coordinator = auth("skola"), auth("koordinatore")
    own = open_case(client, coordinator)
    other = open_case(client, coordinator, school=OTHER_SCHOOL)
    (own_task,) = client.get("/api/v1/tasks", headers=school).json()["items"]
    other_task = own_task["id"] + 1   # the other case's task: the next id

    assert [r["reference"] for r in client.get("/api/v1/cases", headers=school).json()["items"]] \
        == [own]
    assert client.get(f"/api/v1/cases/{own}", headers=school).status_code == 200
    denied = client.get(f"/api/v1/cases/{other}", headers=school)
    assert "no task" in is_problem(denied, 403)["detail"]
    assert ("skola", "denied", "api") in access_log(web)
    for url, body in ((f"/api/v1/cases/{other}/transitions", {"trigger": "record_unjustified",
                                                              "fields": {"parents_reached": True}}),
                      (f"/api/v1/cases/{other}/notes", {"text": "x"}),
                      (f"/api/v1/tasks/{other_task}/answers", {"action": "acknowledge"}),
                      (f"/api/v1/cases/{other}/escalations", {"reason": "unsolvable"})):
        is_problem(client.post(url, headers=school, json=body), 403)
    with web.db.connect() as conn:
        assert conn.execute(sa.text("SELECT acknowledged_at FROM task WHERE id = :i"),
                            {"i": other_task}).scalar() is None
    is_problem(client.get("/api/v1/cases/KAV-2026-99999", headers=school), 404)


def test_an_auditor_reads_but_never_writes(web: App, client: TestClient, auth: Auth) -> None:
    auditor = auth("auditors")
    reference = open_case(client, auth("koordinatore"))
    view = client.get(f"/api/v1/cases/{reference}", headers=auditor).json()
    assert [a["channel"] for a in view["access_log"]] == ["api"]   # the auditor's own read
    (task,) = client.get("/api/v1/tasks", headers=auth("skola")).json()["items"]
    for url, body in (
            ("/api/v1/cases", {"case_type": "absences", "child_name": CHILD_NAME,
                               "child_code": CHILD_CODE, "school": SCHOOL,
                               "fields": {"age_group": "basic"}}),
            (f"/api/v1/cases/{reference}/transitions", {"trigger": "absence_justified",
                                                        "fields": {"reason": "x"}}),
            (f"/api/v1/cases/{reference}/notes", {"text": "x"}),
            (f"/api/v1/tasks/{task['id']}/answers", {"action": "acknowledge"}),
            (f"/api/v1/cases/{reference}/escalations", {"reason": "unsolvable"}),
            ("/api/v1/meetings", {"day": "2026-11-30"})):
        refused = client.post(url, headers=auditor, json=body)
        assert "read-only" in is_problem(refused, 403)["detail"]
    assert client.get("/api/v1/escalations", headers=auditor).status_code == 200
    assert is_problem(client.get("/api/v1/cases", headers=auth("admin")), 403)


# --- lists -----------------------------------------------------------------------------


def test_pages_and_their_link_header(client: TestClient, auth: Auth) -> None:
    coordinator = auth("koordinatore")
    references = [open_case(client, coordinator) for _ in range(5)]

    def page(n: int, **params: Any) -> Any:
        return client.get("/api/v1/cases", headers=coordinator,
                          params={"per_page": 2, "page": n, "sort": "reference", **params})

    def links(response: Any) -> dict[str, str]:
        return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"',
                                                    response.headers["link"])}

    first = page(1)
    assert [r["reference"] for r in first.json()["items"]] == references[:2]
    assert first.json()["total"] == 5
    assert links(first) == {
        "first": "/api/v1/cases?sort=reference&page=1&per_page=2",
        "next": "/api/v1/cases?sort=reference&page=2&per_page=2",
        "last": "/api/v1/cases?sort=reference&page=3&per_page=2"}
    middle = page(2)
    assert [r["reference"] for r in middle.json()["items"]] == references[2:4]
    assert set(links(middle)) == {"first", "prev", "next", "last"}
    last = client.get(links(middle)["next"], headers=coordinator)
    assert [r["reference"] for r in last.json()["items"]] == references[4:]
    assert set(links(last)) == {"first", "prev", "last"}
    assert [r["reference"] for r in page(1, sort="-reference").json()["items"]] == \
        references[:2:-1][:2]
    for params in ({"per_page": 201}, {"page": 0}, {"sort": "child"}, {"risk": "extreme"},
                   {"type": "no such type!"}, {"overdue": "maybe"}):
        problem = is_problem(client.get("/api/v1/cases", headers=coordinator, params=params), 422)
        assert problem["errors"], problem
    assert is_problem(client.get("/api/v1/cases", headers=coordinator,
                                 params={"type": "truancy"}), 422)["allowed"]


# --- errors ----------------------------------------------------------------------------


def test_every_error_is_a_problem_document(
        web: App, client: TestClient, auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    coordinator = auth("koordinatore")
    assert "/api/v1/nothing" in is_problem(client.get("/api/v1/nothing", headers=coordinator),
                                           404)["detail"]
    not_allowed = client.delete("/api/v1/cases", headers=coordinator)
    is_problem(not_allowed, 405)
    assert not_allowed.headers["allow"] == "GET, POST"
    broken = client.post("/api/v1/cases", content=b"{not json",
                         headers={**coordinator, "content-type": "application/json"})
    assert is_problem(broken, 422)["errors"][0]["location"][0] == "body"
    invalid = client.post("/api/v1/cases", headers=coordinator, json={
        "case_type": "absences", "child_name": CHILD_NAME, "child_code": CHILD_CODE * 3,
        "surplus": 1})
    problem = is_problem(invalid, 422)
    assert {tuple(e["location"]) for e in problem["errors"]} == {
        ("body", "child_code"), ("body", "surplus")}
    assert CHILD_NAME not in invalid.text and CHILD_CODE not in invalid.text   # never echoed
    nul = client.post("/api/v1/cases", headers=coordinator, json={
        "case_type": "absences", "child_name": "A\x00B", "child_code": CHILD_CODE})
    assert is_problem(nul, 422)["errors"][0]["location"] == ["body", "child_name"]
    too_big = client.post("/api/v1/cases", headers=coordinator, content=b"x" * 300_000)
    is_problem(too_big, 413)

    def unavailable(*args: Any, **kw: Any) -> Any:
        raise DatabaseUnavailable("postgresql://gaita:s3cret@db/gaita", "connection refused")
    monkeypatch.setattr("gaita.web.api.case_page", unavailable)
    down = client.get("/api/v1/cases", headers=coordinator)
    assert "s3cret" not in is_problem(down, 503)["detail"]

    def bug(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("internal detail: SELECT * FROM child")
    monkeypatch.setattr("gaita.web.api.case_page", bug)
    crashed = client.get("/api/v1/cases", headers=coordinator)
    assert "internal detail" not in is_problem(crashed, 500)["detail"]
    assert crashed.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]


# --- the schema and the docs page ------------------------------------------------------


def test_the_openapi_document_and_the_docs_page(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["servers"] == [{"url": "/api"}]
    assert set(schema["paths"]) == {
        "/v1/cases", "/v1/search", "/v1/cases/{reference}", "/v1/cases/{reference}/transitions",
        "/v1/cases/{reference}/notes", "/v1/cases/{reference}/escalations",
        "/v1/cases/{reference}/reports/{code}", "/v1/cases/{reference}/reports/{code}/waiver",
        "/v1/tasks",
        "/v1/tasks/{task_id}/answers", "/v1/escalations", "/v1/meetings",
        "/v1/meetings/{meeting_id}", "/v1/meetings/{meeting_id}/decisions"}
    assert schema["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer",
        "description": "An API token; it acts as the user it was created for."}
    for path, item in schema["paths"].items():
        for method, op in item.items():
            assert op["security"] == [{"token": []}] and op["tags"], (method, path)
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM], (method, path, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["schemas"]["OpenCase"]["examples"]

    docs = client.get("/api/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert docs.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    html = docs.text
    for path in schema["paths"]:
        assert f"/api{path}" in html
    assert '<a href="/api/openapi.json">' in html
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count("<h1>") == 1
    json.dumps(schema)   # plain JSON


def test_a_note_goes_only_into_a_field_group_its_writer_sees(client: TestClient, auth: Auth,
                                                             web: App) -> None:
    """The municipal police do not see support_plan (roles.yaml): they cannot write it either."""
    coordinator = auth("koordinatore")
    reference = open_case(client, coordinator)
    with web.db.begin() as conn:   # the police held a task on the case
        case = load_case_row(conn, reference)
        conn.execute(sa.update(TASK).where(TASK.c.case_id == case["id"])
                     .values(assignee_institution="pp"))
    police = auth("policija")
    refused = client.post(f"/api/v1/cases/{reference}/notes", headers=police,
                          json={"text": "Plāns", "group": "support_plan"})
    assert "support_plan" in is_problem(refused, 403)["detail"]
    ok = client.post(f"/api/v1/cases/{reference}/notes", headers=police,
                     json={"text": "Piezīme", "group": "notes"})
    assert ok.status_code == 201, ok.text
