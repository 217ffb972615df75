"""``gaita user`` and ``gaita token`` as a real subprocess: the first administrator of a
new installation, passwords without echo or from stdin, tokens shown once, exit codes,
and the admin log (actor ``cli``, no secrets)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gaita.accounts.passwords import check_password
from gaita.accounts.tables import ADMIN_LOG
from gaita.accounts.tokens import TOKEN_PREFIX, account_for_token
from gaita.bootstrap import App, build_app
from gaita.settings import load_settings
from tests.cli.test_cli import NOW, Gaita

PASSWORD = "pirmais-admins-2026"


class Cli(Gaita):
    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``gaita ARGS`` with ``stdin`` (None: no input at all, as from cron)."""
        return subprocess.run([sys.executable, "-m", "gaita", *args], capture_output=True,
                              text=True, encoding="utf-8", env=self.env, cwd=self.cwd,
                              input=stdin if stdin is not None else "")


@pytest.fixture
def installation(db_url: str, tmp_path: Path) -> Iterator[tuple[Cli, App]]:
    """A new installation: ``gaita init``, no demo users."""
    cli = Cli(db_url, tmp_path)
    cli("init")
    app = build_app(load_settings({"GAITA_DATABASE_URL": db_url, "GAITA_NOW": NOW}))
    yield cli, app
    app.db.dispose()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """An installation without users, shared by tests that must leave it so."""
    tmp = tmp_path_factory.mktemp("users-cli")
    cli = Cli(f"sqlite:///{tmp / 'gaita.db'}", tmp)
    cli("init")
    return cli


def admin_log(app: App) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(ADMIN_LOG)
                                              .order_by(ADMIN_LOG.c.id)).mappings()]


def test_the_first_administrator_is_made_on_the_command_line(
        installation: tuple[Cli, App]) -> None:
    cli, app = installation
    assert "create the first administrator" in cli("user", "--help").stdout
    assert "first administrator" in cli("user", "list").stdout   # none yet: says how
    added = cli.run("user", "add", "ilze", "--role", "admin", "--name", "Ilze Admina",
                    "--email", "ilze@jelgava.example.lv", "--phone", "+371 2000 0000",
                    "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    account = check_password(app.db, "ilze", PASSWORD)
    assert account is not None and (account.role, account.display_name) == ("admin", "Ilze Admina")
    [user] = cli.json("user", "list")
    assert user == {"username": "ilze", "display_name": "Ilze Admina", "role": "admin",
                    "institution": None, "email": "ilze@jelgava.example.lv",
                    "phone": "+371 2000 0000", "locale": "lv", "digest": False, "active": True,
                    "totp": False}
    staff = cli.run("user", "add", "anna", "--role", "institution_staff", "--institution", "jslp",
                    "--digest", "--password-stdin", stdin=PASSWORD)
    assert staff.returncode == 0, staff.stderr

    changed = cli.run("user", "password", "anna", "--password-stdin", stdin="jauna-parole-2027\n")
    assert changed.returncode == 0 and "sessions ended" in changed.stdout
    assert check_password(app.db, "anna", "jauna-parole-2027") is not None
    log = admin_log(app)
    assert [(r["actor"], r["action"], r["target"]) for r in log] == [
        ("cli", "user.create", "ilze"), ("cli", "user.create", "anna"),
        ("cli", "user.password", "anna")]
    assert PASSWORD not in json.dumps(log, default=str)


@pytest.mark.parametrize(("args", "stdin", "code", "message"), [
    (["user", "add", "xy", "--role", "wizard", "--password-stdin"], PASSWORD,
     4, "unknown user role 'wizard'"),
    (["user", "add", "xy", "--role", "institution_staff", "--password-stdin"], PASSWORD,
     4, "role 'institution_staff' works for an institution"),
    (["user", "add", "xy", "--role", "coordinator", "--institution", "nowhere",
      "--password-stdin"], PASSWORD, 4, "no institution 'nowhere'"),
    (["user", "add", "xy", "--role", "coordinator", "--email", "x@", "--password-stdin"],
     PASSWORD, 4, "'x@' is not an email address"),
    (["user", "add", "xy", "--role", "coordinator", "--password-stdin"], "short\n",
     4, "at least 12 characters"),
    (["user", "add", "Bad Name", "--role", "coordinator", "--password-stdin"], PASSWORD,
     4, "username: 2 to 64 lower-case letters"),
    (["user", "add", "xy", "--role", "coordinator"], None, 2, "--password-stdin"),
    (["user", "password", "nobody", "--password-stdin"], PASSWORD, 3, "no user 'nobody'"),
    (["token", "create", "nobody", "--name", "x"], None, 3, "no user 'nobody'"),
    (["token", "revoke", "99"], None, 3, "no unrevoked API token 99"),
])
def test_bad_input_gets_the_contracts_exit_code(
        empty: Cli, args: list[str], stdin: str | None, code: int, message: str) -> None:
    cli = empty
    proc = cli.run(*args, stdin=stdin)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    db = sa.create_engine(cli.env["GAITA_DATABASE_URL"])
    with db.connect() as conn:
        assert conn.execute(sa.text('SELECT count(*) FROM "user"')).scalar_one() == 0
    db.dispose()


def test_an_api_token_is_printed_once_works_and_is_revoked(installation: tuple[Cli, App]) -> None:
    cli, app = installation
    assert cli.run("user", "add", "imports", "--role", "coordinator", "--institution", "jip",
                   "--password-stdin", stdin=PASSWORD).returncode == 0
    taken = cli.run("user", "add", "imports", "--role", "coordinator", "--password-stdin",
                    stdin=PASSWORD)
    assert taken.returncode == 4 and "'imports' is taken" in taken.stderr
    created = cli("token", "create", "imports", "--name", "Skolvadības imports")
    token = created.stdout.strip()
    assert token.startswith(TOKEN_PREFIX) and "not shown again" in created.stderr
    account = account_for_token(app.db, token, app.rt.clock.now())
    assert account is not None and account.username == "imports"
    [listed] = cli.json("token", "list")
    assert (listed["name"], listed["username"], listed["revoked_at"]) == (
        "Skolvadības imports", "imports", None)
    assert token not in cli("token", "list").stdout + json.dumps(listed)
    assert "revoked" in cli("token", "revoke", str(listed["id"])).stdout
    assert account_for_token(app.db, token, app.rt.clock.now()) is None
    again = cli.run("token", "revoke", str(listed["id"]))
    assert again.returncode == 3
    log = admin_log(app)
    assert [(r["actor"], r["action"]) for r in log] == [
        ("cli", "user.create"), ("cli", "token.create"), ("cli", "token.revoke")]
    assert token not in json.dumps(log, default=str)
