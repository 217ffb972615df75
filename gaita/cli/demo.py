"""``gaita demo generate``: many invented open cases (gaita/generate.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from gaita.cli.common import JsonOpt, current_app, emit_json, err, handled, out
from gaita.generate import generate

demo_app = typer.Typer(help="Invented demo data (never in production).", no_args_is_help=True)


@demo_app.command("generate")
@handled
def generate_cmd(
    cases: Annotated[int, typer.Option("--cases", min=1, help="How many open cases to add.")],
    seed: Annotated[int, typer.Option(help="Seed of the random choices (same seed, same cases "
                                           "on an empty database).")] = 0,
    months: Annotated[int, typer.Option(min=1, help="Spread the openings over this many "
                                                    "past months.")] = 6,
    as_json: JsonOpt = False,
) -> None:
    """Add N invented open cases of every type, in various states, opened over the past
    months, each through the one write path; progress goes to stderr."""
    gaita = current_app()
    result = generate(gaita.db, gaita.rt, cases, seed=seed, months=months,
                      progress=lambda done, total: err.print(f"{done}/{total} cases"))
    if as_json:
        emit_json({"cases": result.cases, "transitions": result.transitions,
                   "paused": result.paused, "seconds": round(result.seconds, 1),
                   "by_type": dict(sorted(result.by_type.items())),
                   "by_state": {f"{t}:{s}": n for (t, s), n in sorted(result.by_state.items())}})
        return
    tz = gaita.rt.calendar.timezone
    first = (f", opened from {result.first_opened.astimezone(tz):%d.%m.%Y}"
             if result.first_opened else "")
    out.print(f"{result.cases} cases added{first}: {result.transitions} transitions fired, "
              f"{result.paused} paused, in {result.seconds:.1f} s", markup=False)
    for case_type, n in sorted(result.by_type.items()):
        states = ", ".join(f"{s} {k}" for (t, s), k in sorted(result.by_state.items())
                           if t == case_type)
        out.print(f"  {case_type}: {n} ({states})", markup=False)
