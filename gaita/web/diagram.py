"""A case type's state diagram drawn on the server as inline SVG: no JavaScript.

``svg(wf, ...)`` draws a declaration (``engine.definitions.Workflow``; the CLI's
``engine.diagram`` writes the same as Mermaid) for the case page, top to bottom:

- states in layers by their distance from the initial state (breadth first over
  the non-terminal states); the terminal states in a last layer of their own,
  drawn with a double border and round corners;
- within a layer, states follow the mean place of the states leading to them
  (fewer crossings), otherwise the declaration's order; places form a grid, so
  the gaps between layers and between places are free of states;
- transitions as arrows routed through those gaps (never under a state), one
  per pair of states, with the triggers' titles as a tooltip (``<title>``);
  arrows back up to an earlier layer are dashed;
- the current state with a thick border, bold text, a light fill and a text
  marker (never colour alone); the arrows leaving it are thicker and darker.

The image is ``role="img"`` with a ``<title>`` and a ``<desc>``; ``outline``
gives the same states and transitions as data for the list the page shows
with it.  Every text is escaped; the result is ``Markup``.
"""

from __future__ import annotations

import textwrap
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from engine.definitions import Workflow

#: A state's width; the least gaps between places and between layers; the margin.
NODE_W, GAP_X, GAP_Y, PAD = 196, 30, 34, 8
#: Line height, font sizes, characters per line of a state's title.
LINE, FONT, SMALL, WRAP, OWNER_WRAP = 15, 13, 11, 27, 34
#: Distance between parallel arrows in one gap.
LANE = 6
_INK, _MUTED, _EDGE = "#1b1b1b", "#444444", "#767676"
_FILL, _TERMINAL_FILL, _CURRENT_FILL = "#ffffff", "#eef1f5", "#fff1b8"


@dataclass(frozen=True)
class Texts:
    """The diagram's words in the page's language (from the caller's catalogue)."""

    title: str       # the image's accessible name
    desc: str        # its description
    current: str     # the marker on the current state


@dataclass
class _Node:
    name: str
    layer: int
    place: int
    lines: list[str] = field(default_factory=list)
    owner: list[str] = field(default_factory=list)
    terminal: bool = False


@dataclass(frozen=True)
class _Edge:
    src: str
    dest: str
    titles: tuple[str, ...]


def layers(wf: Workflow) -> list[list[str]]:
    """The states by layer, each layer in its order (see the module's docstring)."""
    depth = {wf.initial: 0}
    todo = deque([wf.initial])
    while todo:
        here = todo.popleft()
        for t in wf.transitions_from(here):
            if t.dest not in depth and not wf.states[t.dest].terminal:
                depth[t.dest] = depth[here] + 1
                todo.append(t.dest)
    last = max(depth.values()) + 1
    for name, state in wf.states.items():   # (the validator leaves none unreachable)
        depth.setdefault(name, last if state.terminal else last - 1)
    out: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for name in wf.states:
        out[depth[name]].append(name)
    place = {name: float(i) for i, name in enumerate(out[0])}
    for layer in out[1:]:
        key = {}
        for i, name in enumerate(layer):
            before = [place[src] for t in wf.transitions if t.dest == name
                      for src in t.source if src in place]
            key[name] = sum(before) / len(before) if before else float(i)
        layer.sort(key=key.__getitem__)
        offset = (max(map(len, out)) - len(layer)) // 2
        place.update({name: float(offset + i) for i, name in enumerate(layer)})
    return [layer for layer in out if layer]


def reported_to(wf: Workflow, name: str, role_title: Mapping[str, str]) -> list[str]:
    """The role titles of the institutions a state's declared reports go to (its tasks
    beside the owner's, engine.filings), each once."""
    return list(dict.fromkeys(role_title.get(r.to, r.to) for r in wf.states[name].reports))


def outline(wf: Workflow, lang: str, role_title: Mapping[str, str]) -> list[dict[str, Any]]:
    """The diagram as data, layer by layer: each state's name, title, owner's role
    title, the institutions its reports go to, whether it is terminal, and its
    transitions (title, destination's title)."""
    return [{
        "name": name, "title": wf.states[name].title.get(lang),
        "terminal": wf.states[name].terminal,
        "owner": role_title.get(wf.states[name].owner or "", ""),
        "reports": reported_to(wf, name, role_title),
        "transitions": [{"title": t.title.get(lang), "dest": wf.states[t.dest].title.get(lang)}
                        for t in wf.transitions_from(name)],
    } for layer in layers(wf) for name in layer]


def svg(wf: Workflow, *, lang: str, current: str | None, texts: Texts,
        role_title: Mapping[str, str]) -> Markup:
    """The inline ``<svg>`` of ``wf`` with ``current`` marked; ``role_title``: the
    institution roles' titles (each state shows its owner's)."""
    nodes: dict[str, _Node] = {}
    grid = layers(wf)
    width_in_places = max(map(len, grid))
    for i, layer in enumerate(grid):
        offset = (width_in_places - len(layer)) // 2
        for j, name in enumerate(layer):
            state = wf.states[name]
            told = reported_to(wf, name, role_title)   # "+ …": the reports beside its task
            nodes[name] = _Node(name, i, offset + j,
                                textwrap.wrap(state.title.get(lang), WRAP) or [name],
                                textwrap.wrap(role_title.get(state.owner or "", ""), OWNER_WRAP)
                                + (textwrap.wrap("+ " + ", ".join(told), OWNER_WRAP)
                                   if told else []),
                                state.terminal)
    text_lines = max(len(n.lines) + len(n.owner) for n in nodes.values())
    height = (text_lines + 1) * LINE + 12   # a line more: room for the marker

    # 1. each arrow's route as lanes in gaps: ("row", g) below layer g (-1: the top
    #    margin), ("col", g) right of place g (-1: the left margin)
    edges = _edges(wf, lang)
    count: dict[tuple[str, int], int] = {}

    def take(kind: str, gap: int) -> tuple[str, int, int]:
        count[(kind, gap)] = count.get((kind, gap), 0) + 1
        return kind, gap, count[(kind, gap)]

    routes: list[list[tuple[str, int, int]]] = []
    for e in edges:
        a, b = nodes[e.src], nodes[e.dest]
        if b.layer == a.layer + 1:   # across the gap between the two layers
            routes.append([take("row", a.layer)])
        else:   # down into the gap below, along the gap beside the destination, in from above
            side = b.place - 1 if a.place < b.place else b.place
            routes.append([take("row", a.layer), take("col", side), take("row", b.layer - 1)])

    def room(kind: str, gap: int, least: int) -> float:
        return max(least, (count.get((kind, gap), 0) + 1) * LANE)

    col_gap = {g: room("col", g, GAP_X) for g in range(-1, width_in_places)}
    row_gap = {g: room("row", g, GAP_Y) for g in range(-1, len(grid))}
    xs = [PAD + sum(col_gap[g] for g in range(-1, p)) + p * NODE_W for p in range(width_in_places)]
    ys = [PAD + sum(row_gap[g] for g in range(-1, i)) + i * height for i in range(len(grid))]
    width = 2 * PAD + sum(col_gap.values()) + width_in_places * NODE_W
    total = 2 * PAD + sum(row_gap.values()) + len(grid) * height

    def lane(kind: str, gap: int, k: int) -> float:
        if kind == "col":
            start, size = (xs[gap] + NODE_W if gap >= 0 else PAD), col_gap[gap]
        else:
            start, size = (ys[gap] + height if gap >= 0 else PAD), row_gap[gap]
        return start + size * k / (count[(kind, gap)] + 1)

    # 2. where each arrow leaves (bottom) and enters (top): spread, in place order
    outs: dict[str, list[_Edge]] = {}
    ins: dict[str, list[_Edge]] = {}
    for e in edges:
        outs.setdefault(e.src, []).append(e)
        ins.setdefault(e.dest, []).append(e)
    for lst in outs.values():
        lst.sort(key=lambda e: (nodes[e.dest].place, nodes[e.dest].layer))
    for lst in ins.values():
        lst.sort(key=lambda e: (nodes[e.src].place, nodes[e.src].layer))

    def along(n: _Node, lst: list[_Edge], e: _Edge) -> float:
        return xs[n.place] + NODE_W * (lst.index(e) + 1) / (len(lst) + 1)

    plain: list[str] = []
    onwards: list[str] = []   # from the current state: drawn last, darker
    for e, route in zip(edges, routes, strict=True):
        a, b = nodes[e.src], nodes[e.dest]
        x1, y1 = along(a, outs[e.src], e), ys[a.layer] + height
        x2, y2 = along(b, ins[e.dest], e), ys[b.layer]
        if len(route) == 1:
            ly = lane(*route[0])
            points = [(x1, y1), (x1, ly), (x2, ly), (x2, y2)]
        else:
            ly1, lx, ly2 = (lane(*step) for step in route)
            points = [(x1, y1), (x1, ly1), (lx, ly1), (lx, ly2), (x2, ly2), (x2, y2)]
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
        dash = ' stroke-dasharray="5 3"' if b.layer <= a.layer else ""
        mine = e.src == current
        ink, stroke, arrow = (_INK, 2.4, "gaita-now") if mine else (_EDGE, 1.2, "gaita-arrow")
        (onwards if mine else plain).append(
            f'<path d="{path}" fill="none" stroke="{ink}" stroke-width="{stroke}"{dash} '
            f'marker-end="url(#{arrow})"><title>{escape(" / ".join(e.titles))}</title></path>')

    first = nodes[wf.initial]
    sx, fy = xs[first.place] + NODE_W / 2, ys[first.layer]
    parts = [*plain, *onwards,
             f'<circle cx="{sx - 40:.1f}" cy="{fy - 20:.1f}" r="5" fill="{_INK}"/>'
             f'<path d="M{sx - 35:.1f},{fy - 20:.1f} L{sx:.1f},{fy - 20:.1f} L{sx:.1f},{fy:.1f}" '
             f'fill="none" stroke="{_INK}" stroke-width="1.4" marker-end="url(#gaita-now)"/>']
    parts += [_node(n, xs[n.place], ys[n.layer], height, n.name == current, texts.current)
              for n in nodes.values()]
    markers = "".join(
        f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="{size}" '
        f'markerHeight="{size}" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{ink}"/></marker>' for name, ink, size in (("gaita-arrow", _EDGE, 8),
                                                          ("gaita-now", _INK, 5)))
    return Markup(   # noqa: S704 - every text in it is escaped (module docstring)
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="diagram" '
        f'viewBox="0 0 {width:.0f} {total:.0f}" width="100%" '
        f'style="max-width:{width:.0f}px;height:auto" '
        f'aria-labelledby="diagram-title diagram-desc" font-family="system-ui, sans-serif">'
        f'<title id="diagram-title">{escape(texts.title)}</title>'
        f'<desc id="diagram-desc">{escape(texts.desc)}</desc>'
        f'<defs>{markers}</defs>{"".join(parts)}</svg>')


def _edges(wf: Workflow, lang: str) -> list[_Edge]:
    """One arrow per (source, destination), with the titles of the triggers it stands for."""
    titles: dict[tuple[str, str], list[str]] = {}
    for t in wf.transitions:
        for src in t.source:
            titles.setdefault((src, t.dest), []).append(t.title.get(lang))
    return [_Edge(src, dest, tuple(ts)) for (src, dest), ts in titles.items()]


def _node(n: _Node, x: float, y: float, h: float, current: bool, marker: str) -> str:
    fill = _CURRENT_FILL if current else _TERMINAL_FILL if n.terminal else _FILL
    radius = 16 if n.terminal else 4
    kind = " current" if current else " terminal" if n.terminal else ""
    out = [f'<g class="state{kind}">',
           f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{h:.1f}" rx="{radius}" '
           f'fill="{fill}" stroke="{_INK}" stroke-width="{4 if current else 1.5}"/>']
    if n.terminal:   # a double border: a shape, not a colour
        out.append(f'<rect x="{x + 4:.1f}" y="{y + 4:.1f}" width="{NODE_W - 8}" '
                   f'height="{h - 8:.1f}" rx="{radius - 4}" fill="none" stroke="{_INK}"/>')
    cx, ty = x + NODE_W / 2, y + 6 + LINE
    weight = ' font-weight="700"' if current else ""
    for line in n.lines:
        out.append(f'<text x="{cx:.1f}" y="{ty:.1f}" text-anchor="middle" font-size="{FONT}" '
                   f'fill="{_INK}"{weight}>{escape(line)}</text>')
        ty += LINE
    for line in n.owner:
        out.append(f'<text x="{cx:.1f}" y="{ty:.1f}" text-anchor="middle" font-size="{SMALL}" '
                   f'fill="{_MUTED}">{escape(line)}</text>')
        ty += LINE
    if current:
        out.append(f'<text x="{cx:.1f}" y="{y + h - 7:.1f}" text-anchor="middle" '
                   f'font-size="{SMALL}" font-weight="700" fill="{_INK}">▶ {escape(marker)}</text>')
    out.append("</g>")
    return "".join(out)
