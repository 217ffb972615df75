"""Workflow declarations: the schema of ``workflows/*.yaml``, its loader and validator.

A declaration is data.  ``load_workflow`` parses one file strictly (unknown
keys are errors, numbers must be numbers), then checks every name it uses
against what the caller says exists (roles, guards, templates, parameters),
then the graph.  Each stage reports all of its problems together as one
``InvalidWorkflowDefinition`` whose lines read ``file:line: reason``; a later
stage runs only once the earlier one is clean, since it relies on it.

States, triggers and outcome codes exist only here and in the YAML; the rest
of the code reaches them through a loaded ``Workflow``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.errors import InvalidWorkflowDefinition, Message, Named, Problem, UnknownState, msg
from engine.periods import TIME_UNITS, DayKind
from engine.tables import PartyRole
from engine.yamlio import LineDict, YamlError, line_for, load_yaml, validation_problems

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Int = Annotated[int, Strict()]   # `true` is not 1 working day
FieldType = Literal["int", "text", "bool", "date", "choice"]


def _at_least_one_day(value: int | str) -> int | str:
    if isinstance(value, int) and value < 1:
        raise PydanticCustomError("workflow.remind_before_min", "remind_before is at least 1 "
                                  "working day, got {value}", {"value": value})
    return value


#: Working days as a number (at least 1) or as a parameter's name.
DaysOrParam = Annotated[Int | str, AfterValidator(_at_least_one_day)]
RiskLevel = Literal["low", "medium", "high"]
RISK_LEVELS: tuple[str, ...] = get_args(RiskLevel)


class LadderAction(StrEnum):
    """What a step of a state's escalation ladder does (``escalation: [{action}]``)."""

    REMIND_OWNER = "remind_owner"
    NOTIFY_OWNER_HEAD = "notify_owner_head"
    NOTIFY_COORDINATOR = "notify_coordinator"
    QUEUE_COOPERATION_GROUP = "queue_cooperation_group"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A user-visible text: Latvian first, English available."""

    lv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, locale: str) -> str:
        return self.en if locale == "en" else self.lv


class LegalRef(_Strict):
    ref: str = Field(min_length=1)
    title: Text | None = None
    tag: Literal["V", "J", "U"] = "V"


class Deadline(_Strict):
    """Exactly one of: N working days, the same day of a named kind, or a named config
    parameter (counted in the parameter's ``unit``: working days, calendar days or months).

    A deadline counts from the step's start; the opening state's deadline counts from
    the incident (``open_case(incident_at=...)``)."""

    working_days: Int | None = Field(default=None, ge=0)
    same_day: DayKind | None = Field(
        default=None, description="calendar (BTAL 73(1)), school_day (MK 89) or working_day")
    param: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Deadline:
        given = [self.working_days is not None, self.same_day is not None, self.param is not None]
        if sum(given) != 1:
            raise PydanticCustomError("workflow.deadline_kinds", "a deadline needs exactly one of "
                                      "working_days, same_day, param")
        return self

    def describe(self, periods: Mapping[str, str] | None = None) -> str:
        """The deadline in words, for docs and the command line: ``same calendar day``,
        ``5 working days``, ``10 working days (`absences.x_days`)``; ``periods`` gives a
        parameter's value and unit (``10 working days``)."""
        if self.same_day is not None:
            return f"same {self.same_day.removesuffix('_day')} day"
        if self.working_days is not None:
            return f"{self.working_days} working days"
        value = (periods or {}).get(self.param or "")
        return f"{value} (`{self.param}`)" if value is not None else f"`{self.param}`"


class EscalationStep(_Strict):
    after: Int | str = Field(description="working days after the breach, or a parameter name")
    action: LadderAction
    risk: list[RiskLevel] | None = None


class FieldSpec(_Strict):
    type: FieldType
    title: Text
    optional: bool = False
    choices: list[Ident] | None = None
    choice_titles: dict[Ident, Text] | None = Field(
        default=None, description="type choice: each choice's title (the value stored is "
        "the code); required, one per choice")
    min: Int | None = None
    group: Ident = Field(default="case_data",
                         description="the field group (roles.yaml) that sees this field")

    @model_validator(mode="after")
    def _choices_match_type(self) -> FieldSpec:
        if (self.type == "choice") != bool(self.choices):
            raise PydanticCustomError("workflow.choices_type",
                                      "'choices' is required for type choice, and only for it")
        if self.choice_titles is not None and self.type != "choice":
            raise PydanticCustomError("workflow.choice_titles_type",
                                      "'choice_titles' go only with type choice")
        return self

    def choice_title(self, code: str, locale: str) -> str:
        """A choice's title in ``locale``; an unknown code (e.g. recorded under an older
        declaration) as it is."""
        text = (self.choice_titles or {}).get(code)
        return code if text is None else text.get(locale)


class Notification(_Strict):
    to: Ident
    template: Ident


class Report(_Strict):
    """A report the state's owner makes to another institution, beside the state's own
    task (e.g. D2: to the State Police and/or the orphan's court, the same day).

    Filing it (``engine.filings.file_report``) gives the recipient a task of its own,
    with its deadline, acknowledgement, email and escalation ladder; the recipient reads
    the report's ``fields`` and the case's field groups named in ``reads`` through the
    task's link or inbox, and may answer with the ``answer`` fields.  A transition with
    ``requires_reports`` fires only once every required report is filed or waived with
    a reason."""

    code: Ident
    to: Ident = Field(description="the institution role the report goes to")
    title: Text
    roles: list[Ident] = Field(min_length=1, description="user roles that file or waive it")
    template: Ident = Field(description="the email that carries the recipient's task links")
    deadline: Deadline | None = Field(default=None, description="the recipient's deadline, "
                                      "counted from the filing")
    acknowledge_within: Int | str | None = None
    reads: list[Ident] = Field(default_factory=list, description="field groups of the case "
                               "the recipient may read")
    fields: dict[Ident, FieldSpec] = Field(default_factory=dict,
                                           description="what the reporter writes to it")
    answer: dict[Ident, FieldSpec] = Field(default_factory=dict,
                                           description="the recipient's structured answer")
    required: bool = False
    required_when: dict[Ident, list[Ident]] | None = Field(
        default=None, description="required when a case field holds one of these values")
    escalation: list[EscalationStep] | None = Field(
        default=None, description="the recipient's ladder; default: the state's")
    legal_ref: str | None = None

    def required_for(self, data: Mapping[str, Any]) -> bool:
        """Must this report be filed (or waived) before the case moves on?"""
        return self.required or any(
            str(data.get(name)) in values for name, values in (self.required_when or {}).items())


class ResidenceReport(_Strict):
    """``report_to_residence``: the step IS a report to the municipality where a party
    of the case (e.g. the pupil who used violence) has its declared residence
    (MK 474 p. 12).  When that is our municipality, the step's ``notify`` to the
    ``replaces`` role is the report, as declared; when it is another, that
    notification is not sent and the report goes, as the neutral email ``template``,
    to the other municipality's receiving address (``engine.parties``)."""

    party: Ident = Field(description="the party's role (engine.tables.PartyRole)")
    template: Ident = Field(description="the email to another municipality's body")
    replaces: Ident = Field(description="the institution role `notify` tells when the "
                            "residence is ours")


class ReportRule(_Strict):
    """``requires_reports``: every required report of the source state is filed or
    waived, and at least ``at_least`` of them are filed."""

    at_least: Int = Field(default=0, ge=0)


class State(_Strict):
    title: Text
    steps: list[str] = Field(default_factory=list, description="rows of the DOMAIN.md table")
    owner: Ident | None = None
    deadline: Deadline | None = None
    remind_before: DaysOrParam | None = Field(
        default=None, description="working days (or a parameter) before the deadline to "
        "remind the owner")
    acknowledge_within: Int | str | None = Field(
        default=None, description="working days (or a parameter) for the assignee to confirm "
        "receipt; default: the parameter tasks.acknowledge_days")
    legal_ref: str | None = None
    pausable: bool = False
    escalation: list[EscalationStep] = Field(default_factory=list)
    terminal: bool = False
    outcome: Ident | None = None
    note: Text | None = Field(
        default=None, description="what the law asks in this state, {lv, en}: shown beside "
        "the next steps on the case page, the institution's task page and the link page")
    reports: list[Report] = Field(default_factory=list)

    def report(self, code: str) -> Report | None:
        return next((r for r in self.reports if r.code == code), None)


class StartState(_Strict):
    """A later state a case may be opened at instead of ``initial`` (e.g. a school that
    reports an absence already over the threshold): the data that state needs (its
    ``fields``, checked by its ``guards``, as the transition into it would be) and
    whom to tell besides the opening's ``notify``."""

    state: Ident
    title: Text
    fields: dict[Ident, FieldSpec] = Field(default_factory=dict)
    guards: list[Ident] = Field(default_factory=list)
    notify: list[Notification] = Field(default_factory=list)


class Opening(_Strict):
    """Who may open a case of this type, what they must supply, whom to tell; and the
    later states it may be opened at (``start_states``; ``initial`` is the default)."""

    roles: list[Ident] = Field(min_length=1)
    fields: dict[Ident, FieldSpec] = Field(default_factory=dict)
    notify: list[Notification] = Field(default_factory=list)
    start_states: list[StartState] = Field(default_factory=list)

    def start(self, state: str) -> StartState | None:
        return next((s for s in self.start_states if s.state == state), None)


class Transition(_Strict):
    trigger: Ident
    source: list[Ident] = Field(min_length=1)
    dest: Ident
    title: Text
    roles: list[Ident] = Field(min_length=1)
    fields: dict[Ident, FieldSpec] = Field(default_factory=dict)
    guards: list[Ident] = Field(default_factory=list)
    legal_ref: str | None = None
    notify: list[Notification] = Field(default_factory=list)
    # Also queue the case for the cooperation group, with this configured reason
    # (cooperation_group.yaml escalation_reasons), e.g. an MK 474 p. 12 report.
    escalate: Ident | None = None
    note: Text | None = Field(default=None, description="what the law asks of this step, "
                              "{lv, en}; shown with the step")
    requires_reports: ReportRule | None = None
    report_to_residence: ResidenceReport | None = None
    # The statuses reported to IKVD (config ikvd_statuses.yaml) this step may close a
    # case with; the step then takes the field `ikvd_status` (engine.ikvd).
    ikvd_status: list[Ident] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _source_as_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("source"), str):
            data = {**data, "source": [data["source"]]}
        return data


class Workflow(_Strict):
    case_type: Ident
    version: Int = Field(ge=1)
    title: Text
    reference_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,5}$")]
    legal_basis: list[LegalRef] = Field(min_length=1)
    common: dict[str, Any] | None = Field(
        default=None, description="YAML anchors shared by states; ignored by the engine"
    )
    open: Opening
    initial: Ident
    states: dict[Ident, State]
    transitions: list[Transition]

    # -- lookups used by the engine ------------------------------------------------
    def state(self, name: str) -> State:
        try:
            return self.states[name]
        except KeyError:
            raise UnknownState(f"{self.case_type} v{self.version}", name,
                               list(self.states)) from None

    def transitions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if state in t.source]

    def transition(self, state: str, trigger: str) -> Transition | None:
        for t in self.transitions:
            if t.trigger == trigger and state in t.source:
                return t
        return None

    @property
    def triggers(self) -> list[str]:
        return list(dict.fromkeys(t.trigger for t in self.transitions))

    @cached_property
    def acting_roles(self) -> frozenset[str]:
        """The user roles some transition of this workflow names."""
        return frozenset(r for t in self.transitions for r in t.roles)

    @property
    def outcomes(self) -> dict[str, str]:
        """Terminal state -> outcome code."""
        return {n: s.outcome for n, s in self.states.items() if s.terminal and s.outcome}


@dataclass(frozen=True)
class KnownNames:
    """What a declaration may refer to; supplied by the composition root."""

    institution_roles: Collection[str]
    user_roles: Collection[str]
    guards: Collection[str]
    templates: Collection[str] | None = None   # None: templates not checked
    parameters: Collection[str] | None = None  # None: not checked; a Mapping: values checked too
    read_only_roles: Collection[str] = ()      # user roles that may not change a case
    # the fields each guard reads
    guard_fields: Mapping[str, Collection[str]] = field(default_factory=dict)
    escalation_reasons: Collection[str] | None = None   # None: `escalate:` codes not checked
    field_groups: Collection[str] | None = None   # None: fields' `group:` not checked
    # a parameter's unit (engine.periods.Unit); a period must be counted in a unit of time
    parameter_units: Mapping[str, str | None] = field(default_factory=dict)
    ikvd_statuses: Collection[str] | None = None  # None: `ikvd_status:` codes not checked


@dataclass
class _Collector:
    file: str
    raw: Any
    problems: list[Problem] = field(default_factory=list)

    def add(self, loc: tuple[int | str, ...], reason: Message) -> None:
        self.problems.append(Problem(self.file, line_for(self.raw, loc), reason, loc))


def load_workflow(path: Path, known: KnownNames) -> Workflow:
    """Parse and validate one declaration; raise ``InvalidWorkflowDefinition`` listing all
    problems."""
    try:
        raw = load_yaml(path)
    except YamlError as exc:
        raise InvalidWorkflowDefinition([exc.problem]) from None
    return parse_workflow(raw, str(path), known)


def parse_workflow(raw: Any, file: str, known: KnownNames) -> Workflow:
    c = _Collector(file, raw)
    if not isinstance(raw, LineDict):
        raise InvalidWorkflowDefinition([Problem(file, 1, msg("workflow.not_mapping"))])
    try:
        wf = Workflow.model_validate(raw)
    except ValidationError as exc:
        raise InvalidWorkflowDefinition(validation_problems(file, raw, exc)) from None
    _check(wf, c, known)
    if c.problems:
        raise InvalidWorkflowDefinition(c.problems)
    return wf


def _titled(names: Collection[str], code: str) -> Named:
    """``code`` as a declared thing: with its title where ``names`` maps codes to titled specs."""
    spec = names.get(code) if isinstance(names, Mapping) else None
    return Named(code, spec if hasattr(spec, "get") else None)


def _check(wf: Workflow, c: _Collector, known: KnownNames) -> None:
    states = wf.states

    def state(name: str) -> Named:
        return Named(name, states[name].title) if name in states else Named(name)

    def role(name: str) -> Named:
        return _titled(known.institution_roles, name)

    if wf.initial not in states:
        c.add(("initial",), msg("workflow.initial_undeclared", state=wf.initial))

    def check_notify(loc: tuple[int | str, ...], notes: Iterable[Notification]) -> None:
        for i, n in enumerate(notes):
            if n.to not in known.institution_roles:
                c.add((*loc, i, "to"), msg("workflow.unknown_recipient", role=n.to))
            if known.templates is not None and n.template not in known.templates:
                c.add((*loc, i, "template"), msg("workflow.unknown_template", template=n.template))

    def check_user_roles(loc: tuple[int | str, ...], roles: Iterable[str]) -> None:
        for i, r in enumerate(roles):
            if r not in known.user_roles:
                c.add((*loc, i), msg("declaration.unknown_user_role", role=r))
            elif r in known.read_only_roles:
                c.add((*loc, i), msg("workflow.read_only_role", role=_titled(known.user_roles, r)))

    def check_param(loc: tuple[int | str, ...], name: str) -> None:
        if known.parameters is None:
            return
        if name not in known.parameters:
            c.add(loc, msg("workflow.unknown_parameter", name=name))
        elif isinstance(known.parameters, Mapping):
            value = known.parameters[name]
            unit = known.parameter_units.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                c.add(loc, msg("workflow.parameter_not_days", name=name, value=value))
            elif unit is not None and unit not in TIME_UNITS:
                c.add(loc, msg("workflow.parameter_not_period", name=name, unit=unit))

    check_user_roles(("open", "roles"), wf.open.roles)
    check_notify(("open", "notify"), wf.open.notify)
    first = states.get(wf.initial)
    owner = first.owner if first is not None else None
    told = {n.to for n in wf.open.notify}
    if (owner is not None and owner in known.institution_roles
            and told <= set(known.institution_roles) and owner not in told):
        c.add(("open", "notify"), msg("workflow.opening_not_notified", role=role(owner)))

    for name, s in states.items():
        loc: tuple[int | str, ...] = ("states", name)
        if s.terminal:
            if s.deadline is not None:
                c.add((*loc, "deadline"), msg("workflow.terminal_deadline", state=state(name)))
            if s.escalation:
                c.add((*loc, "escalation"), msg("workflow.terminal_escalation", state=state(name)))
            if not s.outcome:
                c.add(loc, msg("workflow.terminal_outcome", state=state(name)))
        else:
            if s.owner is None:
                c.add(loc, msg("workflow.owner_required", state=state(name)))
            if s.outcome:
                c.add((*loc, "outcome"), msg("workflow.outcome_not_terminal", state=state(name)))
        if s.owner is not None and s.owner not in known.institution_roles:
            c.add((*loc, "owner"), msg("workflow.unknown_owner", role=s.owner, state=state(name)))
        if s.remind_before and s.deadline is None:
            c.add((*loc, "remind_before"),
                  msg("workflow.remind_without_deadline", state=state(name)))
        if s.deadline and s.deadline.param:
            check_param((*loc, "deadline", "param"), s.deadline.param)
        if isinstance(s.remind_before, str):
            check_param((*loc, "remind_before"), s.remind_before)
        if isinstance(s.acknowledge_within, str):
            check_param((*loc, "acknowledge_within"), s.acknowledge_within)
        if s.acknowledge_within is not None and s.terminal:
            c.add((*loc, "acknowledge_within"),
                  msg("workflow.terminal_acknowledge", state=state(name)))
        for i, step in enumerate(s.escalation):
            if isinstance(step.after, str):
                check_param((*loc, "escalation", i, "after"), step.after)
        _check_reports(wf, c, known, name, check_param, check_user_roles)

    declared_fields = set(wf.open.fields).union(*(t.fields for t in wf.transitions),
                                                *(s.fields for s in wf.open.start_states))
    _check_start_states(wf, c, known, declared_fields, check_notify)
    report_specs = [((("states", n, "reports", j, part)), specs)
                    for n, s in states.items() for j, r in enumerate(s.reports)
                    for part, specs in (("fields", r.fields), ("answer", r.answer))]
    for loc, specs in [(("open", "fields"), wf.open.fields), *(
            (("transitions", i, "fields"), t.fields) for i, t in enumerate(wf.transitions)), *(
            (("open", "start_states", i, "fields"), s.fields)
            for i, s in enumerate(wf.open.start_states)), *report_specs]:
        for fname, spec in specs.items():
            if known.field_groups is not None and spec.group not in known.field_groups:
                c.add((*loc, fname, "group"),
                      msg("workflow.unknown_field_group", field=Named(fname, spec.title),
                          group=spec.group, groups=tuple(known.field_groups)))
            if spec.choices:
                _check_choice_titles(c, (*loc, fname), Named(fname, spec.title), spec.choices,
                                     spec.choice_titles or {})
    seen: dict[tuple[str, str], int] = {}
    for i, t in enumerate(wf.transitions):
        loc = ("transitions", i)
        trigger = Named(t.trigger, t.title)
        for j, src in enumerate(t.source):
            if src not in states:
                c.add((*loc, "source", j),
                      msg("workflow.unknown_source", trigger=trigger, state=src))
            elif states[src].terminal:
                c.add((*loc, "source", j), msg("workflow.leaves_terminal", trigger=trigger,
                                               state=state(src)))
            key = (src, t.trigger)
            if key in seen:
                c.add((*loc, "trigger"), msg("workflow.duplicate_trigger", trigger=trigger,
                                             state=state(src), other=seen[key] + 1))
            seen.setdefault(key, i)
        if t.dest not in states:
            c.add((*loc, "dest"), msg("workflow.unknown_dest", trigger=trigger, state=t.dest))
        check_user_roles((*loc, "roles"), t.roles)
        for j, g in enumerate(t.guards):
            if g not in known.guards:
                c.add((*loc, "guards", j), msg("workflow.unknown_guard", trigger=trigger, guard=g))
            for name in known.guard_fields.get(g, ()):
                if name not in declared_fields:
                    c.add((*loc, "guards", j), msg("workflow.guard_field", guard=g, field=name))
        check_notify((*loc, "notify"), t.notify)
        # a step from several states waits for the reports of those that declare some
        if t.requires_reports is not None and not any(
                states[src].reports for src in t.source if src in states):
            for src in t.source:
                if src in states:
                    c.add((*loc, "requires_reports"), msg("workflow.requires_no_reports",
                                                          trigger=trigger, state=state(src)))
        if t.report_to_residence is not None:
            _check_residence_report(c, known, loc, trigger, t)
        if (t.escalate is not None and known.escalation_reasons is not None
                and t.escalate not in known.escalation_reasons):
            c.add((*loc, "escalate"), msg("workflow.unknown_escalation_reason", trigger=trigger,
                                          reason=t.escalate,
                                          configured=tuple(sorted(known.escalation_reasons))))
        dest = states.get(t.dest)
        owner = dest.owner if dest is not None else None
        told = {n.to for n in t.notify}
        if (owner is not None and owner in known.institution_roles
                and told <= set(known.institution_roles) and owner not in told):
            # The email to the new owner is what carries the task's action links.
            c.add((*loc, "notify"), msg("workflow.transition_not_notified", trigger=trigger,
                                        role=role(owner)))

    _check_ikvd_status(wf, c, known)
    if c.problems:
        return  # the graph checks below assume valid names
    reachable = _closure({wf.initial, *(s.state for s in wf.open.start_states)},
                         {s: {t.dest for t in wf.transitions_from(s)} for s in states})
    for name in states:
        if name not in reachable:
            c.add(("states", name), msg("workflow.unreachable", state=state(name),
                                        initial=state(wf.initial)))
    back: dict[str, set[str]] = {s: set() for s in states}
    for t in wf.transitions:
        for src in t.source:
            back[t.dest].add(src)
    can_finish = _closure({n for n, s in states.items() if s.terminal}, back)
    for name, s in states.items():
        if not s.terminal and name in reachable and name not in can_finish:
            c.add(("states", name), msg("workflow.no_way_out", state=state(name)))


def _check_reports(wf: Workflow, c: _Collector, known: KnownNames, name: str,
                   check_param: Any, check_user_roles: Any) -> None:
    """A state's ``reports:``: names known, codes unique, conditions on declared fields."""
    s = wf.states[name]
    state = Named(name, s.title)
    fields = {**wf.open.fields, **{k: v for t in wf.transitions for k, v in t.fields.items()}}
    seen: set[str] = set()
    for j, r in enumerate(s.reports):
        loc: tuple[int | str, ...] = ("states", name, "reports", j)
        report = Named(r.code, r.title)
        if s.terminal:
            c.add(loc, msg("workflow.terminal_reports", state=state))
        if r.code in seen:
            c.add((*loc, "code"), msg("workflow.duplicate_report", report=report, state=state))
        seen.add(r.code)
        if r.to not in known.institution_roles:
            c.add((*loc, "to"), msg("workflow.unknown_recipient", role=r.to))
        if known.templates is not None and r.template not in known.templates:
            c.add((*loc, "template"), msg("workflow.unknown_template", template=r.template))
        check_user_roles((*loc, "roles"), r.roles)
        if r.deadline is not None and r.deadline.param:
            check_param((*loc, "deadline", "param"), r.deadline.param)
        if isinstance(r.acknowledge_within, str):
            check_param((*loc, "acknowledge_within"), r.acknowledge_within)
        for i, step in enumerate(r.escalation or ()):
            if isinstance(step.after, str):
                check_param((*loc, "escalation", i, "after"), step.after)
        for i, group in enumerate(r.reads):
            if known.field_groups is not None and group not in known.field_groups:
                c.add((*loc, "reads", i), msg("workflow.unknown_read_group", report=report,
                                              group=group, groups=tuple(known.field_groups)))
        for field_name, values in (r.required_when or {}).items():
            spec = fields.get(field_name)
            if spec is None:
                c.add((*loc, "required_when", field_name),
                      msg("workflow.report_condition_field", report=report, field=field_name))
            elif spec.choices is not None:
                for value in values:
                    if value not in spec.choices:
                        c.add((*loc, "required_when", field_name),
                              msg("workflow.report_condition_value", report=report,
                                  field=Named(field_name, spec.title), value=value,
                                  choices=tuple(spec.choices)))
def _check_residence_report(c: _Collector, known: KnownNames, loc: tuple[int | str, ...],
                            trigger: Named, t: Transition) -> None:
    """``report_to_residence``: a known party role and template; ``replaces`` is a role the
    step's ``notify`` tells."""
    spec = t.report_to_residence
    assert spec is not None
    at = (*loc, "report_to_residence")
    if spec.party not in tuple(PartyRole):
        c.add((*at, "party"), msg("workflow.unknown_party_role", trigger=trigger,
                                  role=spec.party, roles=tuple(PartyRole)))
    if known.templates is not None and spec.template not in known.templates:
        c.add((*at, "template"), msg("workflow.unknown_template", template=spec.template))
    if spec.replaces not in {n.to for n in t.notify}:
        c.add((*at, "replaces"), msg("workflow.residence_not_notified", trigger=trigger,
                                     role=spec.replaces))


def _check_start_states(wf: Workflow, c: _Collector, known: KnownNames,
                        declared_fields: set[str], check_notify: Any) -> None:
    """Each start state is a declared, non-terminal state other than ``initial``, named
    once; its guards are registered and read declared fields; its owner is told."""
    seen: dict[str, int] = {}
    for i, start in enumerate(wf.open.start_states):
        loc: tuple[int | str, ...] = ("open", "start_states", i)
        state = wf.states.get(start.state)
        if state is None:
            c.add((*loc, "state"), msg("workflow.unknown_start_state", state=start.state,
                                       states=tuple(n for n, s in wf.states.items()
                                                    if not s.terminal)))
            continue
        named = Named(start.state, state.title)
        if state.terminal:
            c.add((*loc, "state"), msg("workflow.start_state_terminal", state=named))
        if start.state == wf.initial or start.state in seen:
            c.add((*loc, "state"), msg("workflow.start_state_twice", state=named))
        seen.setdefault(start.state, i)
        for j, g in enumerate(start.guards):
            if g not in known.guards:
                c.add((*loc, "guards", j), msg("workflow.unknown_start_guard", state=named,
                                               guard=g))
            for name in known.guard_fields.get(g, ()):
                if name not in declared_fields:
                    c.add((*loc, "guards", j), msg("workflow.guard_field", guard=g, field=name))
        check_notify((*loc, "notify"), start.notify)
        told = {n.to for n in (*wf.open.notify, *start.notify)}
        if (state.owner is not None and state.owner in known.institution_roles
                and told <= set(known.institution_roles) and state.owner not in told):
            c.add((*loc, "notify"), msg("workflow.opening_not_notified",
                                        role=_titled(known.institution_roles, state.owner)))


def _check_ikvd_status(wf: Workflow, c: _Collector, known: KnownNames) -> None:
    """A workflow whose steps name IKVD statuses closes only with one: every step into a
    terminal state names some; each code is configured, and each configured one closes."""
    naming = [(i, t) for i, t in enumerate(wf.transitions) if t.ikvd_status]
    if not naming:
        return
    configured = known.ikvd_statuses
    for i, t in naming:
        trigger = Named(t.trigger, t.title)
        if "ikvd_status" in t.fields:
            c.add(("transitions", i, "fields", "ikvd_status"),
                  msg("workflow.ikvd_status_field", trigger=trigger))
        for j, code in enumerate(t.ikvd_status or ()):
            if configured is not None and code not in configured:
                c.add(("transitions", i, "ikvd_status", j),
                      msg("workflow.unknown_ikvd_status", trigger=trigger, status=code,
                          configured=tuple(sorted(configured))))
    closing: set[str] = set()
    for i, t in enumerate(wf.transitions):
        dest = wf.states.get(t.dest)
        if dest is not None and dest.terminal:
            if not t.ikvd_status:
                c.add(("transitions", i), msg("workflow.closing_without_ikvd_status",
                                              trigger=Named(t.trigger, t.title)))
            closing.update(t.ikvd_status or ())
    for code in sorted(set(configured or ()) - closing):
        c.add(("transitions",), msg("workflow.ikvd_status_never_closes", status=code))


def _check_choice_titles(c: _Collector, loc: tuple[int | str, ...], field: Named,
                         choices: list[str], titles: Mapping[str, Text]) -> None:
    """Every choice of a field has a title, and every title names a choice."""
    missing = [ch for ch in choices if ch not in titles]
    if missing:
        c.add((*loc, "choice_titles"), msg("workflow.choice_titles_missing", field=field,
                                           choices=tuple(missing)))
    for code in titles:
        if code not in choices:
            c.add((*loc, "choice_titles", code),
                  msg("workflow.choice_title_unknown", field=field, choice=code,
                      choices=tuple(choices)))


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(start), deque(start)
    while todo:
        for nxt in edges.get(todo.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
