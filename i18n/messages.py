"""Messages that carry a code and parameters, in words: the engine's errors and refusals
(``engine.errors``), the access policy's reasons, declaration problems.

A message is anything with a ``code`` and ``params``; its text is the catalogue's
``error.<code>`` (``errors.po``), a ``str.format`` template over the parameters.
Each parameter is rendered first:

- a message (a reason inside a refusal) in the same language, recursively;
- a named thing (``code`` and ``title``: a state, a trigger, a field, an
  institution) by its title in the language, or by its code where it has none
  or where ``codes`` is asked for (the command line and logs: scripts and
  operators know things by their codes);
- a text declared in both languages (``lv``, ``en``) in the language;
- a list or set by its items, joined with ", " (``error.none`` when empty), or
  line by line when the parameter is called ``lines``;
- anything else as ``str``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from i18n import catalogue, pick_lang

PREFIX = "error."


class Coded(Protocol):
    """A message: a catalogue code and the values for its placeholders."""

    @property
    def code(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


def render(lang: str, message: Coded, *, codes: bool = False) -> str:
    """``message`` in ``lang`` (``codes``: name declared things by their codes)."""
    lang = pick_lang(lang)
    template = catalogue(lang)[PREFIX + message.code]
    values = {k: "\n".join(str(_value(lang, line, codes)) for line in v) if k == "lines"
              else _value(lang, v, codes) for k, v in message.params.items()}
    return template.format(**values)


def _value(lang: str, value: Any, codes: bool) -> Any:
    if hasattr(value, "code") and hasattr(value, "params"):
        return render(lang, value, codes=codes)
    if hasattr(value, "code") and hasattr(value, "title"):
        title = value.title
        return value.code if codes or title is None else title.get(lang)
    if hasattr(value, "lv") and hasattr(value, "en") and hasattr(value, "get"):
        return value.get(lang)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [str(_value(lang, v, codes)) for v in value]
        return ", ".join(items) if items else catalogue(lang)[PREFIX + "none"]
    if isinstance(value, str):   # a StrEnum member is rendered as its value
        return str.__str__(value)
    return value
