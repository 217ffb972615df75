"""The administrators' pages: users, institutions (config YAML), reload, calendar,
the TOTP setting, API tokens; who may reach them; the admin log of every change.

The app reads a temporary copy of config/jelgava: the repository's is never written.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.queries import actor_for
from engine.tables import CalendarOverride, Institution
from gaita import config_edit, users
from gaita.accounts import admin_log
from gaita.accounts.passwords import check_password
from gaita.accounts.runtime_settings import get_setting
from gaita.accounts.second_factor import (
    TOTP_ROLES,
    new_totp_secret,
    set_totp_secret,
    totp_required,
    user_totp_secret,
)
from gaita.accounts.sessions import load_session
from gaita.accounts.tokens import account_for_token
from gaita.bootstrap import App
from gaita.settings import ROOT
from gaita.web import admin as admin_pages
from gaita.web import admin_config, create_app
from tests.conftest import START, make_test_app
from tests.web.conftest import DEMO_PASSWORD, form_csrf

NEW_PASSWORD = "a-new-long-password-7"
Login = Callable[[str], tuple[TestClient, str]]


@pytest.fixture
def web(db_url: str, tmp_path: Path) -> Iterator[App]:
    """Served over HTTPS, with demo users, reading a copy of config/jelgava."""
    config = tmp_path / "config" / "jelgava"
    shutil.copytree(ROOT / "config" / "jelgava", config)
    app = make_test_app(db_url, base_url="https://testserver", config=config)
    yield app
    app.db.dispose()


@pytest.fixture
def login(web: App) -> Iterator[Login]:
    """``login("admin")``: a browser logged in as that user, and its session's CSRF token."""
    clients: list[TestClient] = []

    def make(username: str, password: str = DEMO_PASSWORD) -> tuple[TestClient, str]:
        c = TestClient(create_app(web), base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        page = c.get("/login")
        done = c.post("/login", data={"csrf": form_csrf(page.text), "username": username,
                                      "password": password})
        assert done.status_code == 303, done.text
        session = load_session(web.db, c.cookies.get("__Host-gaita_session"),
                               web.rt.clock.now(), idle=timedelta(hours=1),
                               absolute=timedelta(hours=10))
        assert session is not None and not session.mfa_pending
        return c, session.csrf

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def rows(web: App, table: str) -> list[dict[str, Any]]:
    with web.db.connect() as conn:
        query = sa.text(f'SELECT * FROM "{table}" ORDER BY 1')   # noqa: S608 - the test's own names
        return [dict(r) for r in conn.execute(query).mappings()]


def log(web: App) -> list[dict[str, Any]]:
    return [{**r, "detail": r["detail"] if isinstance(r["detail"], dict) else json.loads(r["detail"])}
            for r in rows(web, "admin_log")]


def institutions_file(web: App) -> Path:
    return web.settings.config / "institutions.yaml"


def everything(web: App) -> tuple[Any, ...]:
    """What an admin change could touch: 'nothing changed' compares this."""
    tables = ("user", "admin_log", "setting", "api_token", "calendar_override", "institution")
    return (*(rows(web, t) for t in tables), institutions_file(web).read_bytes())


def sessions_of(web: App, username: str) -> int:
    with web.db.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT count(*) FROM web_session s JOIN \"user\" u ON u.id = s.user_id "
            "WHERE u.username = :u"), {"u": username}).scalar_one())


def errors_of(html: str) -> str:
    found = re.search(r'<div class="errors" role="alert">(.*?)</div>', html, re.S)
    assert found, "no error summary"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).replace("&#39;", "'")


def new_user(**extra: str) -> dict[str, str]:
    return {"username": "inga", "display_name": "Inga Sociālā", "role": "institution_staff",
            "institution": "jslp", "email": "inga@jelgava.example.lv", "locale": "lv",
            "password": NEW_PASSWORD, **extra}


def test_admin_creates_a_user_who_can_then_log_in(web: App, login: Login) -> None:
    admin, csrf = login("admin")
    form = admin.get("/admin/users/new")
    assert form.status_code == 200 and 'for="institution"' in form.text
    done = admin.post("/admin/users/new", data={"csrf": csrf, **new_user(
        digest="on", phone="+371 2000 0000")})
    assert (done.status_code, done.headers["location"]) == (303, "/admin/users/inga/edit?done=created")
    assert "Lietotājs izveidots." in admin.get(done.headers["location"]).text
    assert "Inga Sociālā" in admin.get("/admin/users").text
    login("inga", NEW_PASSWORD)   # logs in with the initial password
    [entry] = log(web)
    assert (entry["actor"], entry["action"], entry["target"]) == ("admin", "user.create", "inga")
    assert entry["detail"] == {"display_name": "Inga Sociālā", "role": "institution_staff",
                               "institution": "jslp", "email": "inga@jelgava.example.lv",
                               "phone": "+371 2000 0000", "locale": "lv", "digest": True,
                               "active": True}
    assert "Lietotājs izveidots" in admin.get("/admin").text   # the log on the overview


BAD_USERS = [
    ({"username": "skola"}, "Lietotājvārds «skola» jau ir aizņemts.", "username"),
    ({"role": "superuser"}, "Nezināma loma «superuser».", "role"),
    ({"institution": ""}, "Lomai «Iestādes darbinieks» jānorāda iestāde.", "institution"),
    ({"email": "inga@"}, "«inga@» nav derīga e-pasta adrese.", "email"),
    ({"phone": "zvanīt"}, "«zvanīt» nav derīgs tālruņa numurs", "phone"),
    ({"phone": "+371"}, "«+371» nav derīgs tālruņa numurs", "phone"),
    ({"password": "short"}, "Parolei jābūt vismaz 12 zīmes garai.", "password"),
    ({"username": "Inga B"}, "Lietotājvārdam jābūt 2–64 zīmes garam", "username"),
]


def test_a_bad_user_form_is_shown_again_with_a_precise_message(web: App, login: Login) -> None:
    admin, csrf = login("admin")
    before = everything(web)
    for change, message, field in BAD_USERS:
        page = admin.post("/admin/users/new", data={"csrf": csrf, **new_user(**change)})
        assert page.status_code == 422
        assert message in errors_of(page.text)
        assert f'<a href="#{field}">' in page.text
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page.text), field
        assert 'value="Inga Sociālā"' in page.text   # values kept
    assert everything(web) == before


def test_editing_a_user_ends_their_sessions_and_admins_cannot_lock_themselves_out(
        web: App, login: Login) -> None:
    admin, csrf = login("admin")
    login("skola")
    assert sessions_of(web, "skola") == 1
    form = admin.get("/admin/users/skola/edit")
    assert form.status_code == 200 and "Skolas sociālā pedagoģe" in form.text
    fields = {"csrf": csrf, "display_name": "Skolas sociālā pedagoģe", "role": "coordinator",
              "institution": "jelgavas-4-vsk", "email": "", "locale": "en", "active": "on"}
    done = admin.post("/admin/users/skola/edit", data=fields)
    assert (done.status_code, done.headers["location"]) == (303, "/admin/users/skola/edit?done=saved")
    assert sessions_of(web, "skola") == 0   # a role change ends the sessions
    [entry] = log(web)
    assert entry["action"] == "user.update" and entry["detail"] == {
        "role": {"from": "institution_staff", "to": "coordinator"},
        "email": {"from": "soc.pedagoge@skolas.jelgava.example.lv", "to": None},
        "locale": {"from": "lv", "to": "en"}, "digest": {"from": True, "to": False}}
    again = admin.post("/admin/users/skola/edit", data=fields)
    assert again.headers["location"].endswith("done=unchanged") and len(log(web)) == 1

    login("skola")
    deactivate = {**fields}
    del deactivate["active"]
    assert admin.post("/admin/users/skola/edit", data=deactivate).status_code == 303
    assert sessions_of(web, "skola") == 0
    assert log(web)[-1]["detail"] == {"active": {"from": True, "to": False}}

    me = {"csrf": csrf, "display_name": "Administrators", "role": "admin", "locale": "lv"}
    refused = admin.post("/admin/users/admin/edit", data=me)   # no "active": deactivating oneself
    assert refused.status_code == 422
    assert "Jūs nevarat deaktivizēt sevi" in errors_of(refused.text)
    assert len(log(web)) == 2 and sessions_of(web, "admin") == 1


def test_password_reset_and_totp_removal(web: App, login: Login) -> None:
    admin, csrf = login("admin")
    login("socdienests")
    weak = admin.post("/admin/users/socdienests/password", data={"csrf": csrf, "password": "kurts"})
    assert weak.status_code == 422 and "vismaz 12 zīmes" in errors_of(weak.text)
    done = admin.post("/admin/users/socdienests/password",
                      data={"csrf": csrf, "password": NEW_PASSWORD})
    assert done.headers["location"] == "/admin/users/socdienests/edit?done=password"
    assert sessions_of(web, "socdienests") == 0
    assert check_password(web.db, "socdienests", NEW_PASSWORD) is not None
    assert check_password(web.db, "socdienests", DEMO_PASSWORD) is None

    user_id = next(u["id"] for u in rows(web, "user") if u["username"] == "socdienests")
    secret = new_totp_secret()
    set_totp_secret(web.db, user_id, secret)
    assert "Noņemt otro faktoru" in admin.get("/admin/users/socdienests/edit").text
    done = admin.post("/admin/users/socdienests/totp", data={"csrf": csrf})
    assert done.headers["location"] == "/admin/users/socdienests/edit?done=totp"
    assert user_totp_secret(web.db, user_id) is None
    assert [e["action"] for e in log(web)] == ["user.password", "user.totp_removed"]
    text = json.dumps(log(web), default=str)
    assert NEW_PASSWORD not in text and secret not in text and "argon2" not in text


NON_ADMINS = ("koordinatore", "auditors", "skola")
_SAMPLE = {"username": "skola", "code": "jip", "day": "2026-12-01", "token_id": "1"}


def admin_routes() -> list[tuple[str, str]]:
    found = []
    for route in [*admin_pages.router.routes, *admin_config.router.routes]:
        path = re.sub(r"\{(\w+)\}", lambda m: _SAMPLE[m.group(1)], route.path)  # type: ignore[attr-defined]  # a Route
        found += [(method, path) for method in sorted(route.methods)]   # type: ignore[attr-defined]  # a Route
    return found


def test_every_admin_route_is_refused_to_non_administrators(web: App, login: Login) -> None:
    routes = admin_routes()
    assert len(routes) >= 20 and ("POST", "/admin/reload") in routes
    admin, csrf = login("admin")
    admin.post("/admin/calendar", data={"csrf": csrf, "day": "2026-12-01", "kind": "holiday"})
    admin.post("/admin/tokens", data={"csrf": csrf, "username": "koordinatore", "name": "x"})
    before = everything(web)
    for username in NON_ADMINS:
        c, their_csrf = login(username)
        for method, path in routes:
            response = c.request(method, path, data={"csrf": their_csrf} if method == "POST" else None)
            assert response.status_code == 403, (username, method, path, response.status_code)
    assert everything(web) == before


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
        web: App, login: Login) -> None:
    admin, csrf = login("admin")
    admin.post("/admin/calendar", data={"csrf": csrf, "day": "2026-12-01", "kind": "holiday"})
    admin.post("/admin/tokens", data={"csrf": csrf, "username": "koordinatore", "name": "x"})
    before = everything(web)
    complete = {"/admin/users/new": new_user(),
                "/admin/users/skola/edit": {"display_name": "X", "role": "admin", "locale": "lv"},
                "/admin/users/skola/password": {"password": NEW_PASSWORD},
                "/admin/institutions/jip": {"email": "new@jelgava.example.lv"},
                "/admin/calendar": {"day": "2026-12-02", "kind": "holiday"},
                "/admin/security": {"totp_roles": "admin"},
                "/admin/tokens": {"username": "admin", "name": "y"}}
    posts = [path for method, path in admin_routes() if method == "POST"]
    assert set(complete) < set(posts)
    for path in posts:
        for bad in ({}, {"csrf": "0" * 64}, {"csrf": ""}):
            response = admin.post(path, data={**complete.get(path, {}), **bad})
            assert response.status_code == 403, (path, bad)
    assert everything(web) == before


def test_editing_an_institution_writes_the_yaml_keeping_comments_and_reloads(
        web: App, login: Login) -> None:
    admin, csrf = login("admin")
    path = institutions_file(web)
    original = path.read_text(encoding="utf-8")
    old_municipality = web.rt.municipality
    page = admin.get("/admin/institutions/jslp")
    assert page.status_code == 200 and 'value="jslp@jelgava.example.lv"' in page.text
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', page.text)
    assert digest
    done = admin.post("/admin/institutions/jslp", data={
        "csrf": csrf, "digest": digest.group(1), "email": "socialais@jelgava.example.lv",
        "head_email": "jslp.vaditajs@jelgava.example.lv", "locale": "en",
        "roles": ["social_service"]})
    assert (done.status_code, done.headers["location"]) == (303, "/admin/institutions?done=saved")
    text = path.read_text(encoding="utf-8")
    assert "email: socialais@jelgava.example.lv" in text and "jslp@jelgava" not in text
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == comments
    # the first changed line (an added line, if any, comes after it)
    changed = [(a, b) for a, b in zip(original.splitlines(), text.splitlines(), strict=False)
               if a != b]
    assert changed[0] == ("  email: jslp@jelgava.example.lv", "  email: socialais@jelgava.example.lv")
    inst = web.rt.municipality.institution("jslp")
    assert (inst.email, inst.locale) == ("socialais@jelgava.example.lv", "en")
    assert web.rt.municipality is not old_municipality
    with web.db.connect() as conn:
        table = Institution.__table__
        assert conn.execute(sa.select(table.c.email, table.c.locale).where(
            table.c.code == "jslp")).one() == ("socialais@jelgava.example.lv", "en")
    [entry] = log(web)
    assert (entry["action"], entry["target"]) == ("institution.edit", "jslp")
    assert entry["detail"] == {"email": {"from": "jslp@jelgava.example.lv",
                                         "to": "socialais@jelgava.example.lv"},
                               "locale": {"from": None, "to": "en"}}
    assert "socialais@jelgava.example.lv" in admin.get("/admin/institutions").text
    saved = path.read_bytes()
    stale = admin.post("/admin/institutions/jslp", data={
        "csrf": csrf, "digest": digest.group(1), "email": "cits@jelgava.example.lv",
        "roles": ["social_service"]})   # a form opened before the save above
    assert stale.status_code == 409 and "Kāds cits mainīja" in errors_of(stale.text)
    assert path.read_bytes() == saved and len(log(web)) == 1


BAD_INSTITUTIONS = [   # the loader's problems in the viewer's language, linked to their input
    ({"email": "not-an-address"}, "email: 'not-an-address' nav e-pasta adrese", "email"),
    ({"roles": []}, "nevienai iestādei nav lomas „Izglītības pārvalde”", "roles"),
    ({"roles": ["education_board", "no_such_role"]}, "nezināma iestādes loma 'no_such_role'",
     "roles"),
    ({"roles": ["education_board", "social_service"]},
     "loma „Sociālais dienests” jau ir iestādei „Jelgavas izglītības pārvalde”", "roles"),
]


def test_an_invalid_institution_edit_shows_the_loaders_message_and_writes_nothing(
        web: App, login: Login) -> None:
    admin, csrf = login("admin")
    before, rt_before = everything(web), web.rt.municipality
    digest = re.search(r'name="digest" value="([^"]+)"',
                       admin.get("/admin/institutions/jip").text)
    assert digest
    for change, message, field in BAD_INSTITUTIONS:
        page = admin.post("/admin/institutions/jip", data={
            "csrf": csrf, "digest": digest.group(1), "email": "jip@jelgava.example.lv", "locale": "",
            "head_email": "jip.vaditajs@jelgava.example.lv", "roles": ["education_board"],
            **change})
        assert page.status_code == 422
        shown = errors_of(page.text)
        assert message in shown
        assert f'<a href="#{field}">' in page.text
        assert re.search(rf"{re.escape(str(institutions_file(web)))}:\d+: ", shown)   # file:line
        assert everything(web) == before and web.rt.municipality is rt_before
    # a form that is not the page's (no digest of the file it edits) overwrites nothing
    blind = admin.post("/admin/institutions/jip", data={"csrf": csrf})
    assert blind.status_code == 422 and "Veidlapa nav pilnīga" in errors_of(blind.text)
    assert everything(web) == before


def test_reload_with_a_broken_config_shows_the_error_and_keeps_the_runtime(
        web: App, login: Login) -> None:
    admin, csrf = login("admin")
    path = institutions_file(web)
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("code: pp\n", "code: jip\n"), encoding="utf-8")
    rt_before = (web.rt.registry, web.rt.municipality, web.rt.calendar)
    page = admin.post("/admin/reload", data={"csrf": csrf})
    assert page.status_code == 422
    assert re.search(rf"{re.escape(str(path))}:\d+: iestādes kods 'jip' atkārtojas",
                     errors_of(page.text))
    assert (web.rt.registry, web.rt.municipality, web.rt.calendar) == rt_before
    assert web.rt.municipality is rt_before[1] and log(web) == []

    path.write_text(good.replace("email: pp@jelgava", "email: policija@jelgava"), encoding="utf-8")
    done = admin.post("/admin/reload", data={"csrf": csrf})
    assert (done.status_code, done.headers["location"]) == (303, "/admin?done=reloaded")
    assert web.rt.municipality.institution("pp").email == "policija@jelgava.example.lv"
    assert [e["action"] for e in log(web)] == ["config.reload"]
    overview = admin.get(done.headers["location"]).text
    assert "Konfigurācija pārlādēta." in overview and "restartē" in overview


def test_a_calendar_override_changes_deadlines_computed_afterwards(
        web: App, login: Login) -> None:
    admin, csrf = login("admin")
    assert web.rt.calendar.local_date(web.rt.calendar.due_at(START, 1)) == date(2026, 12, 1)
    bad = admin.post("/admin/calendar", data={"csrf": csrf, "day": "2026-13-01", "kind": "holiday"})
    assert bad.status_code == 422 and "DD.MM.GGGG" in errors_of(bad.text)
    for typed in ("31.02.2026", "1.12.26", "20261201"):   # no such day; not a form we read
        bad = admin.post("/admin/calendar", data={"csrf": csrf, "day": typed, "kind": "holiday"})
        assert bad.status_code == 422 and "DD.MM.GGGG" in errors_of(bad.text), typed
    assert 'placeholder="DD.MM.GGGG"' in admin.get("/admin/calendar").text
    done = admin.post("/admin/calendar", data={"csrf": csrf, "day": "01.12.2026",
                                               "kind": "holiday", "note": "Rīkojums Nr. 7"})
    assert done.headers["location"] == "/admin/calendar?done=override_set"
    assert web.rt.calendar.local_date(web.rt.calendar.due_at(START, 1)) == date(2026, 12, 2)
    assert "Rīkojums Nr. 7" in admin.get("/admin/calendar").text
    done = admin.post("/admin/calendar/2026-12-01/remove", data={"csrf": csrf})
    assert done.headers["location"] == "/admin/calendar?done=override_removed"
    assert web.rt.calendar.local_date(web.rt.calendar.due_at(START, 1)) == date(2026, 12, 1)
    assert rows(web, CalendarOverride.__tablename__) == []
    assert admin.post("/admin/calendar/2026-12-01/remove", data={"csrf": csrf}).status_code == 404
    assert [(e["action"], e["target"]) for e in log(web)] == [
        ("calendar.set", "2026-12-01"), ("calendar.remove", "2026-12-01")]


def test_a_change_and_its_admin_log_row_commit_together(
        web: App, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = actor_for(web.db, "admin")
    config_edit.set_calendar_override(web.db, web.rt, admin, date(2026, 12, 2), "holiday", "",
                                      logged_as="admin")
    token_id, _ = users.create_token(web.db, web.rt, "admin", "koordinatore", "ci")
    path = institutions_file(web)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "email: pp@jelgava", "email: policija@jelgava"), encoding="utf-8")
    before, rt_before = everything(web), (web.rt.municipality, web.rt.calendar)

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the admin log is unavailable")

    monkeypatch.setattr(admin_log, "audit", unavailable)
    changes: list[Callable[[], object]] = [
        lambda: config_edit.set_calendar_override(web.db, web.rt, admin, date(2026, 12, 1),
                                                  "holiday", "", logged_as="admin"),
        lambda: config_edit.remove_calendar_override(web.db, web.rt, admin, date(2026, 12, 2),
                                                     logged_as="admin"),
        lambda: config_edit.reload_runtime(web, "admin"),
        lambda: users.set_password(web.db, web.rt, "admin", "skola", NEW_PASSWORD),
        lambda: users.create_token(web.db, web.rt, "admin", "skola", "ci"),
        lambda: users.revoke_token(web.db, web.rt, "admin", token_id),
    ]
    for change in changes:
        with pytest.raises(RuntimeError, match="admin log"):
            change()
    assert everything(web) == before   # no change without its log row
    assert (web.rt.municipality, web.rt.calendar) == rt_before


def test_the_roles_that_must_use_totp_are_saved(web: App, login: Login) -> None:
    admin, csrf = login("admin")
    assert 'name="totp_roles" value="coordinator"' in admin.get("/admin/security").text
    done = admin.post("/admin/security", data={"csrf": csrf, "totp_roles": ["admin", "coordinator"]})
    assert done.headers["location"] == "/admin/security?done=saved"
    assert get_setting(web.db, TOTP_ROLES) == ["coordinator", "admin"]
    assert totp_required(web.db, "coordinator")
    page = admin.get("/admin/security").text
    assert 'value="coordinator" checked' in page and 'value="auditor" checked' not in page
    bad = admin.post("/admin/security", data={"csrf": csrf, "totp_roles": ["root"]})
    assert bad.status_code == 422 and "Nezināma loma «root»" in errors_of(bad.text)
    assert [e["action"] for e in log(web)] == ["settings.totp_roles"]
    # the next login of a coordinator asks for the second factor
    c = TestClient(create_app(web), base_url="https://testserver", follow_redirects=False)
    with c:
        page = c.get("/login")
        done = c.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                                      "password": DEMO_PASSWORD})
        assert done.headers["location"] == "/login/totp"


def test_an_api_token_is_shown_once_works_and_can_be_revoked(web: App, login: Login) -> None:
    admin, csrf = login("admin")
    missing = admin.post("/admin/tokens", data={"csrf": csrf, "username": "koordinatore",
                                                "name": " "})
    assert missing.status_code == 422 and "piekļuves atslēgas nosaukumu" in errors_of(missing.text)
    created = admin.post("/admin/tokens", data={"csrf": csrf, "username": "koordinatore",
                                                "name": "Skolvadības imports"})
    assert created.status_code == 200
    token = re.search(r'value="(gaita_[A-Za-z0-9_-]+)"', created.text)
    assert token and "netiks parādīta vēlreiz" in created.text
    account = account_for_token(web.db, token.group(1), web.rt.clock.now())
    assert account is not None and account.username == "koordinatore"
    listing = admin.get("/admin/tokens").text
    assert "Skolvadības imports" in listing and token.group(1) not in listing
    [row] = rows(web, "api_token")
    done = admin.post(f"/admin/tokens/{row['id']}/revoke", data={"csrf": csrf})
    assert done.headers["location"] == "/admin/tokens?done=revoked"
    assert account_for_token(web.db, token.group(1), web.rt.clock.now()) is None
    assert admin.post(f"/admin/tokens/{row['id']}/revoke", data={"csrf": csrf}).status_code == 404
    assert [e["action"] for e in log(web)] == ["token.create", "token.revoke"]
    assert token.group(1) not in json.dumps(log(web), default=str) + admin.get("/admin").text


def test_the_admin_pages_are_in_english_too_and_the_log_is_paged(web: App, login: Login) -> None:
    admin, csrf = login("admin")
    for i in range(30):
        admin.post("/admin/security", data={"csrf": csrf, "totp_roles": ["admin"] if i % 2 == 0 else []})
    first = admin.get("/admin?lang=en")
    assert first.status_code == 200 and "Second-factor roles changed" in first.text
    assert first.text.count("<tr><td data-label=") == 25 and "/admin?page=2#log" in first.text
    second = admin.get("/admin?page=2")
    assert second.text.count("<tr><td data-label=") == 5 and "/admin?page=1#log" in second.text
    for path in ("/admin/users", "/admin/institutions", "/admin/calendar", "/admin/tokens",
                 "/admin/users/new", "/admin/institutions/jip", "/admin/users/skola/edit"):
        page = admin.get(path + "?lang=en")
        assert page.status_code == 200 and '<html lang="en">' in page.text, path
        assert page.text.count("<h1>") == 1
    assert admin.get("/admin/users/nobody/edit").status_code == 404
    assert admin.get("/admin/institutions/nowhere").status_code == 404
