"""Tests for engine.personal_code.

Example codes are computed here (never real people's codes).  The helper below
implements the check-digit algorithm independently of the module, and one
hand-worked example pins both to the published arithmetic.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from engine.errors import InvalidPersonalCode
from engine.personal_code import (
    NEW_FORMAT_CHECKSUM_WARNING,
    PersonalCode,
    checksum_ok,
    parse_personal_code,
)

WEIGHTS = (1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_value(first10: str) -> int:
    """(1101 - weighted sum) mod 11; 10 means no valid check digit."""
    assert len(first10) == 10
    return (1101 - sum(w * int(d) for w, d in zip(WEIGHTS, first10, strict=True))) % 11


def with_check(first10: str) -> str | None:
    """The 11-digit code with the right check digit, or None if none exists."""
    check = check_value(first10)
    return None if check == 10 else first10 + str(check)


def legacy(ddmmyy: str, century: str = "1", serial: int = 0) -> str:
    """A checksum-valid legacy code (hyphenated); the serial is bumped if needed."""
    for s in range(serial, serial + 1000):
        code = with_check(f"{ddmmyy}{century}{s % 1000:03d}")
        if code is not None:
            return f"{code[:6]}-{code[6:]}"
    raise AssertionError("unreachable: some serial always yields a check digit < 10")


def new(rest: str = "123456789") -> str:
    """A checksum-valid new-format code "32" + rest[:8] + check (bumping the tail if needed)."""
    for tail in range(int(rest[-1]), int(rest[-1]) + 10):
        code = with_check("32" + rest[:7] + str(tail % 10))
        if code is not None:
            return f"{code[:6]}-{code[6:]}"
    raise AssertionError("unreachable")


def bad_check(code: str) -> str:
    """Same code with a wrong check digit."""
    return code[:-1] + str((int(code[-1]) + 1) % 10)


ONLY = "only digits and one hyphen are allowed"


def rejection(raw: str) -> InvalidPersonalCode:
    with pytest.raises(InvalidPersonalCode) as info:
        parse_personal_code(raw)
    err = info.value
    digits = "".join(c for c in str(raw) if c.isdigit())
    if len(digits) >= 6:  # the code itself must never leak into the message
        assert digits not in str(err)
        assert digits[:6] not in str(err)
    assert str(err) == f"invalid personal code: {err.reason}"
    return err


# -- the algorithm --------------------------------------------------------------------


def test_hand_worked_checksum():
    # 1 2 0 3 8 5 1 4 2 7 weighted by 1 6 3 7 9 10 5 8 4 2:
    # 1 + 12 + 0 + 21 + 72 + 50 + 5 + 32 + 8 + 14 = 215; (1101 - 215) % 11 = 886 % 11 = 6
    assert check_value("1203851427") == 6
    assert checksum_ok("12038514276")
    assert not checksum_ok("12038514275")
    assert parse_personal_code("120385-14276").birth_date == date(1985, 3, 12)


def test_checksum_ok_rejects_malformed_input():
    for bad in ("", "123", "120385-1427", "1203851427a", "120385142766"):
        with pytest.raises(ValueError, match="exactly 11 digits"):
            checksum_ok(bad)


def test_checksum_of_ten_is_never_ok():
    first10 = next(f"0101001{s:03d}" for s in range(1000) if check_value(f"0101001{s:03d}") == 10)
    assert not any(checksum_ok(first10 + d) for d in "0123456789")


# -- legacy format --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ddmmyy", "century", "expected"),
    [
        ("120385", "1", date(1985, 3, 12)),
        ("010100", "0", date(1800, 1, 1)),
        ("311299", "0", date(1899, 12, 31)),
        ("290200", "2", date(2000, 2, 29)),  # 2000 is a leap year
        ("290296", "1", date(1996, 2, 29)),
        ("311223", "2", date(2023, 12, 31)),
    ],
)
def test_valid_legacy(ddmmyy, century, expected):
    code = legacy(ddmmyy, century)
    parsed = parse_personal_code(code)
    assert parsed == PersonalCode(code=code, format="legacy", birth_date=expected, warnings=())
    assert parsed.digits() == code.replace("-", "")


@pytest.mark.parametrize("spelling", ["{d}", "{h}", "  {h}  ", "\t{d}\n"])
def test_input_normalisation(spelling):
    h = legacy("150710", "2")
    parsed = parse_personal_code(spelling.format(h=h, d=h.replace("-", "")))
    assert parsed.code == h
    assert parsed.digits() == h.replace("-", "")


def test_repr_does_not_show_the_code():
    parsed = parse_personal_code(legacy("150710", "2"))
    assert parsed.digits() not in repr(parsed) and parsed.code not in repr(parsed)


def test_frozen():
    parsed = parse_personal_code(legacy("150710", "2"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.code = "x"  # type: ignore[misc]  # the point: it is frozen


# -- rejections -----------------------------------------------------------------------

GOOD = legacy("120385", "1")
GOOD_D = GOOD.replace("-", "")

REJECTIONS = [
    ("", "empty: 11 digits expected"),
    ("   ", "empty: 11 digits expected"),
    (GOOD_D[:9], "11 digits expected, got 9"),
    (GOOD[:-1], "11 digits expected, got 10"),
    (GOOD_D + "0", "11 digits expected, got 12"),
    (GOOD_D[:6] + "-", "11 digits expected, got 6"),
    (GOOD_D[:3] + "A" + GOOD_D[4:], "unexpected letter 'A' at position 4; " + ONLY),
    (GOOD_D[:6] + "/" + GOOD_D[6:], "unexpected character '/' at position 7; " + ONLY),
    (GOOD_D[:6] + " " + GOOD_D[6:], "unexpected character ' ' at position 7; " + ONLY),
    (GOOD_D[:2] + "." + GOOD_D[2:], "unexpected character '.' at position 3; " + ONLY),
    ("١٢٠٣٨٥١٤٢٧٦", "unexpected character '١' at position 1; " + ONLY),  # noqa: RUF001 - Arabic-Indic digits on purpose
    (GOOD_D[:6] + "--" + GOOD_D[6:], "only one hyphen is allowed, got 2"),
    ("-" + GOOD_D, "the hyphen must come after the 6th digit"),
    (GOOD_D[:5] + "-" + GOOD_D[5:], "the hyphen must come after the 6th digit"),
    (GOOD_D + "-", "the hyphen must come after the 6th digit"),
    *[(legacy("120385", c), f"century digit must be 0, 1 or 2, got {c}") for c in "3456789"],
    (legacy("010085"), "month 00 does not exist"),
    (legacy("011385"), "month 13 does not exist"),
    (legacy("009985"), "month 99 does not exist"),
    (legacy("000185"), "day 00 does not exist in month 01"),
    (legacy("330185"), "day 33 does not exist in month 01"),
    (legacy("990185"), "day 99 does not exist in month 01"),
    (legacy("310485"), "day 31 does not exist in month 04"),
    (legacy("300285"), "day 30 does not exist in month 02"),
    (legacy("310285"), "day 31 does not exist in month 02"),
    (legacy("290285"), "day 29 does not exist in month 02 (1985 is not a leap year)"),
    (legacy("290200", "1"), "day 29 does not exist in month 02 (1900 is not a leap year)"),
    (legacy("290200", "0"), "day 29 does not exist in month 02 (1800 is not a leap year)"),
    (bad_check(GOOD), f"check digit is {(int(GOOD[-1]) + 1) % 10}, expected {GOOD[-1]}"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTIONS)
def test_rejections_name_the_defect(raw, reason):
    err = rejection(raw)
    assert str(err.reason) == reason
    assert err.code == "personal_code.invalid"   # a message code: the input is kept nowhere
    assert raw.strip() == "" or raw not in repr(err.params)


def test_check_value_ten_is_rejected():
    first10 = next(f"1203851{s:03d}" for s in range(1000) if check_value(f"1203851{s:03d}") == 10)
    for last in "0123456789":
        assert str(rejection(first10 + last).reason) == (
            "no check digit can be valid for the first 10 digits (checksum gives 10)"
        )


def test_non_string_is_rejected():
    err = rejection(12038514276)  # type: ignore[arg-type]  # the point: not a string
    assert str(err.reason) == "a string is expected, got int"


# -- new format -----------------------------------------------------------------------


@pytest.mark.parametrize("rest", ["000000000", "123456789", "999999999", "405060708"])
def test_valid_new_format(rest):
    code = new(rest)
    parsed = parse_personal_code(code.replace("-", ""))
    assert parsed == PersonalCode(code=code, format="new", birth_date=None, warnings=())
    assert parsed.digits() == code.replace("-", "")


@pytest.mark.parametrize("rest", ["000000000", "123456789", "999999999", "405060708"])
def test_new_format_bad_checksum_is_a_warning(rest):
    code = bad_check(new(rest))
    parsed = parse_personal_code(f" {code} ")
    assert parsed.format == "new"
    assert parsed.code == code
    assert parsed.birth_date is None
    assert parsed.warnings == (NEW_FORMAT_CHECKSUM_WARNING,)
    assert [str(w) for w in parsed.warnings] == ["checksum does not match (allowed for the new format)"]


def test_new_format_with_check_value_ten_is_a_warning():
    first10 = next(f"32{n:08d}" for n in range(10**4) if check_value(f"32{n:08d}") == 10)
    assert parse_personal_code(first10 + "0").warnings == (NEW_FORMAT_CHECKSUM_WARNING,)


def test_new_format_still_needs_eleven_clean_digits():
    assert str(rejection("32" + "1" * 8).reason) == "11 digits expected, got 10"
    assert str(rejection("321234-5678X").reason).startswith("unexpected letter 'X' at position 12")


# -- properties -----------------------------------------------------------------------

birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
serials = st.integers(min_value=0, max_value=999)


def code_for(born: date, serial: int) -> str | None:
    century = str(born.year // 100 - 18)
    return with_check(born.strftime("%d%m%y") + century + f"{serial:03d}")


@given(born=birth_dates, serial=serials, hyphen=st.booleans())
@example(born=date(2000, 2, 29), serial=0, hyphen=True)
@example(born=date(1900, 1, 1), serial=999, hyphen=False)
def test_constructed_code_round_trips(born, serial, hyphen):
    code = code_for(born, serial)
    assume(code is not None)
    raw = f"{code[:6]}-{code[6:]}" if hyphen else code
    parsed = parse_personal_code(raw)
    assert parsed.format == "legacy"
    assert parsed.birth_date == born
    assert parsed.digits() == code
    assert parsed.warnings == ()


@given(
    born=birth_dates,
    serial=serials,
    position=st.integers(min_value=0, max_value=10),
    shift=st.integers(min_value=1, max_value=9),
)
@example(born=date(1990, 1, 22), serial=0, position=0, shift=1)  # 22... -> 32...: becomes new format
def test_single_digit_change_is_caught(born, serial, position, shift):
    code = code_for(born, serial)
    assume(code is not None)
    changed = code[:position] + str((int(code[position]) + shift) % 10) + code[position + 1 :]
    # 11 is prime and every weight is 1..10, so one changed digit always breaks the checksum.
    assert not checksum_ok(changed)
    try:
        parsed = parse_personal_code(changed)
    except InvalidPersonalCode:
        return
    # The only way through: the change produced a "32..." new-format code, whose
    # checksum failure is a warning by design.
    assert changed.startswith("32")
    assert parsed.format == "new"
    assert parsed.warnings == (NEW_FORMAT_CHECKSUM_WARNING,)
