"""Municipality configuration (``config/<municipality>/*.yaml``): schema and loader.

``load_municipality`` raises one ``ConfigError`` listing every problem as ``file:line: reason``.
Parameters from thresholds.yaml, parameters.yaml and the cooperation group's ``meetings``
(as ``cooperation_group.<name>``) share one namespace.  Only ``school`` may have several holders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import date, time
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.dates import Day
from engine.errors import ConfigError, GaitaError, Message, Named, Problem, msg
from engine.periods import Unit
from engine.yamlio import YamlError, line_for, load_yaml, schema_reason

FILES = ("municipality.yaml", "institutions.yaml", "cooperation_group.yaml",
         "thresholds.yaml", "services.yaml", "calendar.yaml", "parameters.yaml")
PARAMETER_FILES = ("thresholds.yaml", "parameters.yaml")
PAUSES_FILE = "pauses.yaml"   # engine.pause: pause reasons and the limit
IKVD_FILE = "ikvd_statuses.yaml"   # engine.ikvd: the statuses reported to IKVD (optional)
#: engine.parties: other municipalities' receiving addresses (MK 474 p. 12; optional)
DIRECTORY_FILE = "municipalities.yaml"
Loc = tuple[int | str, ...]


class ConfigLookupError(ConfigError, KeyError):
    """A code, role or parameter asked of a loaded config does not exist (also a KeyError)."""
    __str__ = GaitaError.__str__  # not KeyError's quoting


def _rule(code: str, ok: Callable[[Any], Any] | str, before: bool = False) -> Any:
    """A validator rejecting a value unless ``ok(value)`` is truthy (a str ``ok`` is a regex);
    its error's type is the message ``code``, with the ``value`` refused."""
    test = re.compile(ok).fullmatch if isinstance(ok, str) else ok

    def check(value: Any) -> Any:
        try:
            good = test(value)
        except Exception:   # ZoneInfo and fromisoformat raise several types
            good = False
        if not good:
            raise PydanticCustomError(code, "{value} is not valid", {"value": value})
        return value
    return BeforeValidator(check) if before else AfterValidator(check)


Text = Annotated[str, Strict(), _rule("config.not_text", str.strip)]
Code = Annotated[str, Strict(), _rule("config.not_code", r"[a-z0-9]+(-[a-z0-9]+)*")]
ParamName = Annotated[str, Strict(),
                      _rule("config.not_param_name", r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")]
Email = Annotated[str, Strict(), _rule("config.not_email", r"[^@\s]+@[^@\s]+\.[a-z]{2,}")]
TimeZone = Annotated[str, Strict(), _rule("config.not_timezone", ZoneInfo)]
Value = Annotated[bool | int | str, _rule("config.not_value", lambda v: type(v) in (bool, int, str),
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


ClockTime = Annotated[time, _rule("config.not_time", r"\d\d:\d\d(:\d\d)?", before=True)]


class WorkingHours(_Model):
    """When reminders and digests may go out: ``start``-``end`` local time on working days."""
    start: ClockTime = time(8)
    end: ClockTime = time(18)

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end <= self.start:
            raise PydanticCustomError("config.working_hours_order",
                                      "working hours end before they start",
                                      {"start": self.start.isoformat("minutes"),
                                       "end": self.end.isoformat("minutes")})
        return self


class MailTiming(_Model):
    """When email goes out (notifications.timing): reminders and digests only within
    ``working_hours``; notices to one recipient about one case within
    ``coalesce_minutes`` of the first are sent as one email."""
    working_hours: WorkingHours = WorkingHours()
    coalesce_minutes: Annotated[int, Strict(), Field(ge=0, le=120)] = 5


class Municipality(_Model):
    code: Code
    name: LocalizedText
    timezone: TimeZone
    default_locale: Literal["lv", "en"]
    mail: MailTiming = MailTiming()


class Institution(_Model):
    code: Code
    name: LocalizedText
    short: Text
    roles: tuple[Text, ...] = ()
    # Checked when mail is sent: a missing address fails that email visibly
    # (notifications.delivery), it does not stop the municipality loading.
    email: Email | None = None
    head_email: Email | None = None
    # used after a permanent failure (SMTP 5xx) of ``email`` or ``head_email``
    fallback_email: Email | None = None
    locale: Literal["lv", "en"] | None = None   # default: the municipality's


class Parameter(_Model):
    value: Value
    unit: Unit | None = None   # None: working days where the value is a period
    tag: Literal["V", "J", "U"]  # DOMAIN.md evidence: verified, Jelgava programme, unverified
    source: Text


class Seat(_Model):
    position: LocalizedText
    institution: Code


class CoreRoles(_Model):
    """The institution roles the law requires in the group (MK 545: police, social
    service, education board, bāriņtiesa): each holder must have a seat."""
    roles: tuple[Text, ...] = Field(min_length=1)
    source: Text


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


class Rhythm(_Model):
    """When ordinary meetings are proposed: the ``week``-th ``weekday`` (-1: the last) of
    each of ``months`` (engine.group.rhythm)."""
    months: tuple[Annotated[int, Strict(), Field(ge=1, le=12)], ...] = Field(min_length=1)
    weekday: Weekday
    week: Literal[1, 2, 3, 4, -1]
    tag: Literal["V", "J", "U"]
    source: Text


class CooperationGroup(_Model):
    name: LocalizedText
    legal_basis: tuple[Text, ...] = Field(min_length=1)  # citations
    declared_size: Positive  # must equal chair + members + unknown_seats
    core_roles: CoreRoles
    rhythm: Rhythm
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

    @property
    def seats(self) -> tuple[Seat, ...]:
        """The chair's seat, then the members', as configured."""
        return (self.chair, *self.members)


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


class SchoolHoliday(_Model):
    """Days without lessons (a school holiday), first to last inclusive."""
    first: Day
    last: Day
    name: LocalizedText

    @model_validator(mode="after")
    def _ordered(self) -> SchoolHoliday:
        if self.last < self.first:
            raise PydanticCustomError("config.school_holiday_order",
                                      "a school holiday ends before it starts",
                                      {"first": self.first.isoformat(),
                                       "last": self.last.isoformat()})
        return self


class CalendarSettings(_Model):
    country: Annotated[str, Strict(), _rule("config.not_country", r"[A-Z]{2}")]
    timezone: TimeZone
    day_end: Annotated[time, _rule("config.not_time", r"\d\d:\d\d(:\d\d)?", before=True)]
    extra_holidays: tuple[Day, ...] = ()       # DD.MM.YYYY or YYYY-MM-DD (engine.dates)
    extra_working_days: tuple[Day, ...] = ()
    # MK 89 "the same school day": working days outside these have lessons
    school_holidays: tuple[SchoolHoliday, ...] = ()


ReasonCode = Annotated[str, Strict(), _rule("config.not_reason_code", r"[a-z][a-z0-9_]*")]


class PauseReason(_Model):
    title: LocalizedText


class PauseLimit(Parameter):
    value: Positive   # working days
    unit: Literal[Unit.WORKING_DAYS] = Unit.WORKING_DAYS


class PauseSettings(_Model):
    """pauses.yaml: why a case's clock may stop, and after how long a pause is flagged."""
    max_working_days: PauseLimit
    reasons: dict[ReasonCode, PauseReason] = Field(min_length=1)


class IkvdStatus(_Model):
    title: LocalizedText
    report: LocalizedText   # what the municipality enters in VIIS / reports to IKVD
    tag: Literal["V", "J", "U"]
    source: Text


class IkvdStatuses(_Model):
    """ikvd_statuses.yaml: the versioned list of statuses reported to IKVD (MK 871 p. 6)."""
    version: Positive
    valid_from: Annotated[date, Strict()]
    title: LocalizedText   # the status's name as a field of a closing step
    source: Text
    statuses: dict[ReasonCode, IkvdStatus] = Field(min_length=1)


class OtherMunicipality(_Model):
    """A municipality a pupil's residence may be declared in (municipalities.yaml), and
    who receives an MK 474 p. 12 report there: ``email`` (none: the coordinator is asked
    for it), or, for a municipality merged into another, its successor's."""
    code: Code
    name: LocalizedText
    body: LocalizedText | None = None   # the receiving body
    email: Email | None = None
    merged_into: Code | None = None


class MunicipalityDirectory(_Model):
    """municipalities.yaml: every municipality, ours among them (``municipality.yaml``'s
    code)."""
    tag: Literal["V", "J", "U"]
    source: Text
    municipalities: tuple[OtherMunicipality, ...] = Field(min_length=1)

    @cached_property
    def by_code(self) -> dict[str, OtherMunicipality]:
        return {m.code: m for m in self.municipalities}

    def receiving(self, code: str) -> OtherMunicipality | None:
        """The municipality that receives a report for ``code`` (a merged one's
        successor); None for a code not in the directory."""
        found = self.by_code.get(code)
        while found is not None and found.merged_into is not None:
            found = self.by_code.get(found.merged_into)
        return found


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
    ikvd_statuses: IkvdStatuses | None = None   # None: ikvd_statuses.yaml not given
    directory_of_municipalities: MunicipalityDirectory | None = None   # municipalities.yaml
    shared_roles: frozenset[str] = frozenset()   # roles held by many institutions (schools)

    @cached_property
    def institutions_by_code(self) -> dict[str, Institution]:
        return {inst.code: inst for inst in self.institutions}

    def institution(self, code: str) -> Institution:
        inst = self.institutions_by_code.get(code)
        if inst is None:
            raise self._missing("institutions.yaml", msg("config.no_institution", code=code))
        return inst

    def institution_name(self, code: str | None, locale: str) -> str:
        """The institution's name in ``locale``: a code no longer configured (still in
        the database) as it is, none as an empty text."""
        inst = self.institutions_by_code.get(code) if code else None
        return inst.name.get(locale) if inst is not None else (code or "")

    def institutions_with_role(self, role: str) -> tuple[Institution, ...]:
        if role not in self.institution_roles:
            raise self._missing("institutions.yaml", msg("config.unknown_role", role=role))
        return tuple(i for i in self.institutions if role in i.roles)

    def institution_for_role(self, role: str) -> Institution:
        """The one institution holding ``role``; not for ``school``, which many hold."""
        holders = self.institutions_with_role(role)
        if len(holders) == 1 and role not in self.shared_roles:
            return holders[0]
        raise self._missing("institutions.yaml", msg(
            "config.holders", role=role, found=_listed([i.code for i in holders])))

    def parameter(self, name: str) -> bool | int | str:
        if name not in self.parameters:
            raise self._missing("", msg("config.no_parameter", name=name))
        return self.parameters[name].value

    def _missing(self, file: str, reason: Message) -> ConfigLookupError:
        return ConfigLookupError([Problem(str(Path(self.directory, file)), None, reason)])


_SCHEMAS: dict[str, TypeAdapter[Any]] = dict(zip(FILES, (   # in the order of FILES
    TypeAdapter(Municipality), TypeAdapter(tuple[Institution, ...]),
    TypeAdapter(CooperationGroup), TypeAdapter(dict[ParamName, Parameter]),
    TypeAdapter(_ServicesFile), TypeAdapter(CalendarSettings),
    TypeAdapter(dict[ParamName, Parameter])), strict=True))
_SCHEMAS[PAUSES_FILE] = TypeAdapter(PauseSettings)
_SCHEMAS[IKVD_FILE] = TypeAdapter(IkvdStatuses)
_SCHEMAS[DIRECTORY_FILE] = TypeAdapter(MunicipalityDirectory)


def _listed(items: Collection[str]) -> Collection[str] | Message:
    """A list in a message; ``none`` in words when it is empty."""
    return tuple(items) if items else msg("config.none")


def _reason(error: Any) -> Message:
    """A schema error as ``path: reason`` (``[3].email: ...``), the value refused named."""
    loc, kind, given = tuple(error["loc"]), error["type"], error.get("input")
    if kind in ("extra_forbidden", "missing"):
        loc, message = loc[:-1], msg("config.unknown_key" if kind == "extra_forbidden"
                                     else "config.missing_key", key=loc[-1])
    elif "." in kind:   # our own rule: it names the value
        message = schema_reason(error)
    elif isinstance(given, str | int | float | date):
        message = msg("config.not_given", reason=schema_reason(error), given=given)
    else:
        message = schema_reason(error)
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p!r}" if "." in p else f".{p}"
                   for p in loc)
    return msg("schema.at", path=path.lstrip("."), reason=message) if path else message


def _find(data: Any, path: Loc, at: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """``(loc, value)`` for every string reached by ``path`` in raw YAML; ``"*"`` means every
    list item."""
    if not path:
        yield from [(at, data)] if isinstance(data, str) else ()
    elif path[0] == "*" and isinstance(data, list):
        for i, item in enumerate(data):
            yield from _find(item, path[1:], (*at, i))
    elif isinstance(data, dict) and path[0] in data:
        yield from _find(data[path[0]], path[1:], (*at, path[0]))


class _Loader:
    """Collects every problem; cross-checks read the raw YAML, so they run despite schema errors."""

    def __init__(self, directory: Path, roles: Collection[str], shared: frozenset[str]):
        self.dir, self.roles, self.shared = directory, frozenset(roles), shared
        self.titles = roles if isinstance(roles, Mapping) else {}   # role -> its titles
        self.raw, self.problems = dict[str, Any](), list[Problem]()

    def add(self, file: str, loc: Loc, reason: Message) -> None:
        line = line_for(self.raw.get(file), loc)
        self.problems.append(Problem(str(self.dir / file), line, reason, loc))

    def role(self, code: str) -> Named:
        title = self.titles.get(code)
        return Named(code, title if hasattr(title, "get") else None)

    def institution(self, code: Any) -> Named:
        """An institution named in institutions.yaml, with its name if the file gives one."""
        insts = self.raw.get("institutions.yaml")
        for entry in insts if isinstance(insts, list) else ():
            mine = isinstance(entry, dict) and entry.get("code") == code
            name = entry.get("name") if mine else None
            if isinstance(name, dict) and all(isinstance(name.get(k), str) for k in ("lv", "en")):
                return Named(str(code), LocalizedText.model_construct(lv=name["lv"], en=name["en"]))
        return Named(str(code))

    def load(self, file: str) -> Any:
        if file == "parameters.yaml" and not (self.dir / file).exists():  # optional
            return {}
        if file in (IKVD_FILE, DIRECTORY_FILE) and not (self.dir / file).exists():  # optional
            return False
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

    def unique(self, file: str, path: Loc, duplicate: Callable[[str, int | None], Message]) -> None:
        """Each value at ``path`` once; a second one is the problem ``duplicate(value, first
        line)``."""
        first: dict[str, Loc] = {}
        for loc, value in _find(self.raw.get(file), path):
            if value in first:
                self.add(file, loc, duplicate(value, line_for(self.raw[file], first[value])))
            first.setdefault(value, loc)

    def check_roles(self) -> None:
        insts: Any = self.raw.get("institutions.yaml")
        holder: dict[str, Any] = {}
        known = tuple(sorted(self.roles))
        for loc, role in _find(insts, ("*", "roles", "*")):
            code = insts[loc[0]].get("code")
            if role not in self.roles:
                self.add("institutions.yaml", loc, msg("config.unknown_role_declared", role=role,
                                                       declared=known))
            elif role not in self.shared and holder.get(role, code) != code:
                self.add("institutions.yaml", loc, msg(
                    "config.role_held", role=self.role(role), holder=self.institution(holder[role]),
                    shared=_listed(sorted(self.shared))))
            holder.setdefault(role, code)
        if isinstance(insts, list):   # a workflow may route any declared role: each needs a holder
            for role in sorted(self.roles - set(holder)):
                self.add("institutions.yaml", (), msg("config.no_holder", role=self.role(role)))

    def check_references(self) -> None:
        codes = {code for _, code in _find(self.raw.get("institutions.yaml"), ("*", "code"))}
        for file, path in (("cooperation_group.yaml", ("chair", "institution")),
                           ("cooperation_group.yaml", ("members", "*", "institution")),
                           ("services.yaml", ("services", "*", "provider"))):
            for loc, code in _find(self.raw.get(file), path) if codes else ():
                if code not in codes:
                    self.add(file, loc, msg("config.unknown_institution", code=code))

    def check_core_seats(self) -> None:
        """Each role the law requires in the group is a role some institution holds,
        and that institution has a seat (chair or member)."""
        group, insts = self.raw.get("cooperation_group.yaml"), self.raw.get("institutions.yaml")
        core = group.get("core_roles") if isinstance(group, dict) else None
        roles = core.get("roles") if isinstance(core, dict) else None
        if not isinstance(roles, list) or not isinstance(insts, list):
            return
        seated = {code for _, code in (*_find(group, ("chair", "institution")),
                                       *_find(group, ("members", "*", "institution")))}
        for i, role in enumerate(roles):
            holders = [e.get("code") for e in insts if isinstance(e, dict)
                       and isinstance(e.get("roles"), list) and role in e["roles"]]
            if role not in self.roles:
                self.add("cooperation_group.yaml", ("core_roles", "roles", i),
                         msg("config.unknown_role_declared", role=role,
                             declared=tuple(sorted(self.roles))))
            elif holders and not seated & set(holders):
                self.add("cooperation_group.yaml", ("core_roles", "roles", i),
                         msg("config.group_core_seat", role=self.role(role),
                             institution=self.institution(holders[0])))

    def check_escalation_reasons(self, parameters: dict[str, Parameter]) -> None:
        group = self.raw.get("cooperation_group.yaml")
        reasons = group.get("escalation_reasons") if isinstance(group, dict) else None
        if isinstance(reasons, dict) and reasons:
            for code in EngineReason:
                if code not in reasons:
                    self.add("cooperation_group.yaml", ("escalation_reasons",),
                             msg("config.engine_reason", reason=code.value))
        windows = group.get("repeated_case_windows") if isinstance(group, dict) else None
        for case_type, name in windows.items() if isinstance(windows, dict) else ():
            if isinstance(name, str) and parameters and name not in parameters:
                self.add("cooperation_group.yaml", ("repeated_case_windows", case_type),
                         msg("config.unknown_parameter", name=name))
            elif isinstance(name, str) and parameters and type(parameters[name].value) is not int:
                self.add("cooperation_group.yaml", ("repeated_case_windows", case_type),
                         msg("config.parameter_not_months", name=name,
                             value=parameters[name].value))

    def check_directory(self) -> None:
        """municipalities.yaml: each code once; ``merged_into`` names a municipality that
        is not itself merged; our own municipality is in it."""
        raw = self.raw.get(DIRECTORY_FILE)
        if not isinstance(raw, dict):
            return
        self.unique(DIRECTORY_FILE, ("municipalities", "*", "code"),
                    lambda code, line: msg("config.duplicate_municipality", code=code, line=line))
        entries = [e for e in raw.get("municipalities") or () if isinstance(e, dict)]
        merged = {e.get("code"): e.get("merged_into") for e in entries}
        for loc, target in _find(raw, ("municipalities", "*", "merged_into")):
            if target not in merged:
                self.add(DIRECTORY_FILE, loc, msg("config.merged_into_unknown", code=target))
            elif merged[target] is not None:
                self.add(DIRECTORY_FILE, loc, msg("config.merged_into_merged", code=target,
                                                  successor=merged[target]))
        own = self.raw.get("municipality.yaml")
        code = own.get("code") if isinstance(own, dict) else None
        if isinstance(code, str) and entries and code not in merged:
            self.add(DIRECTORY_FILE, ("municipalities",),
                     msg("config.directory_without_us", code=code))

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
                    self.add(file, (*at, key),
                             msg("config.parameter_twice", name=name, where=owner[name]))
                owner.setdefault(name, f"{self.dir / file}:{line_for(self.raw[file], (*at, key))}")


def load_municipality(directory: Path, *, institution_roles: Collection[str],
                      shared_roles: Collection[str] = ()) -> MunicipalityConfig:
    """Load and cross-check a folder; the roles come from ``workflows/roles.yaml``.

    ``shared_roles`` (e.g. ``school``) may be held by many institutions; every other
    role by exactly one.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError([Problem(str(directory), None, msg("config.no_directory"))])
    ld = _Loader(directory, institution_roles, frozenset(shared_roles))
    loaded = [ld.load(file) for file in FILES]
    municipality, insts, group, thresholds, services, calendar, extra = loaded
    loaded.append(pauses := ld.load(PAUSES_FILE))
    loaded.append(ikvd := ld.load(IKVD_FILE))
    loaded.append(directory_file := ld.load(DIRECTORY_FILE))
    ld.check_directory()
    ld.check_roles()
    ld.unique("institutions.yaml", ("*", "code"),
              lambda code, line: msg("config.duplicate_institution", code=code, line=line))
    ld.unique("services.yaml", ("services", "*", "code"),
              lambda code, line: msg("config.duplicate_service", code=code, line=line))
    ld.check_references()
    unknown = group.unknown_seats.value if group and type(group.unknown_seats.value) is int else 0
    if group and (seats := 1 + len(group.members) + unknown) != group.declared_size:
        ld.add("cooperation_group.yaml", ("declared_size",),
               msg("config.group_size", declared=group.declared_size, seats=seats))
    ld.check_parameter_names()
    ld.check_core_seats()
    ld.check_escalation_reasons({**(thresholds or {}), **(extra or {})})
    if ld.problems or any(value is None for value in loaded):
        raise ConfigError(sorted(ld.problems, key=lambda p: (p.file, p.line or 0)))
    meetings = {f"cooperation_group.{name}": value for name, value in group.meetings.items()}
    return MunicipalityConfig(
        directory=str(directory), municipality=municipality, institutions=insts,
        cooperation_group=group, services=services.services,
        external_resources=services.external_resources, calendar=calendar,
        institution_roles=frozenset(institution_roles), shared_roles=frozenset(shared_roles),
        parameters={**thresholds, **extra, **meetings}, pauses=pauses,
        ikvd_statuses=ikvd or None, directory_of_municipalities=directory_file or None)
