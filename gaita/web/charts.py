"""Small charts drawn on the server as inline SVG: no JavaScript, no images.

``line_chart`` and ``bar_chart`` are pure functions of their numbers and
texts; each returns one ``<svg role="img">`` (as ``Markup``, a ``str``) whose
``<title>`` and ``<desc>`` are its accessible name and description, with
labelled axes and a tooltip (``<title>``) on every point or bar.  Every text
is escaped.  The page shows the same numbers in a table beside the chart: a
chart is never the only way to read them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

#: A number as the page's language writes it.
Number = Callable[[float], str]

WIDTH = 640
_INK, _LINE, _GRID = "#1b1b1b", "#0b4f8a", "#c8c8c8"
_FONT = 12
#: Longest category label drawn in full (the table beside the chart has all of it).
LABEL_CHARS = 42


def plain(value: float) -> str:
    """``3``, ``2.5``: whole numbers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def ticks(top: float, count: int = 4) -> list[float]:
    """0 and at most ``count`` + 1 round steps (1, 2 or 5 × 10ⁿ; whole numbers, at
    least 1) up to ``top`` or just past it."""
    if top <= 0:
        return [0.0, 1.0]
    magnitude = 10.0 ** math.floor(math.log10(top / count))
    step = next(m * magnitude for m in (1, 2, 5, 10) if top / (m * magnitude) <= count + 1)
    step = max(step, 1.0)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """``text``, or its first ``limit`` characters and an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def line_chart(points: Sequence[tuple[str, float]], *, ident: str, title: str, desc: str,
               x_label: str, y_label: str, number: Number = plain, height: int = 280) -> Markup:
    """A line through ``points`` (x label, value), left to right, over a y axis from 0."""
    left, right, top, bottom = 60, 20, 16, 58
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    scale = ticks(max((v for _, v in points), default=0))
    y_max = scale[-1]

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / y_max

    step = plot_w / max(len(points) - 1, 1)
    xs = [left + (i * step if len(points) > 1 else plot_w / 2) for i in range(len(points))]
    widest = max((len(label) for label, _ in points), default=0) * _FONT * 0.65
    every = max(1, math.ceil(widest / step))   # x labels that do not overlap, the last one kept
    parts = [*_open(ident, title, desc, height), *_y_grid(scale, y, left, WIDTH - right, number)]
    parts.append(_axes(left, top, WIDTH - right, top + plot_h))
    if points:
        coords = " ".join(f"{x:.1f},{y(v):.1f}" for x, (_, v) in zip(xs, points, strict=True))
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{_LINE}" '
                     'stroke-width="2.5"/>')
    for i, (x, (label, value)) in enumerate(zip(xs, points, strict=True)):
        parts.append(f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="4" fill="{_LINE}">'
                     f"<title>{escape(label)}: {escape(number(value))}</title></circle>")
        if (len(points) - 1 - i) % every == 0:
            parts.append(_text(x, top + plot_h + 18, label, anchor="middle"))
    parts.append(_text(left + plot_w / 2, height - 8, x_label, anchor="middle", bold=True))
    parts.append(_text(14, top + plot_h / 2, y_label, anchor="middle", bold=True,
                       rotate=True))
    parts.append("</svg>")
    return Markup("".join(parts))   # noqa: S704 - every text in it went through _text's escape


def bar_chart(bars: Sequence[tuple[str, float]], *, ident: str, title: str, desc: str,
              x_label: str, y_label: str, number: Number = plain) -> Markup:
    """Horizontal bars (category label, value), top to bottom, over an x axis from 0.
    Labels longer than ``LABEL_CHARS`` are shortened (in full in each bar's tooltip)."""
    row, top, bottom, right = 24, 30, 52, 56
    labels = [shorten(label) for label, _ in bars]
    left = min(16 + int(max((len(s) for s in labels), default=8) * _FONT * 0.55), 300)
    plot_w = WIDTH - left - right
    plot_h = row * max(len(bars), 1)
    height = top + plot_h + bottom
    scale = ticks(max((v for _, v in bars), default=0))
    x_max = scale[-1]

    def x(value: float) -> float:
        return left + plot_w * value / x_max

    parts = [*_open(ident, title, desc, height)]
    for tick in scale:
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" '
                     f'y2="{top + plot_h}" stroke="{_GRID}" stroke-width="1"/>')
        parts.append(_text(x(tick), top + plot_h + 16, number(tick), anchor="middle"))
    parts.append(_axes(left, top, WIDTH - right, top + plot_h))
    for i, ((label, value), short) in enumerate(zip(bars, labels, strict=True)):
        y0 = top + i * row
        width = x(value) - left
        parts.append(f'<rect x="{left}" y="{y0 + 4}" width="{width:.1f}" height="{row - 8}" '
                     f'fill="{_LINE}"><title>{escape(label)}: {escape(number(value))}</title>'
                     "</rect>")
        parts.append(_text(left - 6, y0 + row / 2 + 4, short, anchor="end"))
        parts.append(_text(left + width + 4, y0 + row / 2 + 4, number(value)))
    parts.append(_text(left + plot_w / 2, height - 8, x_label, anchor="middle", bold=True))
    parts.append(_text(4, 16, y_label, bold=True))
    parts.append("</svg>")
    return Markup("".join(parts))   # noqa: S704 - every text in it went through _text's escape


# --- parts -----------------------------------------------------------------------------


def _open(ident: str, title: str, desc: str, height: int) -> list[str]:
    i = escape(ident)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="{i}-title {i}-desc" '
            f'style="max-width:100%;height:auto" font-family="inherit" font-size="{_FONT}">',
            f'<title id="{i}-title">{escape(title)}</title>',
            f'<desc id="{i}-desc">{escape(desc)}</desc>']


def _y_grid(scale: list[float], y: Callable[[float], float], x0: float, x1: float,
            number: Number) -> list[str]:
    out = []
    for tick in scale:
        out.append(f'<line x1="{x0}" y1="{y(tick):.1f}" x2="{x1}" y2="{y(tick):.1f}" '
                   f'stroke="{_GRID}" stroke-width="1"/>')
        out.append(_text(x0 - 6, y(tick) + 4, number(tick), anchor="end"))
    return out


def _axes(x0: float, y0: float, x1: float, y1: float) -> str:
    return (f'<path d="M{x0} {y0}V{y1}H{x1}" fill="none" stroke="{_INK}" '
            f'stroke-width="1.5"/>')


def _text(x: float, y: float, text: str, *, anchor: str = "start", bold: bool = False,
          rotate: bool = False) -> str:
    extra = ' font-weight="700"' if bold else ""
    if rotate:
        extra += f' transform="rotate(-90 {x:.1f} {y:.1f})"'
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{_INK}"{extra}>'
            f"{escape(text)}</text>")
