"""State diagrams generated from a declaration (Mermaid ``stateDiagram-v2``)."""

from __future__ import annotations

from collections.abc import Mapping

from engine.definitions import Workflow


def mermaid(wf: Workflow, *, locale: str = "lv", highlight: str | None = None) -> str:
    lines = ["stateDiagram-v2", f"    %% {wf.case_type} v{wf.version}: {wf.title.get(locale)}"]
    for name, state in wf.states.items():
        label = state.title.get(locale).replace('"', "'")
        owner = f" ({state.owner})" if state.owner else ""
        lines.append(f'    state "{label}{owner}" as {name}')
    lines.append(f"    [*] --> {wf.initial}")
    for start in wf.open.start_states:   # a case may also be opened there
        lines.append(f"    [*] --> {start.state}: open")
    for t in wf.transitions:
        for src in t.source:
            lines.append(f"    {src} --> {t.dest}: {t.trigger}")
    for name, state in wf.states.items():
        if state.terminal:
            lines.append(f"    {name} --> [*]")
    for name, state in wf.states.items():   # reports: parallel tasks of other institutions
        if state.reports:
            told = ", ".join(f"{r.to}{'*' if r.required or r.required_when else ''}"
                             for r in state.reports)
            lines.append(f"    note right of {name}: reports to {told}")
    if highlight:
        lines.append("    classDef current fill:#ffd54f,stroke:#e65100,stroke-width:3px")
        lines.append(f"    class {highlight} current")
    return "\n".join(lines) + "\n"


def markdown(wf: Workflow, *, locale: str = "lv",
             periods: Mapping[str, str] | None = None) -> str:
    """One case type as Markdown: legal basis, states with owners and deadlines, diagram.

    ``periods`` (a municipality's parameters as "10 working days") shows what each
    ``param:`` deadline is.
    """
    def deadline(state_name: str) -> str:
        d = wf.state(state_name).deadline
        return "—" if d is None else d.describe(periods)

    out = [f"## {wf.title.en} — *{wf.title.lv}* (`{wf.case_type}` v{wf.version})", "",
           f"Case references: `{wf.reference_prefix}-YYYY-NNNNN`.", "", "**Legal basis**", ""]
    out += [f"- {ref.ref}" + (f" — {ref.title.en}" if ref.title else "") + f" [{ref.tag}]"
            for ref in wf.legal_basis]
    out += ["", "| state | steps | owner | deadline | legal reference |",
            "|---|---|---|---|---|"]
    for name, s in wf.states.items():
        owner = f"outcome `{s.outcome}`" if s.terminal else (s.owner or "")
        out.append(f"| `{name}` {s.title.en} | {', '.join(s.steps)} | {owner} | "
                   f"{deadline(name)} | {s.legal_ref or ''} |")
    reports = [(name, r) for name, s in wf.states.items() for r in s.reports]
    if reports:
        out += ["", "**Reports beside a state's task** (each a task of its recipient, in "
                "parallel: `engine.filings`; `*` in the diagram: required, always or when)", "",
                "| state | report | to | recipient's deadline | required | recipient reads |",
                "|---|---|---|---|---|---|"]
        for name, r in reports:
            when = ("always" if r.required else "when " + "; ".join(
                f"`{f}` is {', '.join(v)}" for f, v in (r.required_when or {}).items())
                if r.required_when else "no")
            dl = "—" if r.deadline is None else r.deadline.describe(periods)
            out.append(f"| `{name}` | `{r.code}` {r.title.en} | {r.to} | {dl} | {when} | "
                       f"{', '.join(r.reads) or '—'}, its own fields |")
        gated = [(t.trigger, t.requires_reports.at_least) for t in wf.transitions
                 if t.requires_reports is not None]
        out += [""] + [f"`{trigger}` fires once every required report is made or waived with "
                       f"a reason, and at least {n} made." for trigger, n in gated]
    for start in wf.open.start_states:
        out.append(f"\nAlso opened at `{start.state}`: {start.title.en}"
                   + (f" (guards: {', '.join(start.guards)})" if start.guards else ""))
    statuses = [(t.trigger, t.ikvd_status) for t in wf.transitions if t.ikvd_status]
    if statuses:
        out += ["", "**Closing steps and the IKVD statuses they report** "
                "(`config/<municipality>/ikvd_statuses.yaml`)", ""]
        out += [f"- `{trigger}`: {', '.join(codes or ())}" for trigger, codes in statuses]
    residence = [(t.trigger, t.report_to_residence) for t in wf.transitions
                 if t.report_to_residence]
    if residence:
        out += ["", "**Reports to the municipality of a party's declared residence** "
                "(`config/<municipality>/municipalities.yaml`; `gaita case aggressor`)", ""]
        out += [f"- `{trigger}`: the {r.party}'s municipality; ours: the `notify` to "
                f"`{r.replaces}`; another: email `{r.template}` to its receiving address "
                "(none known: the coordinator gives it, `gaita case address`)"
                for trigger, r in residence if r is not None]
    refs = [(t.trigger, t.legal_ref) for t in wf.transitions if t.legal_ref]
    if refs:
        out += ["", "**Transitions with a legal duty**", ""]
        out += [f"- `{trigger}`: {ref}" for trigger, ref in refs]
    out += ["", "```mermaid", mermaid(wf, locale=locale).rstrip(), "```", ""]
    return "\n".join(out)
