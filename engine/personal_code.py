"""Validation of Latvian personal codes (personas kods).

Two formats are in use, both 11 digits, conventionally written ``XXXXXX-XXXXX``:

* Legacy ``DDMMYY-CNNNN``: the birth date (day, month, two-digit year), a
  century digit C (0 = 1800s, 1 = 1900s, 2 = 2000s), three serial digits and a
  check digit.  The date must exist and the check digit must match; any
  defect is a rejection.
* New (issued since 1 July 2017): ``32XXXX-XXXXX``, no birth date encoded.  It
  carries a check digit computed the same way, but some genuinely issued new
  codes are reported not to pass it, so a mismatch there is only a warning.

The check digit: weigh the first ten digits by (1, 6, 3, 7, 9, 10, 5, 8, 4, 2);
check = (1101 - sum) mod 11; valid iff check < 10 and equals the 11th digit.
A legacy code never starts with ``32`` (there is no day 32), so the first two
digits decide the format unambiguously.

Input may carry surrounding whitespace and one hyphen after the 6th digit;
anything else is rejected.  Error reasons name the defect but never contain
the code itself, which is sensitive personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from engine.errors import InvalidPersonalCode, Message, msg

__all__ = ["NEW_FORMAT_CHECKSUM_WARNING", "PersonalCode", "checksum_ok", "parse_personal_code"]

_WEIGHTS = (1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() would accept e.g. Arabic-Indic digits
_CENTURIES = {"0": 1800, "1": 1900, "2": 2000}
#: The warning on a new-format code whose check digit does not match (still accepted).
NEW_FORMAT_CHECKSUM_WARNING = msg("personal_code.new_format_checksum")


@dataclass(frozen=True)
class PersonalCode:
    """A parsed personal code.  ``repr`` omits the code to keep it out of logs."""

    code: str = field(repr=False)  # normalised "XXXXXX-XXXXX"
    format: Literal["legacy", "new"]
    birth_date: date | None  # None for the new format
    warnings: tuple[Message, ...] = ()

    def digits(self) -> str:
        """The 11 digits without the hyphen."""
        return self.code.replace("-", "")


def expected_check(digits: str) -> int:
    """The check value for the first ten digits; 10 means no valid check digit exists."""
    return (1101 - sum(w * int(d) for w, d in zip(_WEIGHTS, digits[:10], strict=True))) % 11


def checksum_ok(digits: str) -> bool:
    """Whether the 11th digit is the correct check digit.  ``digits``: exactly 11 ASCII digits."""
    if len(digits) != 11 or not _DIGITS.issuperset(digits):
        raise ValueError("checksum_ok expects exactly 11 digits")
    check = expected_check(digits)
    return check < 10 and check == int(digits[10])


def _digits_of(raw: str) -> str:
    """Strip whitespace and the optional hyphen; reject anything else, naming the defect."""
    text = raw.strip()
    if not text:
        raise InvalidPersonalCode(msg("personal_code.empty"))
    for position, char in enumerate(text, start=1):
        if char != "-" and char not in _DIGITS:
            kind = "letter" if char.isalpha() else "character"
            raise InvalidPersonalCode(msg(f"personal_code.unexpected_{kind}", char=repr(char),
                                          position=position))
    if text.count("-") > 1:
        raise InvalidPersonalCode(msg("personal_code.hyphens", count=text.count("-")))
    digits = text.replace("-", "")
    if len(digits) != 11:
        raise InvalidPersonalCode(msg("personal_code.length", count=len(digits)))
    if "-" in text and text.index("-") != 6:
        raise InvalidPersonalCode(msg("personal_code.hyphen_place"))
    return digits


def _birth_date(digits: str) -> date:
    century = _CENTURIES.get(digits[6])
    if century is None:
        raise InvalidPersonalCode(msg("personal_code.century", digit=digits[6]))
    day, month, year = int(digits[0:2]), int(digits[2:4]), century + int(digits[4:6])
    if not 1 <= month <= 12:
        raise InvalidPersonalCode(msg("personal_code.month", month=digits[2:4]))
    try:
        return date(year, month, day)
    except ValueError:
        if month == 2 and day == 29:
            raise InvalidPersonalCode(msg("personal_code.leap_day", day=digits[0:2],
                                          month=digits[2:4], year=year)) from None
        raise InvalidPersonalCode(msg("personal_code.day", day=digits[0:2],
                                      month=digits[2:4])) from None


def parse_personal_code(raw: str) -> PersonalCode:
    """Validate and normalise ``raw``; raise ``InvalidPersonalCode`` naming the defect."""
    if not isinstance(raw, str):
        raise InvalidPersonalCode(msg("personal_code.not_text", type=type(raw).__name__))
    digits = _digits_of(raw)
    code = f"{digits[:6]}-{digits[6:]}"
    if digits.startswith("32"):
        warnings = () if checksum_ok(digits) else (NEW_FORMAT_CHECKSUM_WARNING,)
        return PersonalCode(code=code, format="new", birth_date=None, warnings=warnings)
    birth_date = _birth_date(digits)
    expected = expected_check(digits)
    if expected == 10:
        raise InvalidPersonalCode(msg("personal_code.no_check"))
    if expected != int(digits[10]):
        raise InvalidPersonalCode(msg("personal_code.check", got=digits[10], expected=expected))
    return PersonalCode(code=code, format="legacy", birth_date=birth_date)
