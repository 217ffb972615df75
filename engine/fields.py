"""Typed fields declared on openings and transitions; coercion of user input.

Input arrives as text (CLI ``k=v``, web forms) or JSON values (API).  Each is
checked against its ``FieldSpec`` and stored as a JSON-safe value.  A date is
typed ``DD.MM.GGGG`` or ``YYYY-MM-DD`` (``engine.dates``) and stored as ISO.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.dates import InvalidDate, parse_day
from engine.definitions import FieldSpec
from engine.errors import FieldError, Message, Named, msg

_INT = re.compile(r"-?[0-9]{1,9}")   # ASCII digits only: int() would also take "٣" and "1_0"
_TRUE = {"true", "yes", "1", "jā", "ja"}
_FALSE = {"false", "no", "0", "nē", "ne"}


def coerce_fields(specs: Mapping[str, FieldSpec], given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise FieldError(unknown[0], msg("field.not_of_step", fields=tuple(
            Named(name, spec.title) for name, spec in specs.items())))
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        value = given.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.optional:
                continue
            raise FieldError(name, msg("field.required", type=msg(f"field.type.{spec.type}"),
                                       title=spec.title), title=spec.title)
        out[name] = _coerce(name, spec, value)
    return out


def _coerce(name: str, spec: FieldSpec, value: Any) -> Any:
    def refuse(reason: Message) -> FieldError:
        return FieldError(name, reason, title=spec.title)

    if spec.type == "int":
        if isinstance(value, bool) or not _INT.fullmatch(str(value).strip()):
            raise refuse(msg("field.not_whole_number", value=repr(value)))
        number = int(str(value).strip())
        if spec.min is not None and number < spec.min:
            raise refuse(msg("field.below_min", min=spec.min, value=number))
        return number
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise refuse(msg("field.not_bool", value=repr(value)))
    if spec.type == "date":
        try:
            return parse_day(value).isoformat()
        except InvalidDate as exc:
            raise refuse(exc.message) from None
    if spec.type == "choice":
        text = str(value).strip()
        if text not in (spec.choices or []):
            raise refuse(msg("field.not_choice", value=repr(text), choices=tuple(
                Named(c, _ChoiceTitle(spec, c)) for c in spec.choices or [])))
        return text
    if not isinstance(value, str):
        raise refuse(msg("field.not_text", type=type(value).__name__))
    return value.strip()


class _ChoiceTitle:
    """A choice's declared title, in either language."""

    def __init__(self, spec: FieldSpec, code: str) -> None:
        self.spec, self.code = spec, code

    def get(self, locale: str) -> str:
        return self.spec.choice_title(self.code, locale)
