"""All workflow declarations of an installation, by case type and version.

``workflows/<type>.yaml`` is the current version of a case type.  Older
published versions stay loadable from ``workflows/history/<type>.v<N>.yaml``
so that cases pinned to them keep working until they are migrated
(``engine.versioning``).  ``workflows/roles.yaml`` declares the roles.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.definitions import KnownNames, Workflow, load_workflow
from engine.errors import (
    InvalidDeclaration,
    InvalidWorkflowDefinition,
    Named,
    Problem,
    UnknownCaseType,
    msg,
    problem,
)
from engine.guards import GUARD_FIELDS, GUARDS
from engine.machine import MachineCache, SharedMachine
from engine.yamlio import load_model

ROLES_FILE = "roles.yaml"
HISTORY_DIR = "history"
#: The two acting subjects that are no declared user role (``engine.policy``): Gaita
#: itself, and a person at the command line who gives no ``--as``.  Reserved names.
SYSTEM_ROLE = "system"
OPERATOR_ROLE = "operator"


class RoleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lv: str
    en: str
    per_case: bool = False
    coordinates: bool = False
    escalation_target: bool = False
    # Which cases a user role reaches (engine.policy).
    scope: Literal["all", "own_tasks", "escalated", "none"] = "all"
    administers: bool = False
    read_only: bool = False
    # A user role that refers cases to the cooperation group by hand, plans its
    # meetings and records its decisions (engine.group).
    group_work: bool = False
    # A user role that plans the cooperation group's meetings and records its decisions.
    chairs: bool = False
    # The field groups this role may see (None: every group not `restricted`).
    sees: tuple[str, ...] | None = None
    # An institution role limited to these case types (None: all).
    case_types: tuple[str, ...] | None = None

    def get(self, locale: str) -> str:
        """The role's title in ``locale``."""
        return self.en if locale == "en" else self.lv


class FieldGroup(BaseModel):
    """A part of what a case shows, granted by role (``engine.policy``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lv: str
    en: str
    restricted: bool = False   # only roles that name it in `sees:` see it

    def get(self, locale: str) -> str:
        return self.en if locale == "en" else self.lv


class _RolesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    field_groups: dict[str, FieldGroup] = Field(min_length=1)
    institution_roles: dict[str, RoleSpec] = Field(min_length=1)
    user_roles: dict[str, RoleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Roles:
    institution_roles: dict[str, RoleSpec]
    user_roles: dict[str, RoleSpec]
    field_groups: dict[str, FieldGroup] = field(default_factory=dict)

    def sees(self, spec: RoleSpec) -> frozenset[str]:
        """The field groups one role spec grants."""
        if spec.sees is not None:
            return frozenset(spec.sees)
        return frozenset(g for g, group in self.field_groups.items() if not group.restricted)

    @cached_property
    def per_case(self) -> frozenset[str]:
        """Institution roles resolved per case (the case's school), not per municipality."""
        return frozenset(r for r, spec in self.institution_roles.items() if spec.per_case)

    @cached_property
    def read_only(self) -> frozenset[str]:
        return frozenset(r for r, spec in self.user_roles.items() if spec.read_only)

    @cached_property
    def coordinating(self) -> str:
        """The institution role that coordinates cases (``coordinates: true``)."""
        return next(r for r, spec in self.institution_roles.items() if spec.coordinates)

    @cached_property
    def group(self) -> str:
        """The cooperation group's institution role (``escalation_target: true``)."""
        return next(r for r, spec in self.institution_roles.items() if spec.escalation_target)

    @cached_property
    def own_tasks_role(self) -> str:
        """The user role an institution acts in through an email link (``scope: own_tasks``)."""
        return next(r for r, spec in self.user_roles.items() if spec.scope == "own_tasks")

    def own_tasks_only(self, user_role: str) -> bool:
        spec = self.user_roles.get(user_role)
        return spec is not None and spec.scope == "own_tasks"

    def administers(self, user_role: str) -> bool:
        spec = self.user_roles.get(user_role)
        return spec is not None and spec.administers



def load_roles(directory: Path) -> Roles:
    path = directory / ROLES_FILE
    parsed, raw = load_model(path, _RolesFile, InvalidWorkflowDefinition)
    per_case = [r for r, spec in parsed.institution_roles.items() if spec.per_case]
    if len(per_case) > 1:   # a case stores one per-case institution (its school)
        raise InvalidWorkflowDefinition([problem(
            str(path), raw.line_of("institution_roles"), "roles.per_case",
            roles=_roles(parsed.institution_roles, per_case))])
    institution, user = parsed.institution_roles, parsed.user_roles
    coordinating = [r for r, spec in institution.items() if spec.coordinates]
    targets = [r for r, spec in institution.items() if spec.escalation_target]
    linked = [r for r, spec in user.items() if spec.scope == "own_tasks"]
    for kind, marked, reason in (
            ("institution_roles", coordinating,
             msg("roles.one_coordinates", roles=_roles(institution, coordinating))),
            ("institution_roles", targets,
             msg("roles.one_escalation_target", roles=_roles(institution, targets))),
            ("user_roles", linked, msg("roles.one_own_tasks", roles=_roles(user, linked)))):
        if len(marked) != 1:
            raise InvalidWorkflowDefinition([Problem(str(path), raw.line_of(kind), reason,
                                                     (kind,))])
    for reserved in (SYSTEM_ROLE, OPERATOR_ROLE):
        if reserved in parsed.user_roles:
            raise InvalidWorkflowDefinition([Problem(
                str(path), raw["user_roles"].line_of(reserved),
                msg("roles.reserved", role=reserved), ("user_roles", reserved))])
    for kind, specs in (("institution_roles", parsed.institution_roles),
                        ("user_roles", parsed.user_roles)):
        for name, spec in specs.items():
            unknown = sorted(set(spec.sees or ()) - set(parsed.field_groups))
            if unknown:
                raise InvalidWorkflowDefinition([Problem(
                    str(path), raw[kind].line_of(name),
                    msg("roles.unknown_field_group", role=Named(name, spec), group=unknown[0],
                        groups=tuple(Named(g, group) for g, group in parsed.field_groups.items())),
                    (kind, name, "sees"))])
    return Roles(parsed.institution_roles, parsed.user_roles, parsed.field_groups)


def _roles(specs: Mapping[str, RoleSpec], codes: list[str]) -> tuple[Named, ...]:
    """Roles as a message names them, with their titles."""
    return tuple(Named(r, specs[r]) for r in codes)


@dataclass
class WorkflowRegistry:
    roles: Roles
    current: dict[str, Workflow] = field(default_factory=dict)
    versions: dict[tuple[str, int], Workflow] = field(default_factory=dict)
    machines: MachineCache = field(default_factory=lambda: MachineCache(GUARDS))

    @property
    def case_types(self) -> list[str]:
        return sorted(self.current)

    def latest(self, case_type: str) -> Workflow:
        try:
            return self.current[case_type]
        except KeyError:
            raise UnknownCaseType(case_type, self.case_types) from None

    def get(self, case_type: str, version: int) -> Workflow:
        try:
            return self.versions[(case_type, version)]
        except KeyError:
            self.latest(case_type)  # raises UnknownCaseType for an unknown type
            raise UnknownCaseType(f"{case_type} v{version}", [
                f"{t} v{v}" for t, v in sorted(self.versions)]) from None

    def machine(self, workflow: Workflow) -> SharedMachine:
        return self.machines.get(workflow)


def known_names(roles: Roles, templates: Collection[str] | None = None,
                parameters: Collection[str] | Mapping[str, object] | None = None,
                escalation_reasons: Collection[str] | None = None,
                parameter_units: Mapping[str, str | None] | None = None,
                ikvd_statuses: Collection[str] | None = None) -> KnownNames:
    """What declarations may name: these roles, the registered guards, and the given
    templates, municipality parameters (with their units) and escalation reasons
    (``None``: not checked)."""
    return KnownNames(roles.institution_roles, roles.user_roles, GUARDS, templates, parameters,
                      read_only_roles=roles.read_only, guard_fields=GUARD_FIELDS,
                      escalation_reasons=escalation_reasons,
                      field_groups=tuple(roles.field_groups),
                      parameter_units=parameter_units or {}, ikvd_statuses=ikvd_statuses)


def workflow_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.glob("*.yaml") if p.name != ROLES_FILE)
    return files + sorted((directory / HISTORY_DIR).glob("*.yaml"))


def load_registry(
    directory: Path,
    *,
    templates: Collection[str] | None = None,
    parameters: Collection[str] | Mapping[str, object] | None = None,
    parameter_units: Mapping[str, str | None] | None = None,
    ikvd_statuses: Collection[str] | None = None,
) -> WorkflowRegistry:
    """Load and validate every declaration; one error listing all problems of all files."""
    roles = load_roles(directory)
    known = known_names(roles, templates, parameters, parameter_units=parameter_units,
                        ikvd_statuses=ikvd_statuses)
    registry = WorkflowRegistry(roles)
    problems: list[Problem] = []
    for path in workflow_files(directory):
        try:
            wf = load_workflow(path, known)
        except InvalidDeclaration as exc:
            problems.extend(exc.problems)
            continue
        key = (wf.case_type, wf.version)
        if key in registry.versions:
            problems.append(problem(str(path), 1, "registry.declared_twice", case_type=wf.case_type,
                                    version=wf.version))
            continue
        registry.versions[key] = wf
        if path.parent == directory:
            if path.stem != wf.case_type:
                problems.append(problem(str(path), 1, "registry.file_name", case_type=wf.case_type))
            registry.current[wf.case_type] = wf
    for case_type, version in registry.versions:
        cur = registry.current.get(case_type)
        if cur is None:
            problems.append(problem(str(directory), None, "registry.no_current",
                                    case_type=case_type, version=version))
        elif version > cur.version:
            problems.append(problem(str(directory), None, "registry.history_newer",
                                    case_type=case_type, version=version, current=cur.version))
    if problems:
        raise InvalidWorkflowDefinition(problems)
    return registry
