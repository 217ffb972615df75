"""``gaita user list | add | password`` and ``gaita token list | create | revoke``.

How the first administrator of a new installation is made: ``gaita init``, then
``gaita user add <name> --role admin``.  Every change is in the admin log, by ``cli``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from engine.errors import UserNotFound
from gaita import users
from gaita.cli.common import JsonOpt, current_app, emit_json, handled, out

FIRST_ADMIN = ("On a new installation, create the first administrator here: run `gaita init`, "
               "then `gaita user add NAME --role admin --name \"Full Name\"` and type the "
               "password at the prompt; then log in to the web app, where /admin manages "
               "everything else.")

user_app = typer.Typer(help="User accounts: list, add, set a password. " + FIRST_ADMIN,
                       no_args_is_help=True)
token_app = typer.Typer(help="API tokens: bearer tokens a program uses to act as one user.",
                        no_args_is_help=True)

ACTOR = "cli"   # who the admin log says made the change

PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input "
                             "(for scripts); otherwise it is asked for without echo.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise typer.BadParameter("no terminal to ask for the password on; pipe it in and "
                                 "give --password-stdin", param_hint="--password-stdin")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("list")
@handled
def list_cmd(as_json: JsonOpt = False) -> None:
    """List the users (never a password or second-factor secret)."""
    rows = users.list_users(current_app().db)
    if as_json:
        emit_json(rows)
        return
    for u in rows:
        flags = "" if u["active"] else "  (inactive)"
        out.print(f"{u['username']:<16} {u['role']:<18} {u['institution'] or '-':<28} "
                  f"{u['display_name']}{flags}", markup=False)
    if not rows:
        out.print("no users; " + FIRST_ADMIN, markup=False)


@user_app.command("add", help="Add a user. " + FIRST_ADMIN)
@handled
def add_cmd(
    username: Annotated[str, typer.Argument(help="Login name: 2-64 of a-z, 0-9, '.', '_', '-'.")],
    role: Annotated[str, typer.Option(help="A user role from workflows/roles.yaml.")],
    institution: Annotated[str | None, typer.Option(
        help="Institution code (institutions.yaml); needed for institution staff.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name (default: USERNAME).")] = None,
    email: Annotated[str | None, typer.Option(help="The user's email address.")] = None,
    phone: Annotated[str | None, typer.Option(
        help="The user's telephone number (optional; task pages show it as a contact).")] = None,
    locale: Annotated[str, typer.Option(help="Language of the pages and emails: lv or en.")] = "lv",
    digest: Annotated[bool, typer.Option(help="Send the user a copy of the institution's "
                                              "daily digest.")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    gaita = current_app()
    fields = users.UserFields(display_name=name or username, role=role,
                              institution=institution, email=email, phone=phone,
                              locale=locale, digest=digest)
    problems = users.check_new_user(gaita.db, gaita.rt, username, fields)
    if problems:   # before asking for a password
        raise users.InvalidInput(problems)
    users.create_user(gaita.db, gaita.rt, ACTOR, username, fields, _password(password_stdin))
    out.print(f"user {username} added ({role})", markup=False)


@user_app.command("password")
@handled
def password_cmd(username: str, password_stdin: PasswordStdin = False) -> None:
    """Set USERNAME's password; their web sessions end."""
    gaita = current_app()
    if users.user_row(gaita.db, username) is None:   # before asking for a password
        raise UserNotFound(username)
    users.set_password(gaita.db, gaita.rt, ACTOR, username, _password(password_stdin))
    out.print(f"password of {username} set; their sessions ended", markup=False)


@token_app.command("list")
@handled
def token_list_cmd(as_json: JsonOpt = False) -> None:
    """List the API tokens (never the tokens themselves: only their hashes are stored)."""
    tokens = users.list_tokens(current_app().db)
    if as_json:
        emit_json(tokens)
        return
    for tk in tokens:
        state = f"revoked {tk['revoked_at']:%Y-%m-%d}" if tk["revoked_at"] else "active"
        used = f"{tk['last_used_at']:%Y-%m-%d %H:%M}" if tk["last_used_at"] else "never"
        out.print(f"{tk['id']:>4}  {tk['name']:<24} {tk['username']:<16} last used {used:<16} "
                  f"{state}", markup=False)
    if not tokens:
        out.print("no API tokens")


@token_app.command("create")
@handled
def token_create_cmd(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    as_json: JsonOpt = False,
) -> None:
    """Create an API token for USERNAME and print it once: it cannot be shown again."""
    gaita = current_app()
    token_id, token = users.create_token(gaita.db, gaita.rt, ACTOR, username, name)
    if as_json:
        emit_json({"id": token_id, "name": name.strip(), "username": username, "token": token})
        return
    out.print(token, markup=False)
    typer.echo(f"token {token_id} for {username}: copy it now, it is not shown again "
               "(use it as `Authorization: Bearer <token>`)", err=True)


@token_app.command("revoke")
@handled
def token_revoke_cmd(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke the API token ID: requests with it are refused from now on."""
    gaita = current_app()
    users.revoke_token(gaita.db, gaita.rt, ACTOR, token_id)
    out.print(f"token {token_id} revoked", markup=False)
