"""What every ``gaita`` command shares: the Typer ``app`` and its global options
(``--db``, ``--now``), the settings and runtime a command works on, the shared options
(``--as``, ``--field``, ``--json``), JSON output, and the one table from engine errors
to exit codes (DESIGN.md §7).

Exit codes: 0 ok, 2 usage, 3 not found, 4 not permitted, 5 conflict,
1 anything else (always with a message, never a bare traceback).

The command modules import this one, never the package: ``gaita.cli`` imports them.
"""

from __future__ import annotations

import functools
import getpass
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import sqlalchemy as sa
import typer
from rich.console import Console

from engine.dates import InvalidDate, parse_day
from engine.errors import DuplicateCase, GaitaError, Message, NotFound, NotPermitted, StaleCase
from engine.queries import actor_for
from engine.runtime import Actor, operator
from gaita.settings import Settings, load_settings

if TYPE_CHECKING:
    from gaita.bootstrap import App

app = typer.Typer(help="Gaita: case routing for children who drop out of the school system.",
                  epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 not permitted "
                         "(state, role, field, guard, personal code), 5 conflict (stale version; "
                         "an open case of the child's without --anyway).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
#: ``gaita case``: shared by ``cases`` (open, fire, ...) and ``pause`` (pause, resume).
case_app = typer.Typer(help="Open, advance and inspect cases.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def exit_code(exc: GaitaError) -> int:
    if isinstance(exc, NotFound):
        return 3
    if isinstance(exc, NotPermitted):
        return 4
    if isinstance(exc, StaleCase | DuplicateCase):
        return 5
    return 1


def typed_day(text: str, param_hint: str | None = None) -> date:
    """A day given on the command line, ``DD.MM.YYYY`` or ``YYYY-MM-DD`` (``engine.dates``);
    anything else is a usage error (exit 2) that says what is wrong."""
    try:
        return parse_day(text)
    except InvalidDate as exc:
        raise typer.BadParameter(str(exc), param_hint=param_hint) from None


def error(message: object) -> None:
    """Print a message verbatim: declarations may contain '[...]' that Rich would eat."""
    err.print(f"error: {message}", markup=False, style="bold red")


def handled(fn: F) -> F:
    """Turn engine errors into a message on stderr and the contract's exit code."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GaitaError as exc:
            error(exc)
            raise typer.Exit(exit_code(exc)) from None
        except (OSError, ValueError) as exc:
            error(exc)
            raise typer.Exit(1) from None
        except sa.exc.SQLAlchemyError as exc:   # parameters are hidden: no child data here
            orig = getattr(exc, "orig", None) or exc
            error(f"database error: {str(orig).strip().splitlines()[0]}")
            raise typer.Exit(1) from None
    return wrapper  # type: ignore[return-value]  # functools.wraps keeps F's signature


class _Options:
    settings: Settings | None = None
    overrides: ClassVar[dict[str, Any]] = {}


@app.callback()
def main_options(
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (GAITA_DATABASE_URL).")] = None,
    now: Annotated[str | None, typer.Option(
        "--now", help="Fix the clock, ISO 8601 with offset (GAITA_NOW).")] = None,
) -> None:
    overrides: dict[str, Any] = {}
    if db:
        overrides["database_url"] = db
    if now:
        overrides["now"] = now
    _Options.overrides = overrides
    _Options.settings = None


def settings(**extra: Any) -> Settings:
    return load_settings(**{**_Options.overrides, **extra})


def current_app() -> App:
    """The runtime and database for a command that works on an initialised database."""
    from gaita.bootstrap import build_app

    return build_app(settings())


def reader(gaita: App, as_user: str | None) -> Actor:
    """Who reads: the user ``--as`` names, else the operator at this command line (who
    reads without the child's identity and changes nothing: ``engine.policy``)."""
    return actor_for(gaita.db, as_user) if as_user else operator(getpass.getuser())


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Message):   # a warning: its code, and the sentence the terminal shows
        return {"code": value.code, "message": str(value)}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def parse_fields(pairs: list[str] | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--field")
        if key.strip() in fields:
            raise typer.BadParameter(f"{key.strip()!r} given twice", param_hint="--field")
        fields[key.strip()] = value
    return fields


JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
AsOpt = Annotated[str, typer.Option("--as", help="Username of the acting user.")]
FieldOpt = Annotated[list[str] | None, typer.Option(
    "--field", help="A field as key=value (repeatable).")]
