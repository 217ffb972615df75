"""The user guide at ``/help``: ``docs/guide/<lang>.md`` rendered to HTML, and where each
page's "Palīdzība" / "Help" link leads.

The guide is Markdown in the repository (readable on its own, its pictures the
screenshots ``make screenshots`` refreshes in ``docs/screenshots``).  A heading that ends
in ``{#anchor}`` gets that ``id``: the anchors are the same in every language, so a page
links to its section whatever the language.  ``GET /help`` shows the guide in the
reader's language, ``GET /help/{lang}`` in that language, and
``GET /help/screenshots/{name}.png`` its pictures (same origin, so the CSP's
``img-src 'self'`` allows them).  No login is needed: the institutions answering from an
email have no account.

Which section helps with which page is declared once, in ``gaita.web.help_anchors``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup
from starlette.responses import FileResponse, Response

from gaita.settings import ROOT
from gaita.web.auth import gaita_of, lang_of, optional_user
from gaita.web.errors import PageError
from gaita.web.help_anchors import HELP_ANCHORS, help_anchor, help_href
from gaita.web.render import page, render
from i18n import LANGS, translator

router = APIRouter()

GUIDE = ROOT / "docs" / "guide"
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: What the guide's Markdown writes before a picture's file name.
_SHOT_PREFIX = "../screenshots/"
_SHOT_NAME = re.compile(r"[0-9a-z][0-9a-z-]*\.png")
_ANCHOR = re.compile(r"\s*\{#([a-z][a-z0-9-]*)\}\s*$")

@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _shot(src: str) -> str | None:
    """A picture's name if ``src`` is one of docs/screenshots' PNGs."""
    if not src.startswith(_SHOT_PREFIX):
        return None
    name = src[len(_SHOT_PREFIX):]
    return name if _SHOT_NAME.fullmatch(name) else None


def _prepare(tokens: list[Token]) -> tuple[list[Token], list[dict[str, str]]]:
    """Anchors on the headings (``{#id}`` taken out of the text), pictures pointed at
    ``/help/screenshots/`` (a picture not yet made is left out: its alt text stays as
    the paragraph's text), tables marked ``rows``; and the table of contents (h2)."""
    contents: list[dict[str, str]] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            inline = tokens[i + 1]
            found = _ANCHOR.search(inline.content)
            if found:
                token.attrSet("id", found.group(1))
                inline.content = inline.content[:found.start()]
                last = inline.children[-1] if inline.children else None
                if last is not None and last.type == "text":
                    last.content = _ANCHOR.sub("", last.content)
                if token.tag == "h2":
                    contents.append({"id": found.group(1), "title": inline.content})
        elif token.type == "inline" and token.children:
            kept = []
            for child in token.children:
                if child.type == "image":
                    name = _shot(str(child.attrGet("src") or ""))
                    if name is None or not (SCREENSHOTS / name).is_file():
                        continue
                    child.attrSet("src", f"/help/screenshots/{name}")
                    child.attrSet("loading", "lazy")
                kept.append(child)
            token.children = kept
        elif token.type == "table_open":
            token.attrSet("class", "guide")
    return tokens, contents


@cache
def _guide(lang: str, stamp: float) -> tuple[Markup, tuple[dict[str, str], ...], str]:
    """The guide in ``lang``: its HTML without the first heading, the contents, the title
    (cached per file version: ``stamp`` is its modification time)."""
    text = (GUIDE / f"{lang}.md").read_text(encoding="utf-8")
    md = _markdown()
    tokens, contents = _prepare(md.parse(text))
    title = ""
    if tokens and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
        title = tokens[1].content
        tokens = tokens[3:]
    html = md.renderer.render(tokens, md.options, {})
    return Markup(html), tuple(contents), title   # noqa: S704 - html=False: the text is escaped


def guide(lang: str) -> tuple[Markup, tuple[dict[str, str], ...], str]:
    path = GUIDE / f"{lang}.md"
    return _guide(lang, path.stat().st_mtime)


def guide_anchors(lang: str) -> set[str]:
    """Every anchor of the guide in ``lang`` (the tests check each page's link has one)."""
    html, _, _ = guide(lang)
    return set(re.findall(r'<h[1-6] id="([^"]+)"', html))


@router.get("/help")
def help_page(request: Request) -> Response:
    viewer = optional_user(request)
    return _help(request, viewer.lang if viewer else lang_of(request), viewer)


@router.get("/help/{lang}")
def help_in(request: Request, lang: str) -> Response:
    if lang not in LANGS:
        raise PageError(404, "not_found")
    return _help(request, lang, optional_user(request))


@router.get("/help/screenshots/{name}")
def screenshot(name: str) -> Response:
    if not _SHOT_NAME.fullmatch(name) or not (SCREENSHOTS / name).is_file():
        raise PageError(404, "not_found")
    return FileResponse(SCREENSHOTS / name, media_type="image/png")


@router.get("/favicon.ico")
def favicon() -> Response:
    """No icon (204): browsers ask for one, and the CSP's ``img-src 'self'`` lets them."""
    return Response(status_code=204)


def _help(request: Request, lang: str, viewer: Any) -> Response:
    app = gaita_of(request)
    body, contents, title = guide(lang)
    other = translator(lang)("switch_lang_code")
    context: dict[str, Any] = {"body": body, "contents": contents,
                               "switch_href": f"/help/{other}"}
    if viewer is not None:
        viewer = replace(viewer, lang=lang)
        return page(request, app, viewer, "help.html", title=title, wide=False, **context)
    return render("help.html", lang=lang, rt=app.rt, switch_lang=True, request=request,
                  page_title=title,
                  **context)


__all__ = ["HELP_ANCHORS", "guide_anchors", "help_anchor", "help_href", "router"]
