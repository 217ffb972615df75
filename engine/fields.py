"""Typed fields declared on openings and transitions; coercion of user input.

Input arrives as text (CLI ``k=v``, web forms) or JSON values (API).  Each is
checked against its ``FieldSpec`` and stored as a JSON-safe value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from engine.definitions import FieldSpec
from engine.errors import FieldError

_INT = re.compile(r"-?[0-9]{1,9}")   # ASCII digits only: int() would also take "٣" and "1_0"
_TRUE = {"true", "yes", "1", "jā", "ja"}
_FALSE = {"false", "no", "0", "nē", "ne"}


def coerce_fields(specs: Mapping[str, FieldSpec], given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(specs))
    if unknown:
        allowed = ", ".join(specs) or "(none)"
        raise FieldError(unknown[0], f"not a field of this step; fields: {allowed}")
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        value = given.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.optional:
                continue
            raise FieldError(name, f"required ({spec.type}: {spec.title.en})")
        out[name] = _coerce(name, spec, value)
    return out


def _coerce(name: str, spec: FieldSpec, value: Any) -> Any:
    if spec.type == "int":
        if isinstance(value, bool) or not _INT.fullmatch(str(value).strip()):
            raise FieldError(name, f"expected a whole number (up to 9 digits), got {value!r}")
        number = int(str(value).strip())
        if spec.min is not None and number < spec.min:
            raise FieldError(name, f"must be at least {spec.min}, got {number}")
        return number
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FieldError(name, f"expected true or false, got {value!r}")
    if spec.type == "date":
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise FieldError(name, f"expected a date YYYY-MM-DD, got {value!r}") from None
    if spec.type == "choice":
        text = str(value).strip()
        if text not in (spec.choices or []):
            raise FieldError(name, f"expected one of {', '.join(spec.choices or [])}, got {text!r}")
        return text
    if not isinstance(value, str):
        raise FieldError(name, f"expected text, got {type(value).__name__}")
    return value.strip()
