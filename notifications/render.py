"""Render a notification email (subject, plain text, HTML) from its Jinja templates.

``templates/<name>.txt`` holds the subject on its first line, an empty line,
then the plain-text body; ``<name>.html`` the HTML body (autoescaped).  One
template per format serves every language: its words are keys of the
``email`` message catalogue (``i18n/locale/<lang>/LC_MESSAGES/email.po``),
looked up with ``t(key, **values)`` as on the web pages.  In ``.html`` the
catalogue's text is trusted and the values are escaped; ``value|strong`` marks
a value up inside a sentence.  ``remaining(days_left, overdue_days)`` and
``answer(extra)`` word the due date and an institution's answer.

Every template receives the same top-level context keys (``CONTEXT_KEYS``, any
other key is refused) and nothing about the child: references, titles, dates,
institutions and links only.  An unknown locale falls back to Latvian; the
context's ``locale`` is the language rendered.  A subject line whose last tag
is a block tag must end it with ``+%}`` so that ``trim_blocks`` keeps the
newline.  Partials are included (they see the context), never imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from engine.answers import TASK_EVENT_ACTIONS, TaskAction
from engine.errors import GaitaError, NotFound
from engine.pause import LONG_PAUSE
from engine.transfer import TransferAnswer
from i18n import LANGS, catalogue, pick_lang, translator
from notifications.catalogue import TEMPLATES_DIR, template_names

LOCALES = LANGS                 # Latvian first; lv is the fallback
CONTEXT_KEYS = frozenset({"locale", "municipality", "recipient", "case", "task", "actions",
                          "extra"})
_ROOT = Path(__file__).resolve().parent.parent


class TemplateMissing(NotFound):
    def __init__(self, template: str, directory: Path):
        self.template = template
        super().__init__("mail.no_template", template=template, directory=str(directory))


class TemplateError(GaitaError):
    """A template cannot be rendered: bad context, missing variable or message, syntax error."""

    def __init__(self, template: str, locale: str, reason: str):
        self.template, self.locale, self.reason = template, locale, reason
        super().__init__("mail.template_error", template=template, locale=locale, reason=reason)


class MessageMissing(Exception):
    """A template asked for a key the catalogue does not have (``TemplateError`` says where)."""

    def __init__(self, key: str, lang: str):
        self.key, self.lang = key, lang
        counted = f"{key}.one" in catalogue(lang)
        super().__init__(f"no message {key!r} in the {lang} catalogue"
                         + (" (a counted word: pass an integer n)" if counted else ""))


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
        self.env.filters["strong"] = strong
        self.words = {(lang, kind): words(lang, html=kind == "html")
                      for lang in LOCALES for kind in ("txt", "html")}

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> Rendered:
        if template not in self.names:
            raise TemplateMissing(template, _shown(self.directory))
        locale = pick_lang(locale)
        missing, unknown = CONTEXT_KEYS - {"locale", *context}, set(context) - CONTEXT_KEYS
        if missing or unknown:
            raise TemplateError(template, locale, "; ".join(
                f"{what} context keys: {', '.join(sorted(keys))}"
                for what, keys in (("missing", missing), ("unknown", unknown)) if keys))
        subject, _, rest = self._render(template, locale, "txt", context).partition("\n")
        blank, newline, text = rest.partition("\n")
        if not subject.strip() or blank.strip() or not newline:
            raise TemplateError(template, locale,
                                "the rendered .txt must be a subject line, an empty line, then "
                                "the body (end a subject line's last tag with '+%}')")
        html = self._render(template, locale, "html", context)
        return Rendered(" ".join(subject.split()), text, html)

    def _render(self, template: str, locale: str, kind: str, values: Mapping[str, Any]) -> str:
        name = f"{template}.{kind}"
        try:
            found = self.env.get_template(name)
            return found.render({**values, "locale": locale, **self.words[locale, kind]})
        except jinja2.TemplateNotFound:
            raise TemplateError(template, locale, f"no file {name}") from None
        except jinja2.TemplateSyntaxError as e:
            where = f"{e.name or e.filename}:{e.lineno}"
            raise TemplateError(template, locale, f"{where}: {e.message}") from e
        except jinja2.UndefinedError as e:
            raise TemplateError(template, locale, f"{_where(e)}{e.message}") from e
        except MessageMissing as e:
            raise TemplateError(template, locale, f"{_where(e)}{e}") from e


def words(lang: str, *, html: bool) -> dict[str, Callable[..., str]]:
    """What a template reads its words with, in ``lang``: ``t``, ``remaining``, ``answer``."""
    lookup = translator(lang, Markup if html else str)

    def t(key: str, **values: object) -> str:
        try:
            return lookup(key, **values)
        except KeyError:
            raise MessageMissing(key, lang) from None

    return {"t": t,
            "remaining": lambda days_left, overdue_days=None: remaining(t, days_left, overdue_days),
            "answer": lambda extra: answer(t, extra)}


def remaining(t: Callable[..., str], days_left: int | None, overdue_days: int | None = None) -> str:
    """Working days left, or by how many the task is late (``overdue_days`` 0: late by
    less than a working day); empty when unknown."""
    late = overdue_days if overdue_days is not None else (
        -days_left if days_left is not None and days_left < 0 else None)
    if late is not None and late > 0:
        return t("email.overdue_by", days=t("email.by_working_days", n=late))
    if late is not None:
        return t("email.overdue")
    if days_left == 0:
        return t("email.due_today")
    if days_left is not None:
        return t("email.days_left", n=days_left)
    return ""


def answer(t: Callable[..., str], extra: Mapping[str, Any]) -> str:
    """The institution's answer on its task, the coordinator's decision on a request for
    more time (``extra["answer"]``), or a pause gone on too long; empty otherwise."""
    kind, days = extra.get("answer"), extra.get("days")
    if kind in TASK_EVENT_ACTIONS and kind != TaskAction.ACKNOWLEDGE:   # no email tells that
        by_days = t("email.by_working_days", n=days) if days is not None else ""
        return t(f"email.answer.{kind}", days=by_days)
    if kind in frozenset(TransferAnswer):
        return t(f"email.answer.{kind}")
    if extra.get("pause") == LONG_PAUSE:
        limit = t("email.by_working_days", n=extra.get("max_working_days"))
        return t("email.pause.too_long", limit=limit, days=t("working_days", n=days))
    return ""


@jinja2.pass_eval_context
def strong(eval_ctx: jinja2.nodes.EvalContext, value: object) -> object:
    """``<strong>value</strong>`` in HTML (the value escaped); the value itself in text."""
    return Markup("<strong>{}</strong>").format(value) if eval_ctx.autoescape else value


def _where(error: BaseException) -> str:
    """``file:line: `` of the innermost template frame of a render error, if any."""
    where, tb = "", error.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.suffix in (".txt", ".html"):
            where = f"{path.name}:{tb.tb_lineno}: "
        tb = tb.tb_next
    return where


def _shown(path: Path) -> Path:
    """``notifications/templates`` for the package's own templates, else the full path."""
    resolved = path.resolve()
    return resolved.relative_to(_ROOT) if resolved.is_relative_to(_ROOT) else resolved
