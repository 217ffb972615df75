"""The engine's error hierarchy.

Every error a user can cause is a ``GaitaError`` with structured fields and a
message that names the problem.  Entry points map the classes to exit codes
(CLI) or HTTP statuses (web); the engine knows neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class GaitaError(Exception):
    """Base class: ``str(error)`` is a complete, user-facing message."""


@dataclass(frozen=True)
class Problem:
    """One problem in a declaration or config file, located by file and line."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class InvalidDeclaration(GaitaError):
    """A workflow or configuration file is malformed; lists every problem."""

    def __init__(self, problems: Iterable[Problem]):
        # dict.fromkeys: a problem in a shared YAML anchor is reported once, not per alias
        self.problems: tuple[Problem, ...] = tuple(dict.fromkeys(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class InvalidWorkflowDefinition(InvalidDeclaration):
    """A ``workflows/*.yaml`` file failed validation."""


class ConfigError(InvalidDeclaration):
    """A municipality config file is missing, corrupt or inconsistent."""


class NotFound(GaitaError):
    """Something named by the user does not exist."""


class UnknownCaseType(NotFound):
    def __init__(self, case_type: str, known: Sequence[str]):
        self.case_type = case_type
        self.known = tuple(known)
        super().__init__(
            f"unknown case type {case_type!r}; known types: {', '.join(self.known) or '(none)'}"
        )


class UnknownState(NotFound):
    def __init__(self, case_type: str, state: str, known: Sequence[str]):
        self.case_type, self.state = case_type, state
        listed = f"; states: {', '.join(known)}" if known else ""
        super().__init__(f"{case_type} has no state {state!r}{listed}")


class CaseNotFound(NotFound):
    def __init__(self, reference: str):
        self.reference = reference
        super().__init__(f"no case with reference {reference!r}")


class UserNotFound(NotFound):
    def __init__(self, username: str):
        self.username = username
        super().__init__(f"no user {username!r}")


class NotPermitted(GaitaError):
    """The request is understood but the rules forbid it."""


class UnknownTrigger(NotPermitted):
    def __init__(self, case_type: str, trigger: str, valid: Sequence[str]):
        self.case_type, self.trigger, self.valid = case_type, trigger, tuple(valid)
        super().__init__(
            f"case type {case_type!r} has no trigger {trigger!r}; "
            f"valid now: {', '.join(self.valid) or '(none)'}"
        )


class TransitionNotAllowed(NotPermitted):
    def __init__(self, reference: str, trigger: str, state: str, valid: Sequence[str]):
        self.reference, self.trigger, self.state, self.valid = reference, trigger, state, tuple(valid)
        super().__init__(
            f"trigger {trigger!r} is not valid for case {reference} in state {state!r}; "
            f"valid triggers: {', '.join(self.valid) or '(none: the case is closed)'}"
        )


class PermissionDenied(NotPermitted):
    def __init__(self, message: str):
        super().__init__(message)


class AccessDenied(PermissionDenied):
    """The access policy (``engine.policy``) does not let this user reach the case."""

    def __init__(self, reference: str, reason: str):
        self.reference, self.reason = reference, reason
        super().__init__(f"no access to case {reference}: {reason}")


class FieldError(NotPermitted):
    """A required field is missing or has the wrong type."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"field {field!r}: {reason}")


class GuardFailed(NotPermitted):
    def __init__(self, guard: str, reason: str):
        self.guard, self.reason = guard, reason
        super().__init__(f"guard {guard!r} failed: {reason}")


class InvalidPersonalCode(NotPermitted):
    def __init__(self, code: str, reason: str):
        self.code, self.reason = code, reason
        super().__init__(f"invalid personal code: {reason}")


class InvalidQuery(GaitaError):
    """A list or report was asked for with a parameter it does not take (sort key, risk level)."""

    def __init__(self, parameter: str, value: object, allowed: Sequence[str]):
        self.parameter, self.value, self.allowed = parameter, value, tuple(allowed)
        super().__init__(f"invalid {parameter} {value!r}; allowed: {', '.join(self.allowed)}")


class StaleCase(GaitaError):
    """Optimistic-lock conflict: the case changed since it was read."""

    def __init__(self, reference: str, expected: int, actual: int | None):
        self.reference, self.expected, self.actual = reference, expected, actual
        super().__init__(
            f"case {reference} was changed by someone else (expected version {expected}, "
            f"found {actual}); reload it and try again"
        )


class DatabaseUnavailable(GaitaError):
    def __init__(self, url: str, reason: str):
        self.url, self.reason = url, reason
        super().__init__(f"cannot open database {url}: {reason}")
