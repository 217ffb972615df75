"""Render a notification email (subject, plain text, HTML) from its Jinja templates.

``templates/<locale>/<name>.txt`` holds the subject on its first line, an empty
line, then the plain-text body; ``<name>.html`` the HTML body (autoescaped).
Every template receives the same top-level context keys (``CONTEXT_KEYS``, any
other key is refused) and nothing about the child: references, titles, dates,
institutions and links only.  An unknown locale, or a missing English file,
falls back to Latvian; the context's ``locale`` is the one of the file used.
A subject line whose last tag is a block tag must end it with ``+%}`` so that
``trim_blocks`` keeps the newline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from engine.errors import GaitaError, NotFound
from notifications.catalogue import REQUIRED_LOCALE, TEMPLATES_DIR, template_names

LOCALES = ("lv", "en")          # Latvian first; lv is the fallback
CONTEXT_KEYS = frozenset({"locale", "municipality", "recipient", "case", "task", "actions", "extra"})
_ROOT = Path(__file__).resolve().parent.parent


class TemplateMissing(NotFound):
    def __init__(self, template: str, directory: Path):
        self.template = template
        super().__init__("mail.no_template", template=template, directory=str(directory))


class TemplateError(GaitaError):
    """A template cannot be rendered: bad context, missing variable or syntax error."""

    def __init__(self, template: str, locale: str, reason: str):
        self.template, self.locale, self.reason = template, locale, reason
        super().__init__("mail.template_error", template=template, locale=locale, reason=reason)


@dataclass(frozen=True)
class Rendered:
    subject: str   # one line, stripped, no newlines
    text: str      # plain-text body
    html: str


class Renderer:
    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self.directory = directory
        self.names = template_names(directory)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory, encoding="utf-8"),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> Rendered:
        if template not in self.names:
            raise TemplateMissing(template, _shown(self.directory / REQUIRED_LOCALE))
        locale = locale if locale in LOCALES else REQUIRED_LOCALE
        missing, unknown = CONTEXT_KEYS - {"locale", *context}, set(context) - CONTEXT_KEYS
        if missing or unknown:
            raise TemplateError(template, locale, "; ".join(
                f"{what} context keys: {', '.join(sorted(keys))}"
                for what, keys in (("missing", missing), ("unknown", unknown)) if keys))
        subject, _, rest = self._render(template, locale, "txt", context).partition("\n")
        blank, newline, text = rest.partition("\n")
        if not subject.strip() or blank.strip() or not newline:
            raise TemplateError(template, locale, "the rendered .txt must be a subject line, an empty "
                                "line, then the body (end a subject line's last tag with '+%}')")
        return Rendered(" ".join(subject.split()), text, self._render(template, locale, "html", context))

    def _render(self, template: str, locale: str, kind: str, values: Mapping[str, Any]) -> str:
        names = [f"{loc}/{template}.{kind}" for loc in dict.fromkeys((locale, REQUIRED_LOCALE))]
        try:
            found = self.env.select_template(names)
            return found.render({**values, "locale": (found.name or names[-1]).split("/")[0]})
        except jinja2.TemplateNotFound:
            raise TemplateError(template, locale, f"no file {names[-1]}") from None
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(template, locale, f"{e.name or e.filename}:{e.lineno}: {e.message}") from e
        except jinja2.UndefinedError as e:
            raise TemplateError(template, locale, f"{_where(e)}{e.message}") from e


def _where(error: BaseException) -> str:
    """``file:line: `` of the innermost template frame of a render error, if any."""
    where, tb = "", error.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.suffix in (".txt", ".html"):
            where = f"{path.parent.name}/{path.name}:{tb.tb_lineno}: "
        tb = tb.tb_next
    return where


def _shown(path: Path) -> Path:
    """``notifications/templates/lv`` for the package's own templates, else the full path."""
    resolved = path.resolve()
    return resolved.relative_to(_ROOT) if resolved.is_relative_to(_ROOT) else resolved
