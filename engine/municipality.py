"""Municipality configuration (``config/<municipality>/*.yaml``): schema and loader.

``load_municipality`` raises one ``ConfigError`` listing every problem as ``file:line: reason``.
Parameters from thresholds.yaml, parameters.yaml and the cooperation group's ``meetings``
(as ``cooperation_group.<name>``) share one namespace.  Only ``school`` may have several holders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from datetime import date, time
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic import TypeAdapter, ValidationError

from engine.errors import ConfigError, GaitaError, Problem
from engine.yamlio import YamlError, line_for, load_yaml

FILES = ("municipality.yaml", "institutions.yaml", "cooperation_group.yaml",
         "thresholds.yaml", "services.yaml", "calendar.yaml", "parameters.yaml")
PARAMETER_FILES = ("thresholds.yaml", "parameters.yaml")
PAUSES_FILE = "pauses.yaml"   # engine.pause: pause reasons and the limit
Loc = tuple[int | str, ...]


class ConfigLookupError(ConfigError, KeyError):
    """A code, role or parameter asked of a loaded config does not exist (also a KeyError)."""
    __str__ = GaitaError.__str__  # not KeyError's quoting


def _rule(ok: Callable[[Any], Any] | str, what: str, before: bool = False) -> Any:
    """A validator rejecting a value unless ``ok(value)`` is truthy (a str ``ok`` is a regex)."""
    test = re.compile(ok).fullmatch if isinstance(ok, str) else ok

    def check(value: Any) -> Any:
        try:
            good = test(value)
        except Exception:  # noqa: BLE001 - ZoneInfo and fromisoformat raise several types
            good = False
        if not good:
            raise ValueError(f"{value!r} is not {what}")
        return value
    return BeforeValidator(check) if before else AfterValidator(check)


Text = Annotated[str, Strict(), _rule(str.strip, "a non-empty text")]
Code = Annotated[str, Strict(), _rule(r"[a-z0-9]+(-[a-z0-9]+)*", "a lower-case code like 'jslp-vvapn'")]
ParamName = Annotated[str, Strict(), _rule(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", "a name like 'a.b_c'")]
Email = Annotated[str, Strict(), _rule(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", "an e-mail address")]
TimeZone = Annotated[str, Strict(), _rule(ZoneInfo, "a known time zone such as 'Europe/Riga'")]
Value = Annotated[bool | int | str, _rule(lambda v: type(v) in (bool, int, str), "an integer, true/false or text",
                                          before=True)]
Positive = Annotated[int, Strict(), Field(gt=0)]
CaseProblem = Literal["absences", "substances", "unregistered"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalizedText(_Model):
    lv: Text
    en: Text

    def get(self, locale: str) -> str:
        """The text in ``locale`` (English for ``en``, Latvian otherwise)."""
        return self.en if locale == "en" else self.lv


class Municipality(_Model):
    code: Code
    name: LocalizedText
    timezone: TimeZone
    default_locale: Literal["lv", "en"]


class Institution(_Model):
    code: Code
    name: LocalizedText
    short: Text
    roles: tuple[Text, ...] = ()
    # Checked when mail is sent: a missing address fails that email visibly
    # (notifications.delivery), it does not stop the municipality loading.
    email: Email | None = None
    head_email: Email | None = None
    locale: Literal["lv", "en"] | None = None   # default: the municipality's


class Parameter(_Model):
    value: Value
    unit: Text | None = None
    tag: Literal["V", "J", "U"]  # DOMAIN.md evidence: verified, Jelgava programme, unverified
    source: Text


class Seat(_Model):
    position: LocalizedText
    institution: Code


class CooperationGroup(_Model):
    name: LocalizedText
    legal_basis: tuple[Text, ...] = Field(min_length=1)  # citations
    declared_size: Positive  # must equal chair + members + unknown_seats
    chair: Seat
    members: tuple[Seat, ...]
    unknown_seats: Parameter  # seats the sources do not name
    meetings: dict[ParamName, Parameter]  # joins the namespace as cooperation_group.<name>
    # Why a case comes before the group (engine.group); every EngineReason among them.
    escalation_reasons: dict[ReasonCode, EscalationReason] = Field(min_length=1)
    # case type -> parameter (months): a new case for a child who had a case of the
    # same type opened within that window is queued with reason ``repeated_case``.
    repeated_case_windows: dict[ParamName, ParamName] = Field(default_factory=dict)

    def reason(self, code: str) -> EscalationReason | None:
        return self.escalation_reasons.get(code)


class EscalationReason(_Model):
    title: LocalizedText
    manual: Annotated[bool, Strict()] = False   # a coordinator may refer a case for it by hand
    source: Text | None = None


class EngineReason(StrEnum):
    """Escalation reasons the engine gives by itself; each must be configured (with its
    titles) among ``escalation_reasons``."""

    STALLED = "stalled"              # a task climbed its whole escalation ladder
    REPEATED_CASE = "repeated_case"  # the same child had a case of the type recently
    FOLLOW_UP = "follow_up"          # the group reviews its decisions still open


class Service(_Model):
    code: Code
    name: LocalizedText
    provider: Code
    sessions: Positive | None = None
    target_group: LocalizedText
    min_age: Positive | None = None  # the child's age in years, inclusive
    max_age: Positive | None = None
    available: Annotated[bool, Strict()]
    note: LocalizedText | None = None
    problems: tuple[CaseProblem, ...] = Field(min_length=1)


class ExternalResource(_Model):
    code: Code
    name: LocalizedText
    provides: LocalizedText
    available: Annotated[bool, Strict()] = True
    note: LocalizedText | None = None
    problems: tuple[CaseProblem, ...] = ()  # empty: not tied to a problem


class CalendarSettings(_Model):
    country: Annotated[str, Strict(), _rule(r"[A-Z]{2}", "an ISO 3166 country code")]
    timezone: TimeZone
    day_end: Annotated[time, _rule(r"\d\d:\d\d(:\d\d)?", 'a quoted time such as "23:59:59"', before=True)]
    extra_holidays: tuple[Annotated[date, Strict()], ...] = ()
    extra_working_days: tuple[Annotated[date, Strict()], ...] = ()


ReasonCode = Annotated[str, Strict(), _rule(r"[a-z][a-z0-9_]*", "a code like 'child_abroad'")]


class PauseReason(_Model):
    title: LocalizedText


class PauseLimit(Parameter):
    value: Positive   # working days
    unit: Literal["working_days"] = "working_days"


class PauseSettings(_Model):
    """pauses.yaml: why a case's clock may stop, and after how long a pause is flagged."""
    max_working_days: PauseLimit
    reasons: dict[ReasonCode, PauseReason] = Field(min_length=1)


class _ServicesFile(_Model):
    services: tuple[Service, ...]
    external_resources: tuple[ExternalResource, ...] = ()


class MunicipalityConfig(_Model):
    directory: str
    municipality: Municipality
    institutions: tuple[Institution, ...]
    cooperation_group: CooperationGroup
    services: tuple[Service, ...]
    external_resources: tuple[ExternalResource, ...]
    calendar: CalendarSettings
    parameters: dict[str, Parameter]
    pauses: PauseSettings
    institution_roles: frozenset[str]
    shared_roles: frozenset[str] = frozenset()   # roles held by many institutions (schools)

    @cached_property
    def institutions_by_code(self) -> dict[str, Institution]:
        return {inst.code: inst for inst in self.institutions}

    def institution(self, code: str) -> Institution:
        inst = self.institutions_by_code.get(code)
        if inst is None:
            raise self._missing("institutions.yaml", f"no institution {code!r}")
        return inst

    def institution_name(self, code: str | None, locale: str) -> str:
        """The institution's name in ``locale``: a code no longer configured (still in
        the database) as it is, none as an empty text."""
        inst = self.institutions_by_code.get(code) if code else None
        return inst.name.get(locale) if inst is not None else (code or "")

    def institutions_with_role(self, role: str) -> tuple[Institution, ...]:
        if role not in self.institution_roles:
            raise self._missing("institutions.yaml", f"unknown institution role {role!r}")
        return tuple(i for i in self.institutions if role in i.roles)

    def institution_for_role(self, role: str) -> Institution:
        """The one institution holding ``role``; not for ``school``, which many hold."""
        holders = self.institutions_with_role(role)
        if len(holders) == 1 and role not in self.shared_roles:
            return holders[0]
        codes = ", ".join(i.code for i in holders) or "none"
        raise self._missing("institutions.yaml", f"role {role!r} needs exactly one holder, found: {codes}")

    def parameter(self, name: str) -> bool | int | str:
        if name not in self.parameters:
            raise self._missing("", f"no parameter {name!r} (thresholds, parameters or group meetings)")
        return self.parameters[name].value

    def _missing(self, file: str, reason: str) -> ConfigLookupError:
        return ConfigLookupError([Problem(str(Path(self.directory, file)), None, reason)])


_SCHEMAS: dict[str, TypeAdapter[Any]] = dict(zip(FILES, map(TypeAdapter, (  # in the order of FILES
    Municipality, tuple[Institution, ...], CooperationGroup, dict[ParamName, Parameter],
    _ServicesFile, CalendarSettings, dict[ParamName, Parameter]))))
_SCHEMAS[PAUSES_FILE] = TypeAdapter(PauseSettings)


def _reason(error: Any) -> str:
    loc, kind, given = tuple(error["loc"]), error["type"], error.get("input")
    if kind in ("extra_forbidden", "missing"):
        what = "unknown key" if kind == "extra_forbidden" else "missing required key"
        loc, message = loc[:-1], f"{what} {loc[-1]!r}"
    else:
        message = str(error["ctx"]["error"]) if kind == "value_error" else error["msg"] + (
            f", not {given!r}" if isinstance(given, str | int | float | date) else "")
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p!r}" if "." in p else f".{p}" for p in loc)
    return f"{path.lstrip('.')}: {message}" if path else message


def _find(data: Any, path: Loc, at: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """``(loc, value)`` for every string reached by ``path`` in raw YAML; ``"*"`` means every list item."""
    if not path:
        yield from [(at, data)] if isinstance(data, str) else ()
    elif path[0] == "*" and isinstance(data, list):
        for i, item in enumerate(data):
            yield from _find(item, path[1:], (*at, i))
    elif isinstance(data, dict) and path[0] in data:
        yield from _find(data[path[0]], path[1:], (*at, path[0]))


class _Loader:
    """Collects every problem; cross-checks read the raw YAML, so they run despite schema errors."""

    def __init__(self, directory: Path, roles: frozenset[str], shared: frozenset[str]):
        self.dir, self.roles, self.shared = directory, roles, shared
        self.raw, self.problems = dict[str, Any](), list[Problem]()

    def add(self, file: str, loc: Loc, reason: str) -> None:
        self.problems.append(Problem(str(self.dir / file), line_for(self.raw.get(file), loc), reason))

    def load(self, file: str) -> Any:
        if file == "parameters.yaml" and not (self.dir / file).exists():  # optional
            return {}
        try:
            data = load_yaml(self.dir / file)
        except YamlError as exc:
            self.problems.append(exc.problem)
            return None
        self.raw[file] = data = {} if data is None and file in PARAMETER_FILES else data
        try:
            return _SCHEMAS[file].validate_python(data)
        except ValidationError as exc:
            for error in exc.errors():
                self.add(file, tuple(error["loc"]), _reason(error))

    def unique(self, file: str, path: Loc, what: str) -> None:
        first: dict[str, Loc] = {}
        for loc, code in _find(self.raw.get(file), path):
            if code in first:
                line = line_for(self.raw[file], first[code])
                self.add(file, loc, f"duplicate {what} {code!r} (first at line {line})")
            first.setdefault(code, loc)

    def check_roles(self) -> None:
        insts, holder, known = self.raw.get("institutions.yaml"), dict[str, Any](), ", ".join(sorted(self.roles))
        for loc, role in _find(insts, ("*", "roles", "*")):
            code = insts[loc[0]].get("code")
            if role not in self.roles:
                self.add("institutions.yaml", loc, f"unknown institution role {role!r}; declared: {known}")
            elif role not in self.shared and holder.get(role, code) != code:
                shared = ", ".join(sorted(self.shared)) or "none"
                self.add("institutions.yaml", loc, f"role {role!r} is already held by {holder[role]!r}; "
                         f"only per-case roles ({shared}) may be held by more than one institution")
            holder.setdefault(role, code)
        if isinstance(insts, list):   # a workflow may route any declared role: each needs a holder
            for role in sorted(self.roles - set(holder)):
                self.add("institutions.yaml", (), f"no institution holds the role {role!r}; "
                                                  "every institution role needs a holder")

    def check_references(self) -> None:
        codes = {code for _, code in _find(self.raw.get("institutions.yaml"), ("*", "code"))}
        for file, path in (("cooperation_group.yaml", ("chair", "institution")),
                           ("cooperation_group.yaml", ("members", "*", "institution")),
                           ("services.yaml", ("services", "*", "provider"))):
            for loc, code in _find(self.raw.get(file), path) if codes else ():
                if code not in codes:
                    self.add(file, loc, f"unknown institution {code!r} (not in institutions.yaml)")

    def check_escalation_reasons(self, parameters: dict[str, Parameter]) -> None:
        group = self.raw.get("cooperation_group.yaml")
        reasons = group.get("escalation_reasons") if isinstance(group, dict) else None
        if isinstance(reasons, dict) and reasons:
            for code in EngineReason:
                if code not in reasons:
                    self.add("cooperation_group.yaml", ("escalation_reasons",),
                             f"missing reason {code.value!r}: the engine gives it itself")
        windows = group.get("repeated_case_windows") if isinstance(group, dict) else None
        for case_type, name in windows.items() if isinstance(windows, dict) else ():
            if isinstance(name, str) and parameters and name not in parameters:
                self.add("cooperation_group.yaml", ("repeated_case_windows", case_type),
                         f"unknown parameter {name!r} (not in thresholds.yaml or parameters.yaml)")
            elif isinstance(name, str) and parameters and type(parameters[name].value) is not int:
                self.add("cooperation_group.yaml", ("repeated_case_windows", case_type),
                         f"parameter {name!r} is {parameters[name].value!r}; a number of months is needed")

    def check_parameter_names(self) -> None:
        group = self.raw.get("cooperation_group.yaml")
        meetings = group.get("meetings") if isinstance(group, dict) else None
        owner: dict[str, str] = {}
        for file, at, prefix, mapping in [
                *((f, (), "", self.raw.get(f)) for f in PARAMETER_FILES),
                ("cooperation_group.yaml", ("meetings",), "cooperation_group.", meetings)]:
            for key in mapping if isinstance(mapping, dict) else ():
                name = f"{prefix}{key}"
                if name in owner:
                    self.add(file, (*at, key), f"parameter {name!r} is also defined at {owner[name]}")
                owner.setdefault(name, f"{self.dir / file}:{line_for(self.raw[file], (*at, key))}")


def load_municipality(directory: Path, *, institution_roles: Collection[str],
                      shared_roles: Collection[str] = ()) -> MunicipalityConfig:
    """Load and cross-check a folder; the roles come from ``workflows/roles.yaml``.

    ``shared_roles`` (e.g. ``school``) may be held by many institutions; every other
    role by exactly one.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError([Problem(str(directory), None, "municipality config directory not found")])
    ld = _Loader(directory, frozenset(institution_roles), frozenset(shared_roles))
    loaded = [ld.load(file) for file in FILES]
    municipality, insts, group, thresholds, services, calendar, extra = loaded
    loaded.append(pauses := ld.load(PAUSES_FILE))
    ld.check_roles()
    ld.unique("institutions.yaml", ("*", "code"), "institution code")
    ld.unique("services.yaml", ("services", "*", "code"), "service code")
    ld.check_references()
    unknown = group.unknown_seats.value if group and type(group.unknown_seats.value) is int else 0
    if group and (seats := 1 + len(group.members) + unknown) != group.declared_size:
        ld.add("cooperation_group.yaml", ("declared_size",),
               f"declared size {group.declared_size}, but chair + members + unknown_seats = {seats}")
    ld.check_parameter_names()
    ld.check_escalation_reasons({**(thresholds or {}), **(extra or {})})
    if ld.problems or any(value is None for value in loaded):
        raise ConfigError(sorted(ld.problems, key=lambda p: (p.file, p.line or 0)))
    meetings = {f"cooperation_group.{name}": value for name, value in group.meetings.items()}
    return MunicipalityConfig(
        directory=str(directory), municipality=municipality, institutions=insts, cooperation_group=group,
        services=services.services, external_resources=services.external_resources, calendar=calendar,
        institution_roles=frozenset(institution_roles), shared_roles=frozenset(shared_roles),
        parameters={**thresholds, **extra, **meetings}, pauses=pauses)
