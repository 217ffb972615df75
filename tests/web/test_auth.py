"""Login, sessions, CSRF, TOTP, rate limits and redirects."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.clock import FixedClock
from gaita import users
from gaita.accounts.account import digest
from gaita.accounts.runtime_settings import put_setting
from gaita.accounts.second_factor import TOTP_ROLES
from gaita.accounts.tables import SESSION, TOKEN
from gaita.accounts.tokens import account_for_token
from gaita.bootstrap import App
from tests.web.conftest import DEMO_PASSWORD, form_csrf, log_in

Client = Callable[[str | None], TestClient]


def test_pages_need_a_login_and_come_back_after_it(browser_client: Client) -> None:
    c = browser_client(None)
    first = c.get("/cases?type=absences")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fcases%3Ftype%3Dabsences"
    page = c.get(first.headers["location"])
    assert 'name="next" value="/cases?type=absences"' in page.text
    done = c.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                                  "password": DEMO_PASSWORD, "next": "/cases?type=absences"})
    assert (done.status_code, done.headers["location"]) == (303, "/cases?type=absences")


def test_open_redirects_after_login_are_refused(browser_client: Client) -> None:
    c = browser_client(None)
    page = c.get("/login")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example",
                   "javascript:alert(1)", "/%0d%0aSet-Cookie:x=1"):
        c.cookies.clear()
        page = c.get("/login")
        done = c.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                                      "password": DEMO_PASSWORD, "next": target})
        assert done.status_code == 303
        location = done.headers["location"]
        assert location.startswith("/") and not location.startswith("//"), location
        assert "evil" not in location or location.startswith("/%")


def test_wrong_password_then_rate_limit(web: App, browser_client: Client) -> None:
    c = browser_client(None)
    for _ in range(web.settings.login_max_failures):
        page = c.get("/login")
        bad = c.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                                     "password": "wrong password"})
        assert bad.status_code == 401
        assert "Nepareizs lietotājvārds vai parole." in bad.text
    page = c.get("/login")
    blocked = c.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                                     "password": DEMO_PASSWORD})
    assert blocked.status_code == 429   # even the right password, until the window passes
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)
    clock.advance(minutes=web.settings.login_window_minutes + 1)
    log_in(c, "koordinatore")


def test_login_without_csrf_is_refused(browser_client: Client) -> None:
    c = browser_client(None)
    c.get("/login")
    for data in ({}, {"csrf": "0" * 64}):
        r = c.post("/login", data={**data, "username": "koordinatore", "password": DEMO_PASSWORD})
        assert r.status_code == 403


def test_session_cookie_is_host_prefixed_and_rotated(web: App, browser_client: Client) -> None:
    c = browser_client(None)
    c.cookies.set("__Host-gaita_session", "planted-by-an-attacker", domain="testserver")
    page = c.get("/login")
    done = c.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                                  "password": DEMO_PASSWORD})
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("__Host-gaita_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie and "samesite=lax" in cookie.lower()
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token != "planted-by-an-attacker"
    with web.db.connect() as conn:
        stored = set(conn.execute(sa.select(SESSION.c.id)).scalars())
    assert stored == {digest(token)}   # the token itself is not stored


def test_sessions_end_when_idle_and_absolutely(web: App, browser_client: Client) -> None:
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)
    c = browser_client("koordinatore")
    clock.advance(minutes=web.settings.session_idle_minutes + 1)
    assert c.get("/dashboard").status_code == 303
    c = browser_client("koordinatore")
    for _ in range(web.settings.session_absolute_hours * 60 // 20 + 1):
        clock.advance(minutes=20)
        r = c.get("/dashboard")
    assert r.status_code == 303


def test_logout_needs_csrf_and_ends_the_session(browser_client: Client) -> None:
    c = browser_client(None)
    csrf = log_in(c, "koordinatore")
    assert c.post("/logout", data={}).status_code == 403
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    assert c.get("/dashboard").status_code == 303


def test_totp_required_for_a_role(web: App, browser_client: Client) -> None:
    with web.db.begin() as conn:
        put_setting(conn, TOTP_ROLES, ["coordinator"], web.rt.clock.now(), "admin")
    c = browser_client(None)
    page = c.get("/login")
    done = c.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                                  "password": DEMO_PASSWORD})
    assert done.headers["location"] == "/login/totp"
    assert c.get("/dashboard").status_code == 303   # not logged in until the code is given
    enrol = c.get("/login/totp")
    secret = enrol.text.split('name="secret" value="')[1].split('"')[0]
    wrong = c.post("/login/totp", data={"csrf": form_csrf(enrol.text), "secret": secret,
                                        "code": "000000"})
    assert wrong.status_code == 401
    code = pyotp.TOTP(secret).at(web.rt.clock.now())
    ok = c.post("/login/totp", data={"csrf": form_csrf(wrong.text), "secret": secret, "code": code})
    assert ok.status_code == 303
    assert c.get("/dashboard").status_code == 200
    # the next login asks for the code of the stored secret
    c2 = browser_client(None)
    page = c2.get("/login")
    c2.post("/login", data={"csrf": form_csrf(page.text), "username": "koordinatore",
                            "password": DEMO_PASSWORD})
    form = c2.get("/login/totp")
    assert 'name="secret"' not in form.text
    ok = c2.post("/login/totp", data={"csrf": form_csrf(form.text),
                                      "code": pyotp.TOTP(secret).at(web.rt.clock.now())})
    assert ok.status_code == 303


def test_api_tokens(web: App, browser_client: Client) -> None:
    _, token = users.create_token(web.db, web.rt, "admin", "koordinatore", "ci")
    with web.db.connect() as conn:
        hashes = list(conn.execute(sa.select(TOKEN.c.token_hash)).scalars())
    assert hashes == [digest(token)]
    assert account_for_token(web.db, token, web.rt.clock.now()) is not None
    assert account_for_token(web.db, token + "x", web.rt.clock.now()) is None
