"""State diagrams generated from a declaration (Mermaid ``stateDiagram-v2``)."""

from __future__ import annotations

from engine.definitions import Workflow


def mermaid(wf: Workflow, *, locale: str = "lv", highlight: str | None = None) -> str:
    lines = ["stateDiagram-v2", f"    %% {wf.case_type} v{wf.version}: {wf.title.get(locale)}"]
    for name, state in wf.states.items():
        label = state.title.get(locale).replace('"', "'")
        owner = f" ({state.owner})" if state.owner else ""
        lines.append(f'    state "{label}{owner}" as {name}')
    lines.append(f"    [*] --> {wf.initial}")
    for t in wf.transitions:
        for src in t.source:
            lines.append(f"    {src} --> {t.dest}: {t.trigger}")
    for name, state in wf.states.items():
        if state.terminal:
            lines.append(f"    {name} --> [*]")
    if highlight:
        lines.append("    classDef current fill:#ffd54f,stroke:#e65100,stroke-width:3px")
        lines.append(f"    class {highlight} current")
    return "\n".join(lines) + "\n"
