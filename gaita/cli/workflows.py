"""``gaita workflows list | validate | show | diagram``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.definitions import load_workflow
from engine.diagram import markdown, mermaid
from engine.errors import InvalidDeclaration, Problem
from gaita.bootstrap import load_declarations, load_known_names
from gaita.cli.common import JsonOpt, emit_json, err, handled, out, settings

workflows_app = typer.Typer(help="Inspect and validate the workflow declarations.",
                            no_args_is_help=True)


@workflows_app.command("list")
@handled
def list_workflows(as_json: JsonOpt = False) -> None:
    """List the case types and their current versions."""
    _, registry = load_declarations(settings())
    rows = [{"case_type": wf.case_type, "version": wf.version, "title": wf.title.lv,
             "title_en": wf.title.en, "states": len(wf.states),
             "transitions": len(wf.transitions),
             "versions": sorted(v for t, v in registry.versions if t == wf.case_type)}
            for wf in (registry.latest(t) for t in registry.case_types)]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out.print(f"{r['case_type']:<20} v{r['version']}  {r['title']} "
                  f"({r['states']} states, {r['transitions']} transitions)")


@workflows_app.command()
@handled
def validate(
    files: Annotated[list[Path] | None, typer.Argument(
        help="Declarations to check; default: every file in the workflows folder.")] = None,
) -> None:
    """Validate declarations; exit 1 listing every problem as file:line: reason."""
    s = settings()
    if not files:
        _, registry = load_declarations(s)
        for (case_type, version) in sorted(registry.versions):
            out.print(f"ok  {case_type} v{version}")
        return
    _, known = load_known_names(s)   # the folder's other files need not be valid
    problems: list[Problem] = []
    for path in files:
        try:
            wf = load_workflow(path, known)
            out.print(f"ok  {path} ({wf.case_type} v{wf.version})")
        except InvalidDeclaration as exc:
            problems.extend(exc.problems)
    if problems:
        for p in problems:
            err.print(str(p), markup=False)
        raise typer.Exit(1)


@workflows_app.command()
@handled
def show(case_type: str, as_json: JsonOpt = False,
         version: Annotated[int | None, typer.Option(
             help="A published older version.")] = None) -> None:
    """Show a declaration: states, owners, deadlines and transitions."""
    _, registry = load_declarations(settings())
    wf = registry.get(case_type, version) if version is not None else registry.latest(case_type)
    if as_json:
        emit_json(wf.model_dump(mode="json", exclude={"common"}))
        return
    out.print(f"[bold]{wf.title.lv}[/] / {wf.title.en}  ({wf.case_type} v{wf.version}, "
              f"reference {wf.reference_prefix}-YYYY-NNNNN)")
    out.print("Legal basis: " + "; ".join(ref.ref for ref in wf.legal_basis))
    out.print(f"\n[bold]States[/] (initial: {wf.initial})")
    for name, st in wf.states.items():
        if st.terminal:
            detail = f"terminal, outcome {st.outcome}"
        else:
            detail = f"owner {st.owner}, " + (
                "no deadline" if st.deadline is None else st.deadline.describe())
        steps = f" [{', '.join(st.steps)}]" if st.steps else ""
        out.print(f"  {name:<28} {st.title.lv} — {detail}{steps}", markup=False)
        for r in st.reports:   # parallel tasks of other institutions (engine.filings)
            required = ("required" if r.required else "required when " + str(r.required_when)
                        if r.required_when else "optional")
            out.print(f"  {'':<28}   report {r.code} -> {r.to} ({required})", markup=False)
    out.print("\n[bold]Transitions[/]")
    for t in wf.transitions:
        gate = (f"  needs its reports (at least {t.requires_reports.at_least})"
                if t.requires_reports is not None else "")
        out.print(f"  {t.trigger:<28} {', '.join(t.source)} -> {t.dest}  "
                  f"roles: {', '.join(t.roles)}{gate}", markup=False)


@workflows_app.command()
@handled
def diagram(case_type: str,
            format: Annotated[str, typer.Option(
                "--format", help="Output format: mermaid.")] = "mermaid",
            locale: Annotated[str, typer.Option(help="lv or en.")] = "lv") -> None:
    """Print the state diagram generated from the declaration."""
    if format != "mermaid":
        raise typer.BadParameter(f"unknown format {format!r}; supported: mermaid",
                                 param_hint="--format")
    _, registry = load_declarations(settings())
    typer.echo(mermaid(registry.latest(case_type), locale=locale), nl=False)


DOCS_HEADER = """# Workflows

Generated from `workflows/*.yaml` by `gaita workflows docs > docs/workflows.md`
(a test fails when this file is out of date).  Working days are counted on the
Latvian calendar; a same-day duty names its day as the law does (BTAL 73(1): the
same calendar day, weekends too; MK 89: the same school day); a `param` deadline is
set in `config/<municipality>/parameters.yaml` in its unit (the value shown is
Jelgava's).
Evidence tags: [V] verified, [J] Jelgava programme, [U] unverified (see DOMAIN.md).

"""


@workflows_app.command()
@handled
def docs(locale: Annotated[str, typer.Option(help="Diagram labels: lv or en.")] = "lv") -> None:
    """Print docs/workflows.md: every case type's states, legal references and diagram."""
    municipality, registry = load_declarations(settings())
    periods = {name: f"{p.value} {(p.unit or 'working_days').replace('_', ' ')}"
               for name, p in municipality.parameters.items()}
    typer.echo(DOCS_HEADER + "\n".join(markdown(registry.latest(t), locale=locale,
                                                periods=periods)
                                       for t in registry.case_types), nl=False)
